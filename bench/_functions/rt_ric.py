"""The same trivial answers for AWS's Python runtime client (awslambdaric): a sweep answer for
the workflow event, and the payload-2.0 HTTP response of ``/ping`` for an HTTP event."""

import json


def handler(event, context):  # type: ignore[no-untyped-def]
    if event.get("relaykit") == "sweep":
        return {"swept": 0}
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "body": json.dumps({"ok": True}),
    }

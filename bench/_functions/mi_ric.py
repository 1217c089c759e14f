"""The I/O-bound handler for AWS's process-per-slot model (run by awslambdaric)."""

import json
import os
import time


def handler(event, context):  # type: ignore[no-untyped-def]
    time.sleep(1.0)  # a model call with 1 s latency
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "body": json.dumps({"pid": os.getpid()}),
    }

"""Handlers run by AWS's own Python runtime client (awslambdaric) inside the emulator."""

import json
import os
import time

# A slow import (a heavy SDK), for the init-phase tests.
time.sleep(float(os.environ.get("PYHANDLERS_IMPORT_DELAY", "0")))


def echo(event, context):
    print(f"echo handling {context.aws_request_id}")
    return {
        "event": event,
        "request_id": context.aws_request_id,
        "function_arn": context.invoked_function_arn,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "pid": os.getpid(),
        "trace_id": os.environ.get("_X_AMZN_TRACE_ID"),
        "client_custom": context.client_context.custom if context.client_context else None,
        "env": {k: os.environ.get(k) for k in (
            "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_VERSION",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_REGION", "TZ", "_HANDLER",
        )},
    }


def fail(event, context):
    raise ValueError(f"bad input: {event!r}")


def sleepy(event, context):
    if event.get("sleep"):
        print("going to sleep", flush=True)
        time.sleep(float(event["sleep"]))
    return {"pid": os.getpid()}


def http(event, context):
    """A Function URL handler: echoes the request it saw as payload-2.0."""
    if event.get("rawPath") == "/plain":
        return {"plain": True, "path": event["rawPath"]}
    if event.get("rawPath") == "/boom":
        raise RuntimeError("boom")
    return {
        "statusCode": 201,
        "headers": {
            "Content-Type": "application/json",
            "X-Seen-Method": event["requestContext"]["http"]["method"],
        },
        "cookies": ["a=1; Path=/", "b=2"],
        "body": json.dumps(event),
    }


def count_and_fail(event, context):
    """Appends its request id to ``event["log"]`` and fails, so async retries can be counted."""
    with open(event["log"], "a") as log:
        log.write(context.aws_request_id + "\n")
    raise RuntimeError("always fails")


def exit_now(event, context):
    """Leaves the process without answering, as a crash would."""
    os._exit(3)

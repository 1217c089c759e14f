"""The local Lambda emulator from Python: the quickstart app on relaykit's runtime, three ways.

Run it: ``python examples/emulator_usage.py`` (from the repository root). It starts one emulated
function (a real worker subprocess behind the Runtime API), invokes it from async code, then from
sync code with boto3 and httpx, and stops every worker on the way out. Any runtime works as the
worker command, e.g. ``[sys.executable, "-m", "awslambdaric", "app.handler"]`` for AWS's own.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import boto3
import httpx

from relaykit.local.emulator import Emulator, FunctionConfig

EXAMPLES = str(Path(__file__).resolve().parent)

# [docs:config]
quickstart = FunctionConfig(
    name="quickstart",
    command=[sys.executable, "-m", "relaykit.lambda_runtime", "quickstart:app"],  # the argv
    env={"PYTHONPATH": EXAMPLES, "RELAYKIT_LOCAL_MODEL_DELAY": "0"},
    handler="quickstart:app",  # becomes _HANDLER
    task_root=EXAMPLES,  # becomes LAMBDA_TASK_ROOT, and the worker's cwd by default
    timeout=10.0,  # seconds; may be far below Lambda's 1 s-900 s range
    memory_mb=128,
    invoke_mode="RESPONSE_STREAM",  # the Function URL's InvokeMode (or "BUFFERED")
    concurrency=10,  # at most this many execution environments
)
# [/docs:config]

URL_EVENT = {
    "version": "2.0",
    "rawPath": "/ask",
    "rawQueryString": "",
    "headers": {"content-type": "application/json"},
    "requestContext": {
        "domainName": "abc.lambda-url.us-east-1.on.aws",
        "http": {"method": "POST", "path": "/ask", "sourceIp": "127.0.0.1"},
    },
    "body": json.dumps({"question": "Why?"}),
    "isBase64Encoded": False,
}


# [docs:async]
async def from_async_code() -> None:
    async with Emulator([quickstart], retry_delay_scale=0.001) as emu:
        # A Function URL event: relaykit's runtime streams it; payload is the whole stream.
        result = await emu.invoke("quickstart", json.dumps(URL_EVENT).encode())
        print("invoke:", result.ok, result.payload[:60], "cold start ms:", result.init_duration_ms)

        invocation = emu.start_invocation("quickstart", json.dumps(URL_EVENT).encode())
        async for chunk in invocation.stream():  # raw bytes as the runtime sends them
            print("chunk:", chunk[:60])
        result = await invocation.result()
        print("log tail:", result.log_tail.splitlines()[-1][:60])


# [/docs:async]


# [docs:sync]
def from_sync_code() -> None:
    # The event loop runs in a background thread for the duration of the block.
    with Emulator([quickstart]).running() as emu:
        lam: Any = boto3.client(
            "lambda",
            endpoint_url=emu.invoke_url,  # or set AWS_ENDPOINT_URL_LAMBDA
            region_name="us-east-1",
            aws_access_key_id="x",
            aws_secret_access_key="x",
        )
        response = lam.invoke(FunctionName="quickstart", Payload=json.dumps(URL_EVENT))
        print("boto3:", response["StatusCode"], response["Payload"].read()[:60])

        url = emu.function_url("quickstart")
        print("URL:", httpx.post(f"{url}/ask", json={"question": "Hi"}, timeout=30).json())
        with httpx.stream("POST", f"{url}/chat", json={"question": "Hi"}, timeout=30) as chat:
            for line in chat.iter_lines():  # SSE lines, as the worker produces them
                if line.startswith("data: "):
                    print("token:", line.removeprefix("data: "))


# [/docs:sync]


if __name__ == "__main__":
    asyncio.run(from_async_code())
    from_sync_code()

"""A pure-Python AWS Lambda runtime with response streaming: ``python -m relaykit.lambda_runtime``.

Usable as the ``bootstrap`` of a custom runtime (``provided.al2023``), from the managed Python
runtime through ``AWS_LAMBDA_EXEC_WRAPPER``, and as a container image entry point whenever
``AWS_LAMBDA_RUNTIME_API`` is set. See docs/lambda-runtime.md.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Sequence

from relaykit.lambda_runtime.client import RuntimeClient, RuntimeGone

USAGE = "usage: python -m relaykit.lambda_runtime MODULE:APP  (or set _HANDLER)"


def _app_reference(argv: Sequence[str]) -> str | None:
    args = [arg for arg in argv if not arg.startswith("-")]
    return args[0] if args else os.environ.get("_HANDLER")


async def _main(ref: str, address: str) -> int:
    from relaykit.lambda_runtime.loop import Runtime, print_init_failure
    from relaykit.targets.loading import load_lambda_handler

    try:
        handler = load_lambda_handler(ref)
    except Exception as exc:
        print_init_failure(exc)
        client = RuntimeClient(address)
        body = {"errorMessage": str(exc), "errorType": type(exc).__name__, "stackTrace": []}
        await client.init_error("Runtime.ImportModuleError", body)
        await client.aclose()
        return 1
    runtime = Runtime(handler, address)
    if not await runtime.init():
        return 1
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    serving = asyncio.create_task(runtime.serve())
    stopping = asyncio.create_task(stop.wait())
    try:
        done, _ = await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if serving in done:
            serving.result()
        return 0
    except RuntimeGone:
        return 2
    finally:
        serving.cancel()
        stopping.cancel()
        await runtime.aclose()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the runtime loop until SIGTERM or a fatal Runtime API error."""
    address = os.environ.get("AWS_LAMBDA_RUNTIME_API")
    ref = _app_reference(sys.argv[1:] if argv is None else argv)
    if not address or not ref:
        print(f"{USAGE}; AWS_LAMBDA_RUNTIME_API must be set", file=sys.stderr)
        return 2
    return asyncio.run(_main(ref, address))

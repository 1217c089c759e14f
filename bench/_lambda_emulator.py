"""Helper of bench/lambda_runtime_stream.py (not a benchmark): the local Lambda emulator in its
own process, so that it does not share a GIL with the load generator.

Runs four functions on one emulator: ``stream`` (relaykit's runtime, Function URL in
RESPONSE_STREAM mode), ``relaykit`` (relaykit's runtime, buffered), ``ric_app`` (awslambdaric
serving the same app through ``app.lambda_handler``) and ``ric`` (awslambdaric, a plain function).
Prints one JSON line with the Invoke API and Function URL addresses, then runs until SIGTERM or
SIGINT, and stops every worker.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from relaykit.local.emulator import Emulator, FunctionConfig

FUNCTIONS = Path(__file__).resolve().parent / "_functions"


def configs() -> list[FunctionConfig]:
    env = {"PYTHONPATH": str(FUNCTIONS), "PYTHONUNBUFFERED": "1"}
    relaykit = [sys.executable, "-m", "relaykit.lambda_runtime", "rt_relaykit:app"]
    common = {"task_root": str(FUNCTIONS), "timeout": 120.0, "concurrency": 1}
    return [
        FunctionConfig(
            name="stream",
            command=relaykit,
            handler="rt_relaykit:app",
            env=env,
            invoke_mode="RESPONSE_STREAM",
            **common,  # type: ignore[arg-type]
        ),
        FunctionConfig(
            name="relaykit",
            command=relaykit,
            handler="rt_relaykit:app",
            env={**env, "RELAYKIT_LAMBDA_RESPONSE_MODE": "buffered"},
            **common,  # type: ignore[arg-type]
        ),
        FunctionConfig(
            name="ric_app",
            command=[sys.executable, "-m", "awslambdaric", "rt_relaykit.handler"],
            handler="rt_relaykit.handler",
            env=env,
            **common,  # type: ignore[arg-type]
        ),
        FunctionConfig(
            name="ric",
            command=[sys.executable, "-m", "awslambdaric", "rt_ric.handler"],
            handler="rt_ric.handler",
            env=env,
            **common,  # type: ignore[arg-type]
        ),
    ]


def main() -> None:
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with Emulator(configs()).running() as emu:
        urls = {name: emu.function_url(name) for name in ("stream", "relaykit", "ric_app", "ric")}
        print(json.dumps({"invoke": emu.invoke_url, "urls": urls}), flush=True)
        while not stop.wait(0.5):
            pass


if __name__ == "__main__":
    main()

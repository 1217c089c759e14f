"""Helper of bench/sse_load.py (not a benchmark): the local Lambda emulator in its own process.

``python bench/_sse_emulator.py --concurrency N --timeout S`` runs two functions, each with a
Function URL in RESPONSE_STREAM mode and ``concurrency`` execution environments (one invocation
at a time each, as on Lambda): ``relaykit`` (relaykit's runtime,
``python -m relaykit.lambda_runtime sse_relaykit:app``) and ``bare`` (``sse_bare_runtime.py``, a
streaming function on the raw Runtime API). Prints one JSON line with both URLs, then runs until
SIGTERM or SIGINT and stops every worker. The init limit is raised to 300 s: the benchmark
cold-starts every environment at once on 2 cores, which takes longer than Lambda's 10 s.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from relaykit.local.emulator import Emulator, FunctionConfig

FUNCTIONS = Path(__file__).resolve().parent / "_functions"
COMMANDS = {
    "relaykit": (
        [sys.executable, "-m", "relaykit.lambda_runtime", "sse_relaykit:app"],
        "sse_relaykit:app",
    ),
    "bare": ([sys.executable, str(FUNCTIONS / "sse_bare_runtime.py")], "sse_bare_runtime.main"),
}


def configs(concurrency: int, timeout: float) -> list[FunctionConfig]:
    env = {"PYTHONPATH": str(FUNCTIONS), "PYTHONUNBUFFERED": "1"}
    return [
        FunctionConfig(
            name=name,
            command=command,
            handler=handler,
            env=env,
            invoke_mode="RESPONSE_STREAM",
            task_root=str(FUNCTIONS),
            timeout=timeout,
            init_timeout=300.0,
            memory_mb=512,
            concurrency=concurrency,
        )
        for name, (command, handler) in COMMANDS.items()
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--concurrency", type=int, required=True)
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args()
    if sys.platform.startswith("linux"):  # SIGTERM us if the benchmark dies without stopping us
        ctypes.CDLL(None).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with Emulator(configs(args.concurrency, args.timeout)).running() as emu:
        urls = {name: emu.function_url(name) for name in COMMANDS}
        print(json.dumps({"urls": urls}), flush=True)
        while not stop.wait(0.5):
            pass


if __name__ == "__main__":
    main()

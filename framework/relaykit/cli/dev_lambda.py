"""``relaykit dev --lambda``: the app under the local Lambda emulator, behind a Function URL.

The app runs the way it runs on Lambda: ``python -m relaykit.lambda_runtime REF`` as a worker
subprocess of :mod:`relaykit.local.emulator`, which speaks the Runtime API to it, SIGKILLs it at
the function timeout and reuses it warm. In front: a Function URL (BUFFERED by default, with the
app's ``lambda_response_mode`` set to ``buffered``; RESPONSE_STREAM with ``--stream``) and the
Invoke API for boto3. Everything binds 127.0.0.1; Ctrl-C or SIGTERM stops every worker.
"""

from __future__ import annotations

import os
import re
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from relaykit.cli.loader import load_lambda_target
from relaykit.local.emulator import Emulator, FunctionConfig, stderr_log_sink

if TYPE_CHECKING:
    from relaykit.app import App

WORKER_MODULE = "relaykit.lambda_runtime"


def function_name(app_name: str) -> str:
    """The app's name as a Lambda function name (letters, digits, ``-`` and ``_``)."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", app_name).strip("-")[:64] or "relaykit"


def worker_ref(ref: str) -> str:
    """``ref`` as the worker (whose cwd is this folder) loads it: file paths made absolute."""
    target, sep, attr = ref.strip().rpartition(":")
    if not sep or (len(target) == 1 and target.isalpha()):
        target, sep, attr = ref.strip(), "", ""
    if target.endswith(".py") or "/" in target:
        target = str(Path(target).resolve())
    return f"{target}{sep}{attr}"


def function_config(ref: str, name: str, *, timeout: float, stream: bool) -> FunctionConfig:
    """The emulated function that runs ``ref`` with relaykit's Lambda runtime."""
    cwd = str(Path.cwd())
    python_path = os.pathsep.join(p for p in (cwd, os.environ.get("PYTHONPATH", "")) if p)
    env = {"PYTHONPATH": python_path, "PYTHONUNBUFFERED": "1"}
    if not stream:
        env["RELAYKIT_LAMBDA_RESPONSE_MODE"] = "buffered"
    target = worker_ref(ref)
    return FunctionConfig(
        name=name,
        command=[sys.executable, "-m", WORKER_MODULE, target],
        env=env,
        handler=target,
        task_root=cwd,
        timeout=timeout,
        invoke_mode="RESPONSE_STREAM" if stream else "BUFFERED",
    )


def dev_lambda(
    ref: str, *, timeout: float, stream: bool, host: str = "127.0.0.1", port: int = 8000
) -> int:
    """Run ``ref`` under the emulator until Ctrl-C or SIGTERM; print where to call it.

    The Function URL listens on 127.0.0.1:``port`` (0 picks a free port), the Invoke API on a
    free loopback port. Returns the exit status.
    """
    os.environ.setdefault("RELAYKIT_LOG_FORMAT", "text")
    app = load_lambda_target(ref)  # fail here, with a clear message, before any worker starts
    name = function_name(app.name)
    config = function_config(ref, name, timeout=timeout, stream=stream)
    if host not in ("127.0.0.1", "localhost"):
        print(
            f"relaykit dev --lambda: the emulator binds 127.0.0.1 only; --host {host} is ignored",
            file=sys.stderr,
        )
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    emulator = Emulator([config], log_sink=stderr_log_sink(), url_ports={name: port})
    try:
        with emulator.running() as emu:
            print(_banner(app, emu, name, timeout=timeout, stream=stream), file=sys.stderr)
            sys.stderr.flush()
            while not stop.wait(0.5):
                pass
            print("relaykit dev --lambda: stopping", file=sys.stderr, flush=True)
    except OSError as exc:
        print(
            f"relaykit dev --lambda: cannot listen on 127.0.0.1:{port} ({exc.strerror or exc}); "
            "pick another port with --port, or --port 0 for a free one",
            file=sys.stderr,
        )
        return 2
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


def _banner(app: App, emu: Emulator, name: str, *, timeout: float, stream: bool) -> str:
    base = emu.function_url(name)
    mode = "RESPONSE_STREAM" if stream else "BUFFERED"
    lines = [
        f"relaykit dev --lambda: app {app.name!r} as function {name!r} "
        f"(timeout {timeout:g} s, Function URL InvokeMode {mode})",
        f"  function URL:  {base}",
        f"  invoke API:    {emu.invoke_url}  (boto3 endpoint_url, or AWS_ENDPOINT_URL_LAMBDA)",
    ]
    for spec in app.handlers:
        lines.append(f"  {spec.kind:<7}  POST {base}{spec.path}")
    lines.append("Ctrl-C stops the emulator and its workers.")
    return "\n".join(lines)

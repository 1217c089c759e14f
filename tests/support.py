"""Test support: free loopback ports, real ``relaykit serve`` subprocesses, waiting on files."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

SENTINEL_KEY = "sk-ant-sentinel-0f3c9a7e-NEVER-PRINTED"
"""A secret the tests hand to relaykit as an API key (Anthropic, the auth tests' keys, the storm
run's workers). ``tests/conftest.py`` fails any test whose captured stdout, stderr or log
contains it: relaykit must never print a key, whatever the path."""

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A ``relaykit serve`` subprocess on a loopback port."""

    process: subprocess.Popen[bytes]
    url: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_server(app_ref: str, tmp: Path, env: dict[str, str] | None = None) -> Server:
    port = free_port()
    log_path = tmp / f"server-{port}.log"
    full_env = {**os.environ, "PYTHONPATH": str(ROOT / "tests" / "apps"), **(env or {})}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                str(BIN / "relaykit"),
                "serve",
                app_ref,
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=full_env,
            cwd=tmp,
        )
    server = Server(process, f"http://127.0.0.1:{port}", log_path)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{server.log()}")
        try:
            if httpx.get(f"{server.url}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.05)
    stop_server(server)
    raise RuntimeError(f"server did not become healthy:\n{server.log()}")


def stop_server(server: Server) -> None:
    if server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()


def wait_for_file(path: Path, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            return True
        time.sleep(0.02)
    return False


def wait_for_text(read: Callable[[], str], needle: str, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if needle in read():
            return True
        time.sleep(0.02)
    return False

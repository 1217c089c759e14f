"""Shared helpers of the benchmark scripts: servers in subprocesses, statistics, tables, machine.

Not a benchmark itself: ``bench/run.py`` skips every file whose name starts with ``_``.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from types import FrameType

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
HOST = "127.0.0.1"
PACKAGES = ("relaykit", "fastapi", "starlette", "pydantic", "pydantic-core", "uvicorn", "h11")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# Processes ------------------------------------------------------------------------------------


def free_port() -> int:
    """A free TCP port on the loopback interface (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def exit_on_sigterm() -> None:
    """Turn SIGTERM into ``SystemExit`` so ``finally`` blocks stop the servers we started."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)


def stop_process(proc: subprocess.Popen[bytes], grace: float = 5.0) -> None:
    """Stop ``proc`` (SIGINT, then SIGKILL after ``grace`` seconds) and reap it."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _healthy(port: int, path: str) -> bool:
    conn = http.client.HTTPConnection(HOST, port, timeout=1.0)
    try:
        conn.request("GET", path)
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


@contextlib.contextmanager
def server(
    args: Sequence[str], port: int, *, health: str = "/healthz", timeout: float = 30.0
) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``python ARGS`` (a server on ``port``), wait for ``health`` to answer, stop it after.

    The server is stopped on every exit path: normal end, exception, Ctrl-C or SIGTERM (with
    ``exit_on_sigterm``). Its stdout is discarded; stderr passes through so failures show.
    """
    proc = subprocess.Popen(
        [sys.executable, *args], cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + timeout
        while not _healthy(port, health):
            if proc.poll() is not None:
                raise RuntimeError(f"server {' '.join(args)} exited with {proc.returncode}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"server {' '.join(args)} not ready after {timeout:.0f} s")
            time.sleep(0.05)
        yield proc
    finally:
        stop_process(proc)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used so far by process ``pid`` (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def memory_kib(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of process ``pid`` in KiB (Linux ``/proc``); (0, 0) once it has exited."""
    rss = hwm = 0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1])
    except (OSError, ValueError):
        pass
    return rss, hwm


def sched_seconds(pid: int) -> tuple[float, float]:
    """(seconds on a CPU, seconds runnable but waiting for one) of process ``pid``, summed over
    its threads (``/proc/PID/task/*/schedstat``: nanoseconds, not clock ticks); (0, 0) once it
    has exited. A server that is busy + waiting for the whole wall time wanted a whole core."""
    run = wait = 0
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError, ValueError):
                fields = (task / "schedstat").read_text().split()
                run, wait = run + int(fields[0]), wait + int(fields[1])
    except OSError:
        pass
    return run / 1e9, wait / 1e9


def child_pids(pid: int) -> list[int]:
    """The live direct children of process ``pid`` (by scanning ``/proc``)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def command_line(pid: int) -> str:
    """The argv of process ``pid`` joined by spaces ("" once it has exited)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""


# Statistics and output ------------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(sorted_values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of an already sorted sequence."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), round(pct / 100 * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


@dataclass(frozen=True)
class Column:
    title: str
    width: int = 12


def table(columns: Sequence[Column], rows: Sequence[Sequence[str]]) -> str:
    """A plain-text table: the first column left-aligned, the others right-aligned."""
    lines = []
    for cells in [[c.title for c in columns], *rows]:
        parts = [
            cell.ljust(col.width) if i == 0 else cell.rjust(col.width)
            for i, (cell, col) in enumerate(zip(cells, columns, strict=True))
        ]
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines)


def verdict(ok: bool) -> str:
    return "meets goal" if ok else "BELOW GOAL"


# Machine ------------------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def versions() -> dict[str, str]:
    found = {}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def load_line() -> str:
    return "load average after: " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def machine_line() -> str:
    """One line naming the machine, for the top of every benchmark's output."""
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    packages = ", ".join(f"{k} {v}" for k, v in versions().items())
    return (
        f"machine: {os.cpu_count()} cpus ({cpu_model()}), Python {platform.python_version()}, "
        f"load {load}\npackages: {packages}"
    )

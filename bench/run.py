"""Run the benchmarks: ``make bench`` (or ``python bench/run.py [--only NAME] [--list]``).

A benchmark is any ``bench/*.py`` file whose name does not start with ``_``, other than this
runner: ``http_task.py``, ``import_time.py``, and whatever is added next. Files starting with
``_`` are helpers (servers, the load generator, shared code) and are never run directly. Each
benchmark runs as ``python bench/NAME.py`` with no arguments, from the repository root, in its
own subprocess and process group, its output passed through as it comes, with a time limit
(``--timeout``, default 600 s; on expiry the whole group gets SIGTERM, then SIGKILL). The runner
prints a summary and exits 1 if any benchmark failed (non-zero exit or time limit), 2 if
``--only`` names no benchmark. A benchmark exits non-zero when it could not measure; a figure
below its goal is printed, not failed, unless the benchmark's own ``--strict`` is used.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
RUNNER = Path(__file__).resolve().name
GRACE_SECONDS = 10.0


def discover() -> list[Path]:
    """Every benchmark script, by name: ``bench/*.py`` minus helpers (``_*``) and the runner."""
    return sorted(
        path
        for path in BENCH_DIR.glob("*.py")
        if not path.name.startswith("_") and path.name != RUNNER
    )


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the benchmark's group (it stops its servers), then SIGKILL whatever is left."""
    _signal_group(proc, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=GRACE_SECONDS)
    _signal_group(proc, signal.SIGKILL)
    proc.wait()


def run_one(script: Path, timeout: float) -> tuple[str, float]:
    """Run one benchmark in its own process group; its status and duration in seconds."""
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, str(script)], cwd=REPO_ROOT, start_new_session=True)
    try:
        code = proc.wait(timeout=timeout)
        status = "ok" if code == 0 else f"failed (exit {code})"
    except subprocess.TimeoutExpired:
        status = f"failed (over the {timeout:g} s limit)"
    finally:
        # On the time limit and on Ctrl-C (the benchmark has its own session, so the terminal's
        # SIGINT does not reach it): stop it and the servers it started.
        if proc.poll() is None:
            _stop_group(proc)
    return status, time.monotonic() - started


def select(scripts: list[Path], only: Sequence[str]) -> list[Path]:
    wanted = {name.removesuffix(".py") for name in only}
    return [path for path in scripts if path.stem in wanted]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="bench/run.py", description="Run relaykit's benchmarks and print their ratios."
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAME",
        help="run only this benchmark (e.g. http_task); repeatable",
    )
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    parser.add_argument(
        "--timeout", type=float, default=600.0, help="seconds allowed per benchmark (default 600)"
    )
    args = parser.parse_args(argv)
    scripts = discover()
    if args.list:
        print("\n".join(path.stem for path in scripts))
        return 0
    if args.only:
        chosen = select(scripts, args.only)
        if len(chosen) != len(set(args.only)):
            known = ", ".join(path.stem for path in scripts) or "none"
            print(
                f"bench/run.py: --only {' '.join(args.only)}: known benchmarks: {known}",
                file=sys.stderr,
            )
            return 2
        scripts = chosen
    results: list[tuple[str, str, float]] = []
    for script in scripts:
        print(f"\n=== {script.stem} ({script.relative_to(REPO_ROOT)}) ===", flush=True)
        try:
            status, seconds = run_one(script, args.timeout)
        except KeyboardInterrupt:
            results.append((script.stem, "failed (interrupted)", 0.0))
            break
        results.append((script.stem, status, seconds))
    print("\n=== summary ===")
    for name, status, seconds in results:
        print(f"{name:<24} {status:<36} {seconds:7.1f} s")
    return 1 if any(status != "ok" for _, status, _ in results) else 0


if __name__ == "__main__":
    sys.exit(main())

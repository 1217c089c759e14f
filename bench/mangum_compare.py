"""An existing FastAPI app on relaykit against the same app under plain Mangum: per-invoke
overhead and cold start, reported as ratios (goal: <= 1.0x both).

Run: ``.venv/bin/python bench/mangum_compare.py [--n 2000] [--runs 7] [--cold-runs 21]
[--emu-invokes 200] [--emu-runs 5] [--emu-cold-runs 15] [--only SECTION] [--strict]``.

The app is ``examples/from_lwa/main.py``: a FastAPI service with no relaykit code in it. Every
variant answers the same API Gateway HTTP API v2 event, ``POST /title`` with a small JSON body
(validated by a pydantic model, answered as JSON); the answer is checked.

1. ``warm``: the managed Python runtime's way, in process: ``handler(event, context)`` for
   ``Mangum(api)`` (plain Mangum, what ``handler = Mangum(api)`` gives: ``lifespan="auto"``),
   ``Mangum(api, lifespan="off")``, ``relaykit.asgi_lambda_handler(api)`` with its defaults (EMF
   metrics on, written to stdout, sent to /dev/null here) and with the ``metrics`` setting off.
   Variants interleaved run by run; the figures are the medians over runs of the wall and CPU
   µs per invoke (CPU time of this process), judged on CPU (see 2).
2. ``cold``: a fresh interpreter imports the handler module (the app and the adapter), builds the
   handler and answers one event: timed inside the process (first statement to answer), and the
   CPU time of the whole process. Median of ``--cold-runs``, variants interleaved, bytecode
   already written. Judged on CPU time, which is exact here, because a machine shared with other
   work stretches wall time unevenly; and on the adapter's part of it, CPU time from the app
   imported (``import main``, before the handler module) to the first answer. The rest of the
   process (interpreter start, FastAPI and the app) is the same code in every variant, so the
   whole-process ratio is <= 1.0 exactly when the adapter part's is; but the whole process
   (~400 ms) varies by several ms from run to run, more than the adapters differ, while the
   adapter part (~7 ms) is read in the process at microsecond resolution.
3. Through relaykit's local Lambda emulator (real Runtime API, one worker process per function):
   relaykit's runtime (``python -m relaykit.lambda_runtime main:api``, the Lambda Web Adapter
   replacement; also with metrics off), AWS's own runtime client ``awslambdaric`` running
   ``Mangum(api)`` (the baseline) and ``awslambdaric`` running ``asgi_lambda_handler(api)``.
   ``emu-warm``: invoke round trip, functions interleaved invoke by invoke, median of per-run
   medians. ``emu-cold``: each round starts a new emulator and times the first invoke of each
   function from request to answer (process start, init, first event), with the CPU time its
   worker used by then (read from /proc when the answer is in, at clock-tick resolution; the
   runtime writes its metrics line after answering, and the metrics-off row shows that this
   read does not catch that work). Judged on CPU time, as 2.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import importlib.util
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _support import (
    Column,
    cpu_seconds,
    exit_on_sigterm,
    load_line,
    machine_line,
    table,
    verdict,
)

ROOT = Path(__file__).resolve().parent.parent
APP_DIR = ROOT / "examples" / "from_lwa"
# The relaykit this interpreter imports (the repository's framework/ unless PYTHONPATH names
# another copy); child processes get the same one.
_SPEC = importlib.util.find_spec("relaykit")
assert _SPEC is not None and _SPEC.submodule_search_locations, "relaykit is not installed"
FRAMEWORK = str(Path(next(iter(_SPEC.submodule_search_locations))).parent)
BODY = json.dumps({"topic": "otter"})
ANSWER = {"topic": "otter", "title": "The Otter Who Streamed"}

EVENT: dict[str, Any] = {
    "version": "2.0",
    "routeKey": "POST /title",
    "rawPath": "/title",
    "rawQueryString": "",
    "headers": {
        "accept": "application/json",
        "content-type": "application/json",
        "content-length": str(len(BODY)),
        "host": "r3pmxmplak.execute-api.us-east-2.amazonaws.com",
        "user-agent": "bench/1.0",
        "x-amzn-trace-id": "Root=1-6a1f0c2e-3b5d7e9f1a2c4e6a8b0d2f4a",
        "x-forwarded-for": "198.51.100.7",
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
    },
    "requestContext": {
        "accountId": "123456789012",
        "apiId": "r3pmxmplak",
        "domainName": "r3pmxmplak.execute-api.us-east-2.amazonaws.com",
        "domainPrefix": "r3pmxmplak",
        "http": {
            "method": "POST",
            "path": "/title",
            "protocol": "HTTP/1.1",
            "sourceIp": "198.51.100.7",
            "userAgent": "bench/1.0",
        },
        "requestId": "JKJaXmPLvHcESHA=",
        "routeKey": "POST /title",
        "stage": "$default",
        "time": "28/Nov/2026:06:33:00 +0000",
        "timeEpoch": 1795847580000,
    },
    "body": BODY,
    "isBase64Encoded": False,
}

# The handler modules: the same app, two adapters.
HANDLERS = {
    "handler_mangum.py": """
        from main import api
        from mangum import Mangum

        handler = Mangum(api)
    """,
    "handler_relaykit.py": """
        from main import api
        from relaykit import asgi_lambda_handler

        handler = asgi_lambda_handler(api)
    """,
}


class Context:
    """A Lambda context object, as the managed runtime passes it."""

    aws_request_id = "8f6c3b1e-2d4a-4c5e-9f7a-1b2c3d4e5f60"
    invoked_function_arn = "arn:aws:lambda:us-east-2:123456789012:function:bench"
    function_name = "bench"
    function_version = "$LATEST"
    memory_limit_in_mb = 1024

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def write_handlers(folder: Path) -> None:
    for name, source in HANDLERS.items():
        (folder / name).write_text(textwrap.dedent(source))


def check(out: Any) -> None:
    assert out["statusCode"] == 200 and json.loads(out["body"]) == ANSWER, out


# 1. Managed runtime, warm ---------------------------------------------------------------------


def per_invoke(n: int, runs: int) -> dict[str, tuple[float, float]]:
    """Per variant: (median wall µs per invoke, median CPU µs per invoke of this process)."""
    sys.path.insert(0, str(APP_DIR))
    os.environ["RELAYKIT_METRICS"] = "true"
    from main import api
    from mangum import Mangum

    from relaykit import App, asgi_lambda_handler

    quiet = App("bench-quiet", settings={"metrics": False})
    quiet.serve_asgi(api)
    variants: dict[str, Callable[[dict[str, Any], Any], Any]] = {
        "Mangum(api)": Mangum(api),
        'Mangum(api, lifespan="off")': Mangum(api, lifespan="off"),
        "relaykit (defaults)": asgi_lambda_handler(api),
        "relaykit (metrics off)": quiet.lambda_handler,
    }
    context = Context()
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        for handler in variants.values():
            for _ in range(200):
                out = handler(copy.deepcopy(EVENT), context)
            check(out)
        for round_no in range(runs):
            names = list(variants) if round_no % 2 == 0 else list(variants)[::-1]
            for name in names:
                handler = variants[name]
                batch = [copy.deepcopy(EVENT) for _ in range(n)]
                cpu, start = time.process_time(), time.perf_counter()
                for event in batch:
                    handler(event, context)
                wall, cpu = time.perf_counter() - start, time.process_time() - cpu
                samples[name].append((wall / n * 1e6, cpu / n * 1e6))
    for handler in variants.values():
        close = getattr(handler, "close", None)
        if close is not None:
            close()
    return {
        name: (statistics.median(s[0] for s in values), statistics.median(s[1] for s in values))
        for name, values in samples.items()
    }


# 2. Managed runtime, cold start ---------------------------------------------------------------

COLD_SCRIPT = """
import time
t0 = time.perf_counter()
import json, sys
import main  # the app alone, the same in every variant; then the adapter's part starts
c1 = time.process_time()
import {module} as m
class Context:
    aws_request_id = "r"
    invoked_function_arn = "arn:aws:lambda:us-east-2:123456789012:function:bench"
    function_name = "bench"
    def get_remaining_time_in_millis(self):
        return 30000
out = m.handler({event!r}, Context())
adapter = (time.process_time() - c1) * 1000
inside = (time.perf_counter() - t0) * 1000
assert out["statusCode"] == 200, out
sys.stderr.write(json.dumps({{"ms": inside, "adapter": adapter}}) + "\\n")
"""


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cold_once(folder: Path, module: str, env: dict[str, str]) -> tuple[float, float, float]:
    """One fresh interpreter: (ms inside the process, CPU ms of the whole process, CPU ms of
    the adapter's part: from the app imported to the first answer)."""
    script = COLD_SCRIPT.format(module=module, event=EVENT)
    cpu = _children_cpu()
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=folder, env=env, capture_output=True, text=True
    )
    cpu = (_children_cpu() - cpu) * 1000
    if done.returncode != 0:
        raise RuntimeError(f"{module} failed: {done.stderr[-2000:]}")
    timed = json.loads(done.stderr.strip().splitlines()[-1])
    return timed["ms"], cpu, timed["adapter"]


def cold_start(runs: int, folder: Path) -> dict[str, tuple[float, float, float]]:
    base = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": os.pathsep.join([str(folder), str(APP_DIR), FRAMEWORK]),
    }
    variants = {
        "Mangum(api)": ("handler_mangum", base),
        "relaykit (defaults)": ("handler_relaykit", base),
        "relaykit (metrics off)": ("handler_relaykit", {**base, "RELAYKIT_METRICS": "false"}),
    }
    for module, env in variants.values():
        cold_once(folder, module, env)  # writes bytecode, warms the page cache
    samples: dict[str, list[tuple[float, float, float]]] = {name: [] for name in variants}
    for round_no in range(runs):
        names = list(variants) if round_no % 2 == 0 else list(variants)[::-1]
        for name in names:
            module, env = variants[name]
            samples[name].append(cold_once(folder, module, env))
    return {
        name: (
            statistics.median(s[0] for s in values),
            statistics.median(s[1] for s in values),
            statistics.median(s[2] for s in values),
        )
        for name, values in samples.items()
    }


# 3. Through the emulator ----------------------------------------------------------------------

EMU_FUNCTIONS = {
    "relaykit runtime": "relaykit_runtime",
    "relaykit runtime (metrics off)": "relaykit_runtime_quiet",
    "awslambdaric + Mangum(api)": "ric_mangum",
    "awslambdaric + relaykit handler": "ric_relaykit",
}


def emulator_functions(folder: Path) -> list[Any]:
    from relaykit.local.emulator import FunctionConfig

    env = {
        "PYTHONPATH": os.pathsep.join([str(folder), str(APP_DIR), FRAMEWORK]),
        "RELAYKIT_METRICS": "true",
    }
    common: dict[str, Any] = {"env": env, "task_root": str(folder), "timeout": 60.0}
    ric = [sys.executable, "-m", "awslambdaric"]
    runtime = [sys.executable, "-m", "relaykit.lambda_runtime", "main:api"]
    return [
        FunctionConfig(name="relaykit_runtime", command=runtime, handler="main:api", **common),
        FunctionConfig(
            name="relaykit_runtime_quiet",
            command=runtime,
            handler="main:api",
            **{**common, "env": {**env, "RELAYKIT_METRICS": "false"}},
        ),
        FunctionConfig(
            name="ric_mangum",
            command=[*ric, "handler_mangum.handler"],
            handler="handler_mangum.handler",
            **common,
        ),
        FunctionConfig(
            name="ric_relaykit",
            command=[*ric, "handler_relaykit.handler"],
            handler="handler_relaykit.handler",
            **common,
        ),
    ]


async def _invoke(emu: Any, name: str, payload: bytes) -> tuple[float, Any]:
    start = time.perf_counter()
    result = await emu.invoke(name, payload)
    elapsed = time.perf_counter() - start
    if not result.ok:
        raise RuntimeError(f"{name} failed: {result.payload[:500]!r}")
    check(json.loads(result.payload))
    return elapsed, result


async def emulator_warm(folder: Path, runs: int, n: int) -> dict[str, float]:
    from relaykit.local.emulator import Emulator

    payload = json.dumps(EVENT).encode()
    samples: dict[str, list[float]] = {label: [] for label in EMU_FUNCTIONS}
    async with Emulator(emulator_functions(folder)) as emu:
        for name in EMU_FUNCTIONS.values():
            for _ in range(50):
                await _invoke(emu, name, payload)
        for _ in range(runs):
            # Interleaved invoke by invoke, in rotating order, so that load from elsewhere on
            # the machine falls on every function alike.
            times: dict[str, list[float]] = {label: [] for label in EMU_FUNCTIONS}
            labels = list(EMU_FUNCTIONS)
            for index in range(n):
                shift = index % len(labels)
                for label in labels[shift:] + labels[:shift]:
                    times[label].append((await _invoke(emu, EMU_FUNCTIONS[label], payload))[0])
            for label, values in times.items():
                samples[label].append(statistics.median(values) * 1e6)
    return {label: statistics.median(values) for label, values in samples.items()}


async def emulator_cold(folder: Path, runs: int) -> dict[str, tuple[float, float]]:
    """Per function: (median ms from request to answer, median CPU ms its worker process used
    from its start to the answer, read from /proc as soon as the answer is in)."""
    from relaykit.local.emulator import Emulator

    payload = json.dumps(EVENT).encode()
    samples: dict[str, list[tuple[float, float]]] = {label: [] for label in EMU_FUNCTIONS}
    async with Emulator(emulator_functions(folder)) as emu:  # bytecode, page cache
        for name in EMU_FUNCTIONS.values():
            await _invoke(emu, name, payload)
    for round_no in range(runs):
        labels = list(EMU_FUNCTIONS) if round_no % 2 == 0 else list(EMU_FUNCTIONS)[::-1]
        async with Emulator(emulator_functions(folder)) as emu:
            for label in labels:
                elapsed, result = await _invoke(emu, EMU_FUNCTIONS[label], payload)
                cpu = cpu_seconds(result.pid) * 1000
                assert result.init_duration_ms is not None, "expected a cold start"
                samples[label].append((elapsed * 1000, cpu))
    return {
        label: (statistics.median(s[0] for s in values), statistics.median(s[1] for s in values))
        for label, values in samples.items()
    }


# Main -----------------------------------------------------------------------------------------


SECTIONS = ("warm", "cold", "emu-warm", "emu-cold")


def report_warm(args: argparse.Namespace, met: list[bool]) -> None:
    warm = per_invoke(args.n, args.runs)
    base_wall, base_cpu = warm["Mangum(api)"]
    print(f"\n1. managed runtime, warm: µs per invoke, median of {args.runs} x {args.n}")
    rows = [
        [name, f"{wall:.1f}", f"{wall / base_wall:.2f}x", f"{cpu:.1f}", f"{cpu / base_cpu:.2f}x"]
        for name, (wall, cpu) in warm.items()
    ]
    columns = [Column("handler", 30), Column("wall µs"), Column("/ Mangum")]
    print(table([*columns, Column("CPU µs"), Column("/ Mangum")], rows))
    wall, cpu = warm["relaykit (defaults)"]
    met.append(cpu / base_cpu <= 1.0)
    print(
        f"relaykit (defaults) / Mangum(api): wall {wall / base_wall:.2f}x, CPU "
        f"{cpu / base_cpu:.2f}x  {verdict(cpu / base_cpu <= 1.0)}"
    )


def report_cold(args: argparse.Namespace, folder: Path, met: list[bool]) -> None:
    cold = cold_start(args.cold_runs, folder)
    base_in, base_cpu, base_adapter = cold["Mangum(api)"]
    print(
        f"\n2. managed runtime, cold start: ms, median of {args.cold_runs} fresh processes "
        "(import + handler + first event, timed inside; CPU of the whole process; CPU of the "
        "adapter's part, from the app imported to the first answer)"
    )
    rows = [
        [
            name, f"{inside:.1f}", f"{inside / base_in:.2f}x", f"{cpu:.1f}",
            f"{cpu / base_cpu:.2f}x", f"{adapter:.2f}", f"{adapter / base_adapter:.2f}x",
        ]
        for name, (inside, cpu, adapter) in cold.items()
    ]  # fmt: skip
    columns = [Column("handler", 30), Column("wall ms"), Column("/ Mangum"), Column("CPU ms")]
    ratio = Column("/ Mangum")
    print(table([*columns, ratio, Column("adapter CPU"), ratio], rows))
    inside, cpu, adapter = cold["relaykit (defaults)"]
    met.append(adapter / base_adapter <= 1.0)
    print(
        f"relaykit (defaults) / Mangum(api): wall {inside / base_in:.2f}x, CPU "
        f"{cpu / base_cpu:.2f}x; adapter CPU {adapter / base_adapter:.2f}x "
        f"({adapter - base_adapter:+.2f} ms)  {verdict(adapter / base_adapter <= 1.0)}"
    )


def report_emulator_warm(args: argparse.Namespace, folder: Path, met: list[bool]) -> None:
    emu_warm = asyncio.run(emulator_warm(folder, args.emu_runs, args.emu_invokes))
    base = emu_warm["awslambdaric + Mangum(api)"]
    print(
        f"\n3a. emulator, warm invoke round trip: µs, median of {args.emu_runs} runs x "
        f"{args.emu_invokes}"
    )
    rows = [[name, f"{value:.0f}", f"{value / base:.2f}x"] for name, value in emu_warm.items()]
    print(table([Column("function", 32), Column("µs"), Column("/ Mangum")], rows))
    ratio = emu_warm["relaykit runtime"] / base
    met.append(ratio <= 1.0)
    print(f"relaykit runtime / awslambdaric + Mangum: {ratio:.2f}x  {verdict(ratio <= 1.0)}")


def report_emulator_cold(args: argparse.Namespace, folder: Path, met: list[bool]) -> None:
    emu_cold = asyncio.run(emulator_cold(folder, args.emu_cold_runs))
    base_ms, base_cpu = emu_cold["awslambdaric + Mangum(api)"]
    print(
        f"\n3b. emulator, cold invoke: ms, median of {args.emu_cold_runs} new environments "
        "(request to answer; CPU of the worker process up to the answer)"
    )
    rows = [
        [name, f"{ms:.1f}", f"{ms / base_ms:.2f}x", f"{cpu:.0f}", f"{cpu / base_cpu:.2f}x"]
        for name, (ms, cpu) in emu_cold.items()
    ]
    columns = [Column("function", 32), Column("wall ms"), Column("/ Mangum")]
    print(table([*columns, Column("CPU ms"), Column("/ Mangum")], rows))
    ms, cpu = emu_cold["relaykit runtime"]
    met.append(cpu / base_cpu <= 1.0)
    print(
        f"relaykit runtime / awslambdaric + Mangum: wall {ms / base_ms:.2f}x, CPU "
        f"{cpu / base_cpu:.2f}x  {verdict(cpu / base_cpu <= 1.0)}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="in-process invokes per run")
    parser.add_argument("--runs", type=int, default=7, help="in-process runs per variant")
    parser.add_argument("--cold-runs", type=int, default=21, help="fresh processes per variant")
    parser.add_argument("--emu-invokes", type=int, default=200, help="emulator invokes per run")
    parser.add_argument("--emu-runs", type=int, default=5, help="emulator runs per function")
    parser.add_argument("--emu-cold-runs", type=int, default=15, help="emulator cold rounds")
    parser.add_argument(
        "--only", action="append", choices=SECTIONS, help="run only this section (repeatable)"
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when a goal is missed")
    args = parser.parse_args()
    exit_on_sigterm()
    sections = set(args.only or SECTIONS)
    print(machine_line())
    folder = Path(tempfile.mkdtemp(prefix="relaykit-mangum-"))
    met: list[bool] = []
    try:
        write_handlers(folder)
        if "warm" in sections:
            report_warm(args, met)
        if "cold" in sections:
            report_cold(args, folder, met)
        if "emu-warm" in sections:
            report_emulator_warm(args, folder, met)
        if "emu-cold" in sections:
            report_emulator_cold(args, folder, met)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print("\n" + load_line())
    print(f"goals (<= 1.0x): {'all met' if all(met) else 'MISSED'}")
    return 1 if args.strict and not all(met) else 0


if __name__ == "__main__":
    sys.exit(main())

"""Measurement overhead: a handler's per-invoke cost with ``measure`` on and off.

Three paths, each with the same trivial task handler (no model call, a small dict out), in one
process: ``App.invoke`` (the dispatch seam alone), the container's ASGI app through httpx's ASGI
transport, and ``app.lambda_handler`` with an HTTP API v2 event. For each, two apps differ only
in the ``measure`` setting: ``off`` against ``store`` (the SQLite file written by a background
thread: the ``relaykit dev`` default) and against ``log`` (a JSON/EMF line per measurement,
written to a discarded stream: the ``relaykit serve`` default, written by a background thread
in a container and with the invocation on Lambda), with the ``metrics`` setting off on both
sides. A last pair is Lambda's default configuration: ``metrics`` on (one EMF line per
invocation, to ``/dev/null`` here) with ``measure`` off against ``measure`` auto (``log``: the
measurement then rides on the metrics line). Rounds are interleaved (off, on, on, off...),
each round times a batch of calls, and the medians are compared.

Goal: recording stays on by default, so the ratio on/off of each target's default
configuration (ASGI ``log``, Lambda defaults) is within a few percent (<= 1.05). The other
rows are reported for what they are: ``App.invoke`` has almost no work to compare against,
``store`` is the development server's mode, and Lambda with metrics off and ``log`` forced on
writes a line of its own.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "framework"))

from relaykit import App
from relaykit.measure import Recorder

ROUNDS, BATCH = 31, 400
EVENT = Path(__file__).resolve().parent.parent / "tests" / "events" / "http_api_v2.json"


class LambdaContext:
    function_name = "bench"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    aws_request_id = "00000000-0000-4000-8000-000000000000"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def build(folder: str, measure: str, metrics: bool = False) -> App:
    settings = {"measure": measure, "metrics": metrics, "store": f"sqlite:///{folder}/r.db"}
    if metrics:
        settings["target"] = "lambda"  # ``measure = auto`` then means ``log``
    app = App(f"bench-{measure}-{metrics}", settings=settings, config_dir=folder)

    @app.task("/inspect")
    async def inspect(body: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "n": len(body)}

    if measure == "log" and app.recorder is not None:
        app.recorder._out = io.StringIO()  # a line per call, written to a discarded stream
    if metrics and app.recorder is not None:
        app.recorder._out = open(os.devnull, "w")  # noqa: SIM115 (closed at exit)
    return app


def invoke_path(app: App) -> Any:
    async def batch() -> None:
        for _ in range(BATCH):
            await app.invoke("/inspect", {"question": "why?"})

    return lambda: asyncio.run(batch())


def asgi_path(app: App) -> Any:
    import httpx

    async def batch() -> None:
        transport = httpx.ASGITransport(app=app.asgi())
        async with httpx.AsyncClient(transport=transport, base_url="http://b") as client:
            for _ in range(BATCH):
                await client.post("/inspect", json={"question": "why?"})

    return lambda: asyncio.run(batch())


def lambda_path(app: App) -> Any:
    event = json.loads(EVENT.read_text())
    handler, context = app.lambda_handler, LambdaContext()

    def batch() -> None:
        for _ in range(BATCH):
            handler(event, context)

    return batch


def compare(name: str, off: App, on: App, path: Any, report: Any = None) -> float:
    runs = {"off": path(off), "on": path(on)}
    for run in runs.values():
        run()  # warm-up
    times: dict[str, list[float]] = {"off": [], "on": []}
    for n in range(ROUNDS):
        order = ("off", "on") if n % 2 == 0 else ("on", "off")
        for key in order:
            began = time.perf_counter()
            runs[key]()
            times[key].append((time.perf_counter() - began) / BATCH * 1e6)
    base, measured = statistics.median(times["off"]), statistics.median(times["on"])
    ratio = measured / base
    line = f"{name:<28} off {base:8.1f} us  on {measured:8.1f} us  ratio {ratio:5.3f}"
    print(line, file=report or sys.stdout)
    return ratio


FUNCTION = """
import os

from relaykit import App

app = App(
    "measured",
    settings={"log_level": "WARNING", "store": "memory://", "measure": os.environ["MEASURE"]},
)


@app.task("/inspect")
async def inspect(body: dict) -> dict:
    return {"ok": True, "n": len(body)}
"""


FRAMEWORK = str(Path(__file__).resolve().parent.parent / "framework")


async def emulator_round_trips(folder: str, runs: int, n: int) -> dict[str, float]:
    """Median µs per invoke round trip (Invoke API to answer) through relaykit's emulator, of
    relaykit's runtime serving the app with metrics on (the Lambda default) and ``measure``
    off or auto; invocations interleaved one by one."""
    from relaykit.local.emulator import Emulator, FunctionConfig

    command = [sys.executable, "-m", "relaykit.lambda_runtime", "measured_fn:app"]
    functions = [
        FunctionConfig(
            name=name,
            command=command,
            handler="measured_fn:app",
            env={
                "PYTHONPATH": f"{folder}:{FRAMEWORK}",
                "MEASURE": measure,
                "RELAYKIT_METRICS": "true",
            },
            task_root=folder,
            timeout=60.0,
        )
        for name, measure in (("off", "off"), ("on", "auto"))
    ]
    payload = EVENT.read_bytes()
    samples: dict[str, list[float]] = {"off": [], "on": []}
    async with Emulator(functions) as emu:
        for name in samples:
            for _ in range(50):
                assert (await emu.invoke(name, payload)).ok
        for run in range(runs):
            times: dict[str, list[float]] = {"off": [], "on": []}
            for index in range(n):
                for name in ("off", "on") if (index + run) % 2 == 0 else ("on", "off"):
                    began = time.perf_counter()
                    result = await emu.invoke(name, payload)
                    times[name].append(time.perf_counter() - began)
                    assert result.ok, result.payload[:200]
            for name, values in times.items():
                samples[name].append(statistics.median(values) * 1e6)
    return {name: statistics.median(values) for name, values in samples.items()}


def main() -> int:
    print(f"measure_overhead: {ROUNDS} interleaved rounds x {BATCH} calls, medians per call")
    with tempfile.TemporaryDirectory() as folder:
        off = build(folder, "off")
        results = {}
        for mode in ("store", "log"):
            on = build(folder, mode)
            results[f"invoke ({mode})"] = compare(f"App.invoke, {mode}", off, on, invoke_path)
            results[f"asgi ({mode})"] = compare(f"ASGI (httpx), {mode}", off, on, asgi_path)
            results[f"lambda ({mode})"] = compare(f"Lambda v2 event, {mode}", off, on, lambda_path)
            recorder = on.recorder
            if isinstance(recorder, Recorder):
                recorder.close()
            on.lambda_handler.close()
        off.lambda_handler.close()
        metrics_off, metrics_on = build(folder, "off", True), build(folder, "auto", True)
        with open(os.devnull, "w") as null:
            stdout, sys.stdout = sys.stdout, null  # the metrics lines (Observer writes stdout)
            try:
                results["lambda (defaults)"] = compare(
                    "Lambda v2 event, defaults", metrics_off, metrics_on, lambda_path, stdout
                )
            finally:
                sys.stdout = stdout
        for app in (metrics_off, metrics_on):
            app.lambda_handler.close()
        Path(folder, "measured_fn.py").write_text(FUNCTION)
        trips = asyncio.run(emulator_round_trips(folder, runs=5, n=200))
    ratio = trips["on"] / trips["off"]
    print(
        f"{'emulator invoke, defaults':<28} off {trips['off']:8.1f} us  on {trips['on']:8.1f} us"
        f"  ratio {ratio:5.3f}  (relaykit runtime, whole round trip; for context)"
    )
    defaults = ("asgi (log)", "lambda (defaults)")
    worst = max(results[name] for name in defaults)
    verdict = "ok" if worst <= 1.05 else "BELOW GOAL"
    print(f"worst default-configuration ratio {worst:.3f} (goal <= 1.05): {verdict}")
    others = max(v for k, v in results.items() if k not in defaults and not k.startswith("invoke"))
    print(f"worst other target-path ratio {others:.3f} (store mode, forced log lines)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

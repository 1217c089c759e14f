"""Measurement overhead: a handler's per-invoke cost with ``measure`` on and off.

Three paths, each with the same trivial task handler (no model call, a small dict out), in one
process: ``App.invoke`` (the dispatch seam alone), the container's ASGI app through httpx's ASGI
transport, and ``app.lambda_handler`` with an HTTP API v2 event. For each, two apps differ only
in the ``measure`` setting (``off`` vs ``store``: the mode with the queue and background
writer; ``log`` is measured too, writing to a discarded stream). Rounds are interleaved (off,
on, on, off...), each round times a batch of calls, and the medians are compared. Goal: the
ratio on/off stays within a few percent on the target paths (ASGI, Lambda).
"""

from __future__ import annotations

import asyncio
import io
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "framework"))

from relaykit import App
from relaykit.measure import Recorder

ROUNDS, BATCH = 15, 400
EVENT = Path(__file__).resolve().parent.parent / "tests" / "events" / "http_api_v2.json"


class LambdaContext:
    function_name = "bench"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    aws_request_id = "00000000-0000-4000-8000-000000000000"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def build(folder: str, measure: str) -> App:
    settings = {"measure": measure, "metrics": False, "store": f"sqlite:///{folder}/r.db"}
    app = App(f"bench-{measure}", settings=settings, config_dir=folder)

    @app.task("/inspect")
    async def inspect(body: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "n": len(body)}

    if measure == "log" and app.recorder is not None:
        app.recorder._out = io.StringIO()  # a line per call, written to a discarded stream
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


def compare(name: str, off: App, on: App, path: Any) -> float:
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
    print(f"{name:<28} off {base:8.1f} us  on {measured:8.1f} us  ratio {ratio:5.3f}")
    return ratio


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
    worst = max(v for k, v in results.items() if not k.startswith("invoke"))
    verdict = "ok" if worst <= 1.05 else "BELOW GOAL"
    print(f"worst target-path ratio {worst:.3f} (goal <= 1.05): {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

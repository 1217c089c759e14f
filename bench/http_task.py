"""A relaykit task and stream over HTTP against the same handler as a bare FastAPI route.

Two uvicorn servers run side by side, each in its own subprocess with the same settings (one
worker, 127.0.0.1, a free port, ``log_level="warning"``, no access log; see ``_apps.py``). A
separate load-generator process (``_loadgen.py``: raw asyncio sockets, HTTP/1.1 keep-alive,
``--concurrency`` connections, closed loop) drives one server at a time: a warm-up, then
``--rounds`` rounds interleaved A B, B A, A B ... so slow drift and noise from other processes
fall on both sides. Reported: the median over rounds of requests/s, p50 and p99 latency, and the
server's CPU time per request (from ``/proc``, less sensitive to other load than req/s), then the
ratios relaykit/bare. The stream comparison is the same for a 20-chunk SSE route, in chunks/s.

    python bench/http_task.py [--rounds 5] [--duration 2] [--concurrency 32] [--json out.json]

Exits 0 when every measurement ran (a ratio below its goal is printed as BELOW GOAL; ``--strict``
makes that exit 1), non-zero when a server or the load generator failed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _support import (
    BENCH_DIR,
    Column,
    cpu_seconds,
    exit_on_sigterm,
    free_port,
    load_line,
    machine_line,
    median,
    server,
    table,
    verdict,
)

GOAL_RPS_RATIO = 0.9
VARIANTS = ("relaykit", "bare")
TASK_BODY = json.dumps({"sku": "SKU-1234", "quantity": 3, "unit_price": 19.99, "note": "gift"})
STREAM_BODY = json.dumps({"text": "hi", "chunks": 20})


@dataclass(frozen=True)
class Route:
    kind: str
    title: str
    path: str
    body: str
    sse: bool


ROUTES = (
    Route("task", "task: POST /quote, pydantic Order in, Quote out", "/quote", TASK_BODY, False),
    Route("stream", "stream: POST /words, SSE, 20 chunks, no delay", "/words", STREAM_BODY, True),
)


def load(port: int, route: Route, args: argparse.Namespace, duration: float) -> dict[str, Any]:
    """Run the load generator once against ``port``; its JSON result."""
    command = [
        sys.executable,
        str(BENCH_DIR / "_loadgen.py"),
        f"--port={port}",
        f"--path={route.path}",
        f"--body={route.body}",
        f"--concurrency={args.concurrency}",
        f"--duration={duration}",
        f"--max-requests={args.max_requests}",
        *(["--sse"] if route.sse else []),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=duration + 60)
    if done.returncode != 0:
        raise RuntimeError(f"load generator failed ({done.returncode}):\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout)
    if result["errors"] or not result["requests"]:
        raise RuntimeError(
            f"{route.path} on port {port}: {result['errors']} errors, {result['requests']} "
            f"requests; first error: {result['first_error']}"
        )
    return result


def measure(
    pids: dict[str, int], ports: dict[str, int], route: Route, args: argparse.Namespace
) -> dict[str, list[dict[str, Any]]]:
    """Warm up both servers, then run interleaved rounds; every round's result per variant."""
    for name in VARIANTS:
        load(ports[name], route, args, args.warmup)
    rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in VARIANTS}
    for i in range(args.rounds):
        order = VARIANTS if i % 2 == 0 else VARIANTS[::-1]
        for name in order:
            before = cpu_seconds(pids[name])
            result = load(ports[name], route, args, args.duration)
            result["server_cpu_s"] = cpu_seconds(pids[name]) - before
            rounds[name].append(result)
            print(
                f"  round {i + 1} {name:<8} {result['rps']:8.0f} req/s  "
                f"p50 {result['p50_ms']:6.2f} ms  p99 {result['p99_ms']:6.2f} ms"
                + (f"  {result['chunks_per_s']:8.0f} chunks/s" if route.sse else ""),
                flush=True,
            )
    return rounds


def summarise(rounds: Sequence[dict[str, Any]]) -> dict[str, float]:
    return {
        "rps": median([r["rps"] for r in rounds]),
        "p50_ms": median([r["p50_ms"] for r in rounds]),
        "p99_ms": median([r["p99_ms"] for r in rounds]),
        "ttfb_p50_ms": median([r["ttfb_p50_ms"] for r in rounds]),
        "chunks_per_s": median([r["chunks_per_s"] for r in rounds]),
        "server_cpu_us": median([r["server_cpu_s"] / r["requests"] * 1e6 for r in rounds]),
        "client_cpu_share": median([r["client_cpu_s"] / r["elapsed"] for r in rounds]),
    }


def report(route: Route, summary: dict[str, dict[str, float]]) -> tuple[str, bool]:
    """The table of one route and whether relaykit meets the throughput goal."""
    rk, bare = summary["relaykit"], summary["bare"]
    rate_key, rate_title = ("chunks_per_s", "chunks/s") if route.sse else ("rps", "req/s")
    keys = [rate_key, "p50_ms", "p99_ms", "server_cpu_us"]
    columns = [Column("", 14), Column(rate_title, 10), Column("p50 ms", 9), Column("p99 ms", 9)]
    columns.append(Column("server CPU us/" + ("stream" if route.sse else "req"), 22))
    if route.sse:
        keys.append("ttfb_p50_ms")
        columns.append(Column("first event p50 ms", 19))
    fmt = {"p50_ms": "{:.2f}", "p99_ms": "{:.2f}", "ttfb_p50_ms": "{:.2f}"}
    rows = [
        [name, *[fmt.get(key, "{:.0f}").format(values[key]) for key in keys]]
        for name, values in (("relaykit", rk), ("bare FastAPI", bare))
    ]
    rows.append(["relaykit/bare", *[f"{rk[key] / bare[key]:.2f}x" for key in keys]])
    ratio = rk[rate_key] / bare[rate_key]
    cpu_ratio = bare["server_cpu_us"] / rk["server_cpu_us"]
    ok = ratio >= GOAL_RPS_RATIO
    lines = [
        route.title,
        table(columns, rows),
        f"{rate_title} ratio relaykit/bare = {ratio:.2f} (goal >= {GOAL_RPS_RATIO}): {verdict(ok)}",
        f"CPU-bound estimate (bare CPU/relaykit CPU per request, steadier under load) = "
        f"{cpu_ratio:.2f}: {verdict(cpu_ratio >= GOAL_RPS_RATIO)}",
        f"load generator used {rk['client_cpu_share']:.0%} (relaykit runs) / "
        f"{bare['client_cpu_share']:.0%} (bare runs) of a core",
    ]
    return "\n".join(lines), ok


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6, help="interleaved rounds (default 6)")
    parser.add_argument("--duration", type=float, default=2.0, help="seconds per round")
    parser.add_argument("--warmup", type=float, default=1.0, help="warm-up seconds per server")
    parser.add_argument("--concurrency", type=int, default=32, help="connections (default 32)")
    parser.add_argument("--max-requests", type=int, default=100_000, help="cap per round")
    parser.add_argument("--only", choices=["task", "stream"], help="run one of the two routes")
    parser.add_argument("--json", type=Path, help="also write every round's figures here")
    parser.add_argument("--strict", action="store_true", help="exit 1 when below a goal")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    exit_on_sigterm()
    print(machine_line())
    print(
        f"settings: uvicorn 1 worker, 127.0.0.1, log warning, no access log; load: "
        f"{args.concurrency} keep-alive connections, warm-up {args.warmup:g} s, "
        f"{args.rounds} interleaved rounds x {args.duration:g} s; medians over rounds\n",
        flush=True,
    )
    routes = [route for route in ROUTES if args.only in (None, route.kind)]
    ports = {name: free_port() for name in VARIANTS}
    raw: dict[str, Any] = {}
    reports: list[str] = []
    all_ok = True
    with ExitStack() as stack:
        pids = {
            name: stack.enter_context(
                server([str(BENCH_DIR / "_apps.py"), name, str(ports[name])], ports[name])
            ).pid
            for name in VARIANTS
        }
        for route in routes:
            print(route.title, flush=True)
            rounds = measure(pids, ports, route, args)
            raw[route.path] = rounds
            text, ok = report(route, {name: summarise(rounds[name]) for name in VARIANTS})
            all_ok = all_ok and ok
            reports.append(text)
            print()
    print("\n\n".join(reports))
    print(f"\n{load_line()} (above ~1 on these 2 cores, other work competed: compare CPU/req)")
    if args.json:
        args.json.write_text(json.dumps(raw, indent=1))
    return 1 if args.strict and not all_ok else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)

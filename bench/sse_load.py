"""Many concurrent SSE streams of the local model against `relaykit serve` and on the Lambda
emulator, each against a bare baseline emitting the same tokens at the same pace (issue 10).

**Container.** ``relaykit serve bench/_functions/sse_relaykit.py`` (the CLI, in a subprocess, one
worker, 127.0.0.1, a free port, ``--log-level warning``): an ``@app.stream`` handler that
streams ``ctx.llm.stream(...)`` of the local model, cut at ``tokens`` words, at the local
model's 0.05 s a word (20 tokens/s). Baseline: a bare FastAPI app (``_functions/sse_bare.py``)
sending the same SSE bytes at the same pace through ``StreamingResponse``, under plain uvicorn
with the flags ``relaykit serve`` passes (one worker, ``--proxy-headers``,
``--timeout-graceful-shutdown 30``, log level warning). Each round starts a fresh server, warms
it with a few streams, reads its RSS, then a separate load process (``_sse_loadgen.py``, raw
asyncio protocols, loopback) opens ``--streams`` streams over ``--ramp`` seconds, each
``--seconds`` long, bounded by a deadline. Rounds alternate relaykit/bare (A B, B A, ...).

**Lambda.** One emulator process (``_sse_emulator.py``) with two functions behind Function URLs
in RESPONSE_STREAM mode, ``--lambda-streams`` environments each (one invocation at a time per
environment, as on Lambda): relaykit's runtime (``python -m relaykit.lambda_runtime``) on the same
app, and a bare streaming function on the raw Runtime API (``_functions/sse_bare_runtime.py``:
no SDK, no framework; awslambdaric cannot stream). Every environment is cold-started once by a
burst of ``--lambda-streams`` short streams, then the same load runs at the concurrency limit:
exactly one stream per environment. The 1,000-stream target is the container's; one Lambda
environment is one process, so the Lambda path is sized to what 2 cores can start.

**Reported** per side (medians over rounds; errors summed): streams held open at once, completed,
errors by kind, tokens delivered per second (all tokens over first request to last token; and
while every stream was open), p50/p99/max gap between consecutive tokens of a stream as the
client read them, the server's CPU (share of a core, µs per token), and memory: container, the
server's peak VmRSS during the run minus its VmRSS before, per stream; Lambda, the peak summed
VmRSS of the function's environments per stream (a stream holds a whole environment). Goals:
relaykit/bare tokens/s >= 0.9 and no errors. The load generator's own CPU is printed.

    .venv/bin/python bench/sse_load.py [--streams 1000] [--seconds 10] [--ramp 5] [--rounds 2]
        [--lambda-streams 100] [--only container|lambda] [--quick] [--json out.json] [--strict]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from _support import (
    BENCH_DIR,
    REPO_ROOT,
    Column,
    child_pids,
    command_line,
    exit_on_sigterm,
    free_port,
    load_line,
    machine_line,
    median,
    memory_kib,
    sched_seconds,
    server,
    stop_process,
    table,
    verdict,
)

GOAL = 0.9
VARIANTS = ("relaykit", "bare")
APP = "bench/_functions/sse_relaykit.py"
BARE_APP = "sse_bare:api"
# What each side's Lambda worker runs (to find its processes among the emulator's children).
WORKER_MARKERS = {"relaykit": "relaykit.lambda_runtime", "bare": "sse_bare_runtime.py"}


@dataclass(frozen=True)
class Shape:
    """One load: how many streams, how many tokens each, how fast they open, when to give up."""

    streams: int
    tokens: int
    ramp: float
    deadline: float
    delay: float = 0.05
    """Seconds between two tokens of a stream (the servers' pace, for the report)."""


def server_args(name: str, port: int) -> list[str]:
    if name == "relaykit":
        return ["-m", "relaykit", "serve", APP, "--port", str(port), "--log-level", "warning"]
    return [
        "-m", "uvicorn", BARE_APP, "--app-dir", "bench/_functions", "--host", "127.0.0.1",
        "--port", str(port), "--workers", "1", "--log-level", "warning", "--proxy-headers",
        "--timeout-graceful-shutdown", "30",
    ]  # fmt: skip


# Measuring one load ---------------------------------------------------------------------------


class MemoryWatch:
    """Samples the summed VmRSS of ``pids`` in a thread; ``peak`` is the highest sum seen."""

    def __init__(self, pids: Sequence[int], interval: float) -> None:
        self.pids = list(pids)
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while True:
            self.peak = max(self.peak, sum(memory_kib(pid)[0] for pid in self.pids))
            if self._stop.wait(self.interval):
                return

    def __enter__(self) -> MemoryWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run_loadgen(port: int, shape: Shape) -> dict[str, Any]:
    """The load process against ``port``; its JSON result (killed if it outlives the deadline)."""
    command = [
        sys.executable,
        str(BENCH_DIR / "_sse_loadgen.py"),
        f"--port={port}",
        f"--streams={shape.streams}",
        f"--tokens={shape.tokens}",
        f"--ramp={shape.ramp}",
        f"--deadline={shape.deadline}",
    ]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=shape.deadline + 60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if proc.returncode != 0:
        raise RuntimeError(f"the load generator failed ({proc.returncode}):\n{err}")
    result: dict[str, Any] = json.loads(out)
    return result


def measure(
    port: int, shape: Shape, server_pids: Sequence[int], platform_pids: Sequence[int] = ()
) -> dict[str, Any]:
    """One load with the servers' CPU (time on a core, and time runnable but waiting for one)
    and memory around it."""
    run0, wait0 = sched_total(server_pids)
    platform0, _ = sched_total(platform_pids)
    rss0 = sum(memory_kib(pid)[0] for pid in server_pids)
    interval = 0.2 if len(server_pids) < 10 else 0.5
    pressure0, began = cpu_pressure_us(), time.monotonic()
    with MemoryWatch(server_pids, interval) as watch:
        result = run_loadgen(port, shape)
    wall = time.monotonic() - began
    result["cpu_pressure"] = (cpu_pressure_us() - pressure0) / 1e6 / wall
    run1, wait1 = sched_total(server_pids)
    result["server_cpu_s"], result["server_wait_s"] = run1 - run0, wait1 - wait0
    result["platform_cpu_s"] = sched_total(platform_pids)[0] - platform0
    result["rss_before_kib"] = rss0
    result["rss_peak_kib"] = max(watch.peak, rss0)
    result["hwm_kib"] = sum(memory_kib(pid)[1] for pid in server_pids)
    return result


def sched_total(pids: Sequence[int]) -> tuple[float, float]:
    times = [sched_seconds(pid) for pid in pids]
    return sum(run for run, _ in times), sum(wait for _, wait in times)


def cpu_pressure_us() -> int:
    """Microseconds some task waited for a CPU so far (``/proc/pressure/cpu``; 0 if absent)."""
    try:
        line = Path("/proc/pressure/cpu").read_text().splitlines()[0]
    except (OSError, IndexError):
        return 0
    return int(line.rsplit("total=", 1)[1])


def round_line(name: str, r: dict[str, Any]) -> str:
    return (
        f"  {name:<8} held {r['held_max']:>5}  done {r['completed']:>5}  errors {r['errors']:>3}"
        f"  {r['tokens_per_s']:8.0f} tok/s  gap p50 {r['gap_p50_ms']:6.1f} p99 "
        f"{r['gap_p99_ms']:7.1f} max {r['gap_max_ms']:7.1f} ms  server CPU "
        f"{r['server_cpu_s'] / r['elapsed_s']:4.0%} (waited "
        f"{r['server_wait_s'] / r['elapsed_s']:4.0%})  client CPU "
        f"{r['client_cpu_s'] / r['elapsed_s']:4.0%}  CPU pressure {r['cpu_pressure']:4.0%}"
        + (f"  first error: {r['first_error']}" if r["errors"] else "")
    )


# The container --------------------------------------------------------------------------------


def container_round(
    name: str, shape: Shape, warm: Shape, profile: Path | None = None
) -> dict[str, Any]:
    """A fresh server, a short warm-up, then the load (fresh, so the memory delta is its own).
    With ``profile``, the server runs under cProfile and writes ``profile`` when stopped."""
    port = free_port()
    command = server_args(name, port)
    if profile is not None:
        command = ["-m", "cProfile", "-o", str(profile), *command]
    with server(command, port) as proc:
        run_loadgen(port, warm)
        return measure(port, shape, [proc.pid])


def run_container(args: argparse.Namespace, shape: Shape) -> dict[str, list[dict[str, Any]]]:
    warm = Shape(streams=min(20, shape.streams), tokens=5, ramp=0.2, deadline=30.0)
    rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in VARIANTS}
    for i in range(args.rounds):
        for name in VARIANTS if i % 2 == 0 else VARIANTS[::-1]:
            profile = args.profile / f"{name}-{i + 1}.prof" if args.profile else None
            result = container_round(name, shape, warm, profile)
            result["memory_per_stream_kib"] = (
                result["rss_peak_kib"] - result["rss_before_kib"]
            ) / shape.streams
            rounds[name].append(result)
            print(f"round {i + 1}" + round_line(name, result), flush=True)
    return rounds


# The Lambda emulator --------------------------------------------------------------------------


@contextlib.contextmanager
def emulator(concurrency: int, timeout: float) -> Iterator[tuple[int, dict[str, str]]]:
    """The emulator process; yields (its pid, {function: Function URL})."""
    proc = subprocess.Popen(
        [
            sys.executable,
            str(BENCH_DIR / "_sse_emulator.py"),
            f"--concurrency={concurrency}",
            f"--timeout={timeout}",
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the emulator exited with {proc.wait()}")
        yield proc.pid, json.loads(line)["urls"]
    finally:
        stop_process(proc, grace=30)


def port_of(url: str) -> int:
    port = urlsplit(url).port
    assert port is not None
    return port


def cold_start(name: str, port: int, streams: int, emulator_pid: int) -> list[int]:
    """Start every environment of ``name`` at once (a burst of short streams); their pids."""
    burst = Shape(streams=streams, tokens=20, ramp=0.0, deadline=300.0)
    result = run_loadgen(port, burst)
    workers = [pid for pid in child_pids(emulator_pid) if WORKER_MARKERS[name] in command_line(pid)]
    print(
        f"  {name}: {len(workers)} environments started, burst of {streams}: "
        f"{result['completed']} completed, {result['errors']} errors "
        f"{result['first_error']}".rstrip(),
        flush=True,
    )
    if len(workers) != streams:
        raise RuntimeError(f"{name}: {len(workers)} environments, wanted {streams}")
    return workers


def run_lambda(args: argparse.Namespace, shape: Shape) -> dict[str, list[dict[str, Any]]]:
    timeout = shape.deadline + 60
    rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in VARIANTS}
    with emulator(shape.streams, timeout) as (emulator_pid, urls):
        ports = {name: port_of(urls[name]) for name in VARIANTS}
        print(f"cold-starting {shape.streams} environments per function", flush=True)
        workers = {
            name: cold_start(name, ports[name], shape.streams, emulator_pid) for name in VARIANTS
        }
        for i in range(args.rounds):
            for name in VARIANTS if i % 2 == 0 else VARIANTS[::-1]:
                result = measure(ports[name], shape, workers[name], [emulator_pid])
                result["memory_per_stream_kib"] = result["rss_peak_kib"] / shape.streams
                rounds[name].append(result)
                print(f"round {i + 1}" + round_line(name, result), flush=True)
    return rounds


# Report ---------------------------------------------------------------------------------------


def summarise(rounds: Sequence[dict[str, Any]]) -> dict[str, Any]:
    def med(key: str) -> float:
        return median([r[key] for r in rounds])

    summary: dict[str, Any] = {
        key: med(key)
        for key in (
            "tokens_per_s",
            "steady_tokens_per_s",
            "gap_p50_ms",
            "gap_p99_ms",
            "gap_max_ms",
            "first_token_p50_ms",
            "duration_p50_s",
            "rss_peak_kib",
            "memory_per_stream_kib",
        )
    }
    summary["held"] = min(r["held_max"] for r in rounds)
    summary["completed"] = min(r["completed"] for r in rounds)
    summary["errors"] = sum(r["errors"] for r in rounds)
    kinds: dict[str, int] = {}
    for r in rounds:
        for kind, count in r["error_kinds"].items():
            kinds[kind] = kinds.get(kind, 0) + count
    summary["error_kinds"] = kinds
    summary["server_cpu_share"] = median([r["server_cpu_s"] / r["elapsed_s"] for r in rounds])
    summary["server_wait_share"] = median([r["server_wait_s"] / r["elapsed_s"] for r in rounds])
    summary["cpu_us_per_token"] = median(
        [r["server_cpu_s"] / max(1, r["tokens"]) * 1e6 for r in rounds]
    )
    summary["platform_cpu_share"] = median([r["platform_cpu_s"] / r["elapsed_s"] for r in rounds])
    summary["client_cpu_share"] = median([r["client_cpu_s"] / r["elapsed_s"] for r in rounds])
    summary["cpu_pressure"] = median([r["cpu_pressure"] for r in rounds])
    return summary


def report(title: str, shape: Shape, summary: dict[str, dict[str, Any]]) -> tuple[str, bool]:
    rk, bare = summary["relaykit"], summary["bare"]
    rows: list[list[str]] = []
    for label, s in (("relaykit", rk), ("bare", bare)):
        rows.append(
            [
                label,
                f"{s['held']}/{shape.streams}",
                f"{s['completed']}",
                f"{s['errors']}",
                f"{s['tokens_per_s']:.0f}",
                f"{s['steady_tokens_per_s']:.0f}",
                f"{s['gap_p50_ms']:.1f}",
                f"{s['gap_p99_ms']:.1f}",
                f"{s['gap_max_ms']:.0f}",
                f"{s['server_cpu_share']:.0%}",
                f"{s['cpu_us_per_token']:.0f}",
                f"{s['rss_peak_kib'] / 1024:.0f}",
                f"{s['memory_per_stream_kib']:.1f}",
            ]
        )
    keys = ["tokens_per_s", "steady_tokens_per_s", "gap_p50_ms", "gap_p99_ms", "gap_max_ms"]
    keys += ["server_cpu_share", "cpu_us_per_token", "rss_peak_kib", "memory_per_stream_kib"]
    rows.append(["relaykit/bare", "", "", "", *[_ratio(rk[k], bare[k]) for k in keys]])
    columns = [Column("", 13), Column("held", 10), Column("done", 6), Column("errors", 6)]
    columns += [Column("tok/s", 7), Column("steady", 7), Column("gap p50", 8)]
    columns += [Column("gap p99", 8), Column("max ms", 7), Column("CPU", 6)]
    columns += [Column("us/token", 8), Column("RSS MiB", 8), Column("KiB/stream", 10)]
    ratio = rk["tokens_per_s"] / bare["tokens_per_s"]
    ok = ratio >= GOAL and rk["errors"] == 0
    lines = [
        title,
        table(columns, rows),
        f"tokens/s relaykit/bare = {ratio:.2f} (goal >= {GOAL}) and relaykit errors = "
        f"{rk['errors']} (goal 0): {verdict(ok)}",
        f"gap p99 relaykit/bare = {rk['gap_p99_ms'] / bare['gap_p99_ms']:.2f}x; server CPU per "
        f"token {rk['cpu_us_per_token'] / bare['cpu_us_per_token']:.2f}x (tokens/s a core "
        f"gives at that cost: 1e6 / us per token = "
        f"{1e6 / rk['cpu_us_per_token']:.0f} / {1e6 / bare['cpu_us_per_token']:.0f}; this load "
        f"asks {shape.streams / shape.delay:.0f})",
        f"server runnable but waiting for a core: {rk['server_wait_share']:.0%} / "
        f"{bare['server_wait_share']:.0%} of the run (relaykit / bare)",
        f"load generator used {rk['client_cpu_share']:.0%} / {bare['client_cpu_share']:.0%} of a "
        f"core (relaykit / bare runs); CPU pressure (share of time some task waited for a "
        f"core, all processes): {rk['cpu_pressure']:.0%} / {bare['cpu_pressure']:.0%}",
    ]
    if rk["errors"] or bare["errors"]:
        lines.append(f"errors by kind: relaykit {rk['error_kinds']}, bare {bare['error_kinds']}")
    if rk["platform_cpu_share"] or bare["platform_cpu_share"]:
        lines.append(
            f"emulator (Function URL front, Runtime API) used {rk['platform_cpu_share']:.0%} / "
            f"{bare['platform_cpu_share']:.0%} of a core"
        )
    return "\n".join(lines), ok


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "-"


# Main -----------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--streams", type=int, default=1000, help="container streams (1000)")
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds per stream (10)")
    parser.add_argument("--ramp", type=float, help="seconds to open them (default seconds/2)")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds (2)")
    parser.add_argument(
        "--lambda-streams", type=int, default=100, help="Lambda environments = streams (100)"
    )
    parser.add_argument("--delay", type=float, default=0.05, help="local model s/token (0.05)")
    parser.add_argument("--only", choices=["container", "lambda"])
    parser.add_argument("--quick", action="store_true", help="a small smoke run (~1 min)")
    parser.add_argument("--json", type=Path, help="also write every round's figures here")
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="run the container servers under cProfile, one NAME-ROUND.prof per server in DIR "
        "(slows them: for where the time goes, not for figures)",
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when below a goal")
    args = parser.parse_args(argv)
    if args.profile:
        args.profile = args.profile.resolve()
        args.profile.mkdir(parents=True, exist_ok=True)
    if args.quick:
        args.streams, args.seconds, args.rounds, args.lambda_streams = 50, 2.0, 1, 4
    return args


def shape_for(args: argparse.Namespace, streams: int) -> Shape:
    tokens = max(2, round(args.seconds / args.delay))
    ramp = args.seconds / 2 if args.ramp is None else args.ramp
    return Shape(streams, tokens, ramp, deadline=ramp + 3 * args.seconds + 30, delay=args.delay)


def check_same_tokens(tokens: int) -> None:
    """Fail unless the baselines send the very words relaykit's local model streams."""
    import asyncio

    sys.path.insert(0, str(BENCH_DIR / "_functions"))
    from sse_tokens import reply_pieces

    from _sse_loadgen import prompt_for
    from relaykit.llm.local import LocalModel

    async def local_words() -> list[str]:
        stream = LocalModel(delay=0).stream(
            [{"role": "user", "content": prompt_for(tokens)}], max_tokens=tokens
        )
        return [text async for text in stream]

    words = asyncio.run(local_words())
    if words != reply_pieces(prompt_for(tokens), tokens) or len(words) != tokens:
        raise RuntimeError("the baselines' tokens differ from the local model's: fix sse_tokens")


def raise_fd_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(needed, hard), hard))


def run(args: argparse.Namespace) -> tuple[list[str], bool, dict[str, Any]]:
    os.environ["RELAYKIT_LOCAL_MODEL_DELAY"] = str(args.delay)  # every server inherits it
    raise_fd_limit(2 * args.streams + 256)
    sections: list[tuple[str, str, int, Callable[..., dict[str, list[dict[str, Any]]]]]] = [
        ("container", "relaykit serve vs bare FastAPI + uvicorn", args.streams, run_container),
        ("lambda", "Lambda emulator, RESPONSE_STREAM", args.lambda_streams, run_lambda),
    ]
    reports, all_ok, raw = [], True, {}
    for key, title, streams, runner in sections:
        if args.only not in (None, key):
            continue
        shape = shape_for(args, streams)
        check_same_tokens(shape.tokens)
        heading = (
            f"{title}: {shape.streams} streams x {shape.tokens} tokens at "
            f"{1 / args.delay:g} tokens/s, opened over {shape.ramp:g} s, {args.rounds} rounds"
        )
        print(f"\n{heading}", flush=True)
        rounds = runner(args, shape)
        raw[key] = rounds
        text, ok = report(heading, shape, {name: summarise(rounds[name]) for name in VARIANTS})
        reports.append(text)
        all_ok = all_ok and ok
    return reports, all_ok, raw


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    exit_on_sigterm()
    print(machine_line(), flush=True)
    reports, all_ok, raw = run(args)
    print("\n" + "\n\n".join(reports))
    print(
        "\ncolumns: held = most streams open at once; tok/s = tokens / (first request to last "
        "token); steady = tok/s while every stream was open; gap = time between two tokens of a "
        "stream at the client; CPU = server CPU in share of a core (Lambda: all environments); "
        "RSS = peak server RSS (Lambda: summed over environments); KiB/stream = container: "
        "(peak - before) / streams, Lambda: environments' RSS / streams"
    )
    print(load_line())
    if args.json:
        args.json.write_text(json.dumps(raw, indent=1))
    return 1 if args.strict and not all_ok else 0


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)

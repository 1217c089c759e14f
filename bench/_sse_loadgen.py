"""Many concurrent SSE streams on raw asyncio protocols, run as its own process (bench/sse_load.py).

``python bench/_sse_loadgen.py --port N --streams 1000 --tokens 200 --ramp 5 --deadline 60``
opens ``streams`` loopback connections, one every ``ramp / streams`` seconds, and on each sends
one ``POST /tokens`` (``{"text": PROMPT, "tokens": N}``, HTTP/1.1) and reads its SSE response
to the end: chunked framing decoded as bytes arrive, one timestamp per token event. A stream
counts as completed when it ends with ``event: end`` after exactly ``tokens`` token events and
the terminal chunk; anything else (refused connection, a status other than 200, a connection
closed early, a wrong count, still open at ``deadline`` seconds after the first request) is an
error, counted by kind. Prints one JSON object: streams completed and with errors, the most
streams open at once, every inter-token gap's p50/p90/p99/max, per-stream duration, tokens
delivered per second (overall, and while every stream was open), and the generator's own CPU.

asyncio ``Protocol`` callbacks rather than streams or httpx: at 1,000 streams of 20 tokens/s the
generator handles 20,000 events a second on the same 2 cores as the server it measures, and a
``StreamReader`` per connection (or an httpx client) costs several times the CPU. The cyclic
garbage collector is off during the run so that its pauses do not show up as token gaps.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import resource
import sys
import time
from array import array
from collections import Counter
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

HOST = "127.0.0.1"


@dataclass
class Tally:
    """What every stream of one run shares: counters, the gaps, and the streams held open."""

    tokens_expected: int
    gaps: array[float] = field(default_factory=lambda: array("d"))
    durations: list[float] = field(default_factory=list)
    firsts: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    first_error: str = ""
    completed: int = 0
    open_now: int = 0
    open_max: int = 0
    all_open_at: float = 0.0
    first_end_at: float = float("inf")
    tokens: int = 0
    token_times: list[array[float]] = field(default_factory=list)

    def error(self, kind: str, detail: str) -> None:
        self.errors[kind] += 1
        self.first_error = self.first_error or f"{kind}: {detail}"


class SSEStream(asyncio.Protocol):
    """One connection, one request, one SSE response read to its end."""

    def __init__(self, request: bytes, tally: Tally, done: asyncio.Future[None]) -> None:
        self.request = request
        self.tally = tally
        self.done = done
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.events = bytearray()
        self.head_seen = False
        self.ended = False  # the ``event: end`` arrived
        self.failed = ""  # the ``event: error`` that ended the stream, if any
        self.times: array[float] = array("d")
        self.sent_at = 0.0

    # asyncio callbacks ------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.sent_at = time.perf_counter()
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        self.buffer += data
        try:
            if not self.head_seen and not self._head():
                return
            self._body(now)
        except (ValueError, IndexError) as exc:
            self._finish("bad framing", repr(exc))

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self._finish("closed early", f"after {len(self.times)} tokens: {exc!r}")

    # parsing -----------------------------------------------------------------------------------

    def _head(self) -> bool:
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return False
        head = bytes(self.buffer[:end]).lower()
        del self.buffer[: end + 4]
        status = head.split(b" ", 2)[1]
        if status != b"200":
            self._finish(f"status {status.decode()}", bytes(head[:120]).decode("latin-1"))
            return False
        if b"transfer-encoding: chunked" not in head:
            self._finish("not chunked", bytes(head[:200]).decode("latin-1"))
            return False
        self.head_seen = True
        tally = self.tally
        tally.open_now += 1
        if tally.open_now > tally.open_max:
            tally.open_max = tally.open_now
            tally.all_open_at = time.perf_counter()
        return True

    def _body(self, now: float) -> None:
        buffer = self.buffer
        while True:
            line_end = buffer.find(b"\r\n")
            if line_end < 0:
                return
            size = int(bytes(buffer[:line_end]).split(b";")[0], 16)
            if size == 0:
                self._finish(None, "")
                return
            if len(buffer) < line_end + 2 + size + 2:
                return
            self.events += buffer[line_end + 2 : line_end + 2 + size]
            del buffer[: line_end + 4 + size]
            self._events(now)

    def _events(self, now: float) -> None:
        events = self.events
        while (cut := events.find(b"\n\n")) >= 0:
            if events.startswith(b"id: "):
                self.times.append(now)
            elif events.startswith(b"event: end"):
                self.ended = True
            elif events.startswith(b"event: error"):
                self.failed = bytes(events[:cut]).decode("utf-8", "replace")
            del events[: cut + 2]

    def _finish(self, error: str | None, detail: str) -> None:
        if self.done.done():
            return
        tally = self.tally
        if self.head_seen:
            tally.open_now -= 1
        times = self.times
        if error is None and self.failed:
            error, detail = "error event", self.failed
        if error is None and (not self.ended or len(times) != tally.tokens_expected):
            error, detail = "wrong count", f"{len(times)} tokens, end event: {self.ended}"
        if error is None:
            tally.completed += 1
            tally.durations.append(times[-1] - times[0])
            tally.first_end_at = min(tally.first_end_at, times[-1])
        else:
            tally.error(error, detail)
        if times:
            tally.firsts.append(times[0] - self.sent_at)
            tally.tokens += len(times)
            tally.token_times.append(times)
            tally.gaps.extend(b - a for a, b in pairwise(times))
        self.done.set_result(None)
        if self.transport is not None:
            self.transport.close()


# A run ------------------------------------------------------------------------------------------


def prompt_for(tokens: int) -> str:
    """A prompt long enough that the local model's reply is cut at ``tokens`` words."""
    return " ".join(f"w{i}" for i in range(tokens))


def request_bytes(port: int, path: str, tokens: int) -> bytes:
    body = json.dumps({"text": prompt_for(tokens), "tokens": tokens}).encode()
    return (
        f"POST {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nContent-Type: application/json\r\n"
        f"Accept: text/event-stream\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


async def open_stream(port: int, request: bytes, tally: Tally, streams: list[SSEStream]) -> None:
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    protocol = SSEStream(request, tally, done)
    streams.append(protocol)
    try:
        await loop.create_connection(lambda: protocol, HOST, port)
    except OSError as exc:
        tally.error("connect", repr(exc))
        done.set_result(None)
        return
    await done


async def run(args: argparse.Namespace) -> dict[str, Any]:
    tally = Tally(args.tokens)
    request = request_bytes(args.port, args.path, args.tokens)
    streams: list[SSEStream] = []
    tasks: list[asyncio.Task[None]] = []
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    interval = args.ramp / args.streams
    for i in range(args.streams):
        delay = started + i * interval - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(open_stream(args.port, request, tally, streams)))
    remaining = started + args.deadline - time.perf_counter()
    _, pending = await asyncio.wait(tasks, timeout=max(0.0, remaining))
    for stream in streams:
        if not stream.done.done():
            stream._finish("deadline", f"open after {args.deadline:g} s")
    if pending:
        await asyncio.wait(pending, timeout=5)
    ended = time.perf_counter()
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    last_token = max((t[-1] for t in tally.token_times if t), default=ended)
    return summary(args, tally, started, last_token, cpu1, cpu0)


def percentile_ms(ordered: list[float], pct: float) -> float:
    """Nearest-rank percentile of a sorted list, in milliseconds."""
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1] * 1000


def summary(
    args: argparse.Namespace,
    tally: Tally,
    started: float,
    ended: float,
    cpu1: resource.struct_rusage,
    cpu0: resource.struct_rusage,
) -> dict[str, Any]:
    gaps = sorted(tally.gaps)
    durations = sorted(tally.durations)
    firsts = sorted(tally.firsts)
    elapsed = ended - started
    # Tokens delivered while every stream was open: from the moment the most streams were
    # held at once to the first stream's end (empty when the ramp outlasts a stream).
    lo, hi = tally.all_open_at, tally.first_end_at
    steady = float("nan")
    if tally.open_max == args.streams and hi > lo + 0.5:
        inside = sum(1 for times in tally.token_times for t in times if lo <= t < hi)
        steady = inside / (hi - lo)
    client_cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    return {
        "streams": args.streams,
        "completed": tally.completed,
        "errors": sum(tally.errors.values()),
        "error_kinds": dict(tally.errors),
        "first_error": tally.first_error,
        "held_max": tally.open_max,
        "tokens": tally.tokens,
        "elapsed_s": elapsed,
        "tokens_per_s": tally.tokens / elapsed if elapsed > 0 else float("nan"),
        "steady_tokens_per_s": steady,
        "steady_window_s": max(0.0, hi - lo) if hi != float("inf") else 0.0,
        "gap_count": len(gaps),
        "gap_p50_ms": percentile_ms(gaps, 50),
        "gap_p90_ms": percentile_ms(gaps, 90),
        "gap_p99_ms": percentile_ms(gaps, 99),
        "gap_max_ms": gaps[-1] * 1000 if gaps else float("nan"),
        "first_token_p50_ms": percentile_ms(firsts, 50),
        "first_token_p99_ms": percentile_ms(firsts, 99),
        "duration_p50_s": percentile_ms(durations, 50) / 1000,
        "duration_p99_s": percentile_ms(durations, 99) / 1000,
        "client_cpu_s": client_cpu,
    }


def raise_fd_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(needed, hard), hard))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default="/tokens")
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--tokens", type=int, default=200, help="tokens per stream")
    parser.add_argument("--ramp", type=float, default=5.0, help="seconds to open every stream")
    parser.add_argument("--deadline", type=float, default=120.0, help="seconds, then abort")
    args = parser.parse_args(argv)
    raise_fd_limit(args.streams + 64)
    gc.disable()
    print(json.dumps(asyncio.run(run(args))))
    return 0


if __name__ == "__main__":
    sys.exit(main())

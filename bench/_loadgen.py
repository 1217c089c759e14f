"""A small HTTP/1.1 keep-alive load generator on raw asyncio sockets, run as its own process.

``python bench/_loadgen.py --port N --path /quote --body JSON [--sse] [--concurrency 32]
[--duration 2] [--max-requests 100000]`` opens ``concurrency`` loopback connections, then each
connection sends one POST after another (closed loop, keep-alive) until ``duration`` seconds
have passed or ``max-requests`` were sent, and prints one JSON object: requests, elapsed
seconds, requests/s, p50/p99 latency, errors, and the generator's own CPU time (if it nears the
elapsed time, the generator is the bottleneck). With ``--sse`` each response is an SSE stream:
latency is the time to the last byte, ``ttfb`` the time to the first event, and ``chunks``
counts data events (the final ``event: end`` excluded).

Raw sockets rather than httpx: an httpx request costs the client several times the CPU of this
parser, and on a 2-core machine the client shares the cores with the server it measures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import time
from dataclasses import dataclass, field

HOST = "127.0.0.1"


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)
    ttfbs: list[float] = field(default_factory=list)
    chunks: int = 0
    errors: int = 0
    sent: int = 0
    first_error: str = ""


class BadResponse(Exception):
    pass


async def read_response(
    reader: asyncio.StreamReader, sse: bool, started: float, stats: Stats
) -> None:
    """Read one response; count SSE events and record time to first event."""
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, _, header_block = head.partition(b"\r\n")
    status = int(status_line.split(b" ", 2)[1])
    headers = {}
    for line in header_block.split(b"\r\n"):
        name, sep, value = line.partition(b":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    body = bytearray()
    length = headers.get(b"content-length")
    if length is not None:
        body += await reader.readexactly(int(length))
    elif headers.get(b"transfer-encoding", b"").lower() == b"chunked":
        first = True
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")  # end of (empty) trailers
                break
            body += (await reader.readexactly(size + 2))[:-2]
            if first and sse:
                stats.ttfbs.append(time.perf_counter() - started)
                first = False
    else:
        raise BadResponse("response has neither content-length nor chunked encoding")
    if status != 200:
        raise BadResponse(f"status {status}: {bytes(body[:200])!r}")
    if sse:
        events = bytes(body).split(b"\n\n")
        if b"event: end" not in events[-2]:
            raise BadResponse("SSE stream did not finish with an end event")
        stats.chunks += sum(1 for e in events if e.startswith(b"id: ") or e.startswith(b"data: "))


@dataclass
class Load:
    """One measurement: the request, its bounds, and the shared state of every connection."""

    port: int
    request: bytes
    sse: bool
    concurrency: int
    duration: float
    max_requests: int
    stats: Stats = field(default_factory=Stats)
    opened: int = 0
    stop_at: float = float("inf")

    async def connection(self, go: asyncio.Event) -> None:
        """Open one keep-alive connection, wait for ``go``, then send requests until the end."""
        reader, writer = await asyncio.open_connection(HOST, self.port)
        self.opened += 1
        await go.wait()
        stats = self.stats
        try:
            while time.perf_counter() < self.stop_at and stats.sent < self.max_requests:
                stats.sent += 1
                started = time.perf_counter()
                writer.write(self.request)
                try:
                    await read_response(reader, self.sse, started, stats)
                except (BadResponse, ValueError, IndexError) as exc:
                    stats.errors += 1
                    stats.first_error = stats.first_error or str(exc)
                    break  # the connection's framing may be lost: stop using it
                stats.latencies.append(time.perf_counter() - started)
        finally:
            writer.close()

    async def run(self) -> dict[str, float | int | str]:
        go = asyncio.Event()
        tasks = [asyncio.create_task(self.connection(go)) for _ in range(self.concurrency)]
        while self.opened < self.concurrency:
            if any(task.done() for task in tasks):  # a connect failed: surface its error
                await asyncio.gather(*tasks)
            await asyncio.sleep(0.005)
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        started = time.perf_counter()
        self.stop_at = started + self.duration
        go.set()
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - started
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        stats = self.stats
        done = len(stats.latencies)
        return {
            "requests": done,
            "errors": stats.errors,
            "first_error": stats.first_error,
            "elapsed": elapsed,
            "rps": done / elapsed,
            "p50_ms": percentile_ms(stats.latencies, 50),
            "p99_ms": percentile_ms(stats.latencies, 99),
            "ttfb_p50_ms": percentile_ms(stats.ttfbs, 50),
            "chunks": stats.chunks,
            "chunks_per_s": stats.chunks / elapsed,
            "client_cpu_s": (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime),
        }


def percentile_ms(values: list[float], pct: float) -> float:
    """Nearest-rank percentile, in milliseconds."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1] * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", required=True)
    parser.add_argument("--body", required=True, help="the JSON request body")
    parser.add_argument("--sse", action="store_true", help="responses are SSE streams")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--duration", type=float, default=2.0, help="seconds (bounded)")
    parser.add_argument("--max-requests", type=int, default=100_000)
    args = parser.parse_args(argv)
    body = args.body.encode()
    request = (
        f"POST {args.path} HTTP/1.1\r\nHost: {HOST}:{args.port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    load = Load(args.port, request, args.sse, args.concurrency, args.duration, args.max_requests)
    print(json.dumps(asyncio.run(load.run())))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""relaykit's Lambda runtime: streaming through the local emulator, and warm invoke round trips.

Two measurements, every server on 127.0.0.1 in its own process (``bench/_lambda_emulator.py``
for the emulator and its workers, ``relaykit serve`` for uvicorn); the client here is a raw socket
(TCP_NODELAY) so that it adds as little as possible.

1. **Stream**: the same ``@app.stream("/tokens")`` handler (``bench/_functions/rt_relaykit.py``,
   32-byte text chunks yielded as fast as it can) called over HTTP (a) through relaykit's runtime
   + the emulator + its Function URL front in RESPONSE_STREAM mode, warm, and (b) as SSE from
   uvicorn directly. TTFB: request written → first ``data:`` byte read (``count=1``), median of
   ``--ttfb-n`` calls per round. Throughput: chunks per second between the first and the last
   ``data:`` of a ``count=--chunks`` stream. Goals: TTFB within 2 ms of uvicorn, throughput
   >= 0.8x.
2. **Warm invoke round trip**: a direct ``Invoke`` (``RequestResponse``) through the emulator's
   Invoke API, relaykit's runtime against AWS's ``awslambdaric`` 4.x on the same emulator.
   The goal is about the *runtime*, so the goal row gives both runtimes the same work: the same
   app (``bench/_functions/rt_relaykit.py``) and the same HTTP API v2 event (``POST /ping``, a
   trivial task: Mangum, routing, the task, buffered), served by relaykit's runtime
   (``python -m relaykit.lambda_runtime rt_relaykit:app``) and by awslambdaric calling
   ``app.lambda_handler`` (the managed-runtime entry point). Only the runtime loop differs.
   Two context rows pit relaykit against awslambdaric running a plain Python function that
   returns the same answer by hand: the same HTTP event (prices relaykit's HTTP layer as well),
   and ``{"relaykit": "sweep"}`` (the cheapest event relaykit's dispatch serves, on the memory
   store; the plain function answers ``{"swept": 0}``). Goal: relaykit/awslambdaric <= 1.0x on
   the same app.

Rounds are interleaved (A B, B A, ...); figures are medians over rounds; ratios relaykit/other.

    .venv/bin/python bench/lambda_runtime_stream.py [--rounds 7] [--chunks 2000] [--strict]
"""

from __future__ import annotations

import argparse
import http.client
import json
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _support import (
    REPO_ROOT,
    Column,
    exit_on_sigterm,
    free_port,
    load_line,
    machine_line,
    median,
    server,
    stop_process,
    table,
    verdict,
)

APP = "bench/_functions/rt_relaykit.py"
HTTP_API_EVENT = {
    "version": "2.0",
    "routeKey": "$default",
    "rawPath": "/ping",
    "rawQueryString": "",
    "headers": {"host": "bench.execute-api.us-east-1.amazonaws.com"},
    "requestContext": {
        "accountId": "123456789012",
        "apiId": "bench",
        "domainName": "bench.execute-api.us-east-1.amazonaws.com",
        "http": {"method": "POST", "path": "/ping", "protocol": "HTTP/1.1", "sourceIp": "1.2.3.4"},
        "requestId": "bench",
        "routeKey": "$default",
        "stage": "$default",
    },
    "isBase64Encoded": False,
}


# Servers --------------------------------------------------------------------------------------


@contextmanager
def emulator() -> Iterator[dict[str, str]]:
    """The emulator process; yields ``{"invoke": url, "stream": url, ...}``."""
    proc = subprocess.Popen(
        [sys.executable, str(REPO_ROOT / "bench" / "_lambda_emulator.py")],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the emulator exited with {proc.wait()}")
        info = json.loads(line)
        yield {"invoke": info["invoke"], **info["urls"]}
    finally:
        stop_process(proc, grace=15)


def address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.hostname and parts.port
    return parts.hostname, parts.port


# Stream client --------------------------------------------------------------------------------


THROTTLED = [0]


def stream_once(host: str, port: int, count: int, retries: int = 20) -> tuple[float, float, int]:
    """POST /tokens with body N; (TTFB s, seconds from first to last data byte, data events)."""
    body = str(count).encode()
    request = (
        f"POST /tokens HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Accept: text/event-stream\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body
    with socket.create_connection((host, port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        began = time.perf_counter()
        sock.sendall(request)
        data = bytearray()
        first = last = 0.0
        while True:
            piece = sock.recv(65536)
            now = time.perf_counter()
            if not piece:
                break
            data += piece
            if not first and b"data: " in data:
                first = now
            if not last and b"event: end" in data[-4096:]:
                last = now  # then read on to the end, so the invocation is over when we return
    head, _, rest = bytes(data).partition(b"\r\n\r\n")
    if head.startswith(b"HTTP/1.1 429") and retries:
        THROTTLED[0] += 1
        time.sleep(0.005)  # the environment is still finishing the previous invocation
        return stream_once(host, port, count, retries - 1)
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"stream answered {head[:80]!r}")
    events = rest.count(b"data: x")
    if events != count:
        raise RuntimeError(f"expected {count} chunks, got {events}")
    return first - began, last - first, events


def measure_stream(
    targets: dict[str, tuple[str, int]], rounds: int, ttfb_n: int, chunks: int
) -> dict[str, dict[str, float]]:
    ttfb: dict[str, list[float]] = {name: [] for name in targets}
    rate: dict[str, list[float]] = {name: [] for name in targets}
    names = list(targets)
    for host, port in targets.values():  # warm: worker started, imports done
        for _ in range(20):
            stream_once(host, port, 1)
        stream_once(host, port, chunks)
    for round_no in range(rounds):
        for name in names if round_no % 2 == 0 else names[::-1]:
            host, port = targets[name]
            ttfb[name].append(median([stream_once(host, port, 1)[0] for _ in range(ttfb_n)]))
            _, span, events = stream_once(host, port, chunks)
            rate[name].append((events - 1) / span)
    return {name: {"ttfb": median(ttfb[name]), "rate": median(rate[name])} for name in names}


# Invoke client --------------------------------------------------------------------------------


def invoker(url: str, function: str, payload: bytes) -> Callable[[], float]:
    """A function that makes one RequestResponse invoke and returns its round trip in s."""
    host, port = address(url)
    conn = http.client.HTTPConnection(host, port)
    conn.connect()
    assert conn.sock is not None
    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    path = f"/2015-03-31/functions/{function}/invocations"
    headers = {"Content-Type": "application/json", "X-Amz-Invocation-Type": "RequestResponse"}

    def once() -> float:
        began = time.perf_counter()
        conn.request("POST", path, body=payload, headers=headers)
        response = conn.getresponse()
        body = response.read()
        elapsed = time.perf_counter() - began
        if response.status != 200 or response.getheader("X-Amz-Function-Error"):
            raise RuntimeError(f"{function} answered {response.status}: {body[:200]!r}")
        return elapsed

    return once


def measure_invoke(
    url: str, payload: bytes, functions: tuple[str, str], rounds: int, n: int
) -> dict[str, float]:
    """Median round trip of ``functions`` (relaykit's, then the baseline), interleaved."""
    calls = {name: invoker(url, name, payload) for name in functions}
    for call in calls.values():
        for _ in range(50):
            call()
    samples: dict[str, list[float]] = {name: [] for name in calls}
    names = list(calls)
    for round_no in range(rounds):
        for name in names if round_no % 2 == 0 else names[::-1]:
            samples[name].append(median([calls[name]() for _ in range(n)]))
    figures = [median(samples[name]) for name in names]
    return {"relaykit": figures[0], "ric": figures[1]}


# Main -----------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--ttfb-n", type=int, default=30, help="TTFB calls per round")
    parser.add_argument("--chunks", type=int, default=2000, help="chunks per throughput stream")
    parser.add_argument("--invokes", type=int, default=200, help="invokes per round")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a goal is missed")
    args = parser.parse_args()
    exit_on_sigterm()
    print(machine_line())
    port = free_port()
    serve = ["-m", "relaykit", "serve", APP, "--port", str(port), "--log-level", "warning"]
    with emulator() as urls, server(serve, port):
        targets = {"lambda": address(urls["stream"]), "uvicorn": ("127.0.0.1", port)}
        stream = measure_stream(targets, args.rounds, args.ttfb_n, args.chunks)
        http_payload = json.dumps(HTTP_API_EVENT).encode()
        same_app = measure_invoke(
            urls["invoke"], http_payload, ("relaykit", "ric_app"), args.rounds, args.invokes
        )
        http_event = measure_invoke(
            urls["invoke"], http_payload, ("relaykit", "ric"), args.rounds, args.invokes
        )
        sweep = measure_invoke(
            urls["invoke"],
            json.dumps({"relaykit": "sweep"}).encode(),
            ("relaykit", "ric"),
            args.rounds,
            args.invokes,
        )

    lam, uvi = stream["lambda"], stream["uvicorn"]
    ttfb_gap_ms = (lam["ttfb"] - uvi["ttfb"]) * 1000
    rate_ratio = lam["rate"] / uvi["rate"]
    ratios = {
        name: r["relaykit"] / r["ric"]
        for name, r in (("same", same_app), ("http", http_event), ("sweep", sweep))
    }
    print(f"\nstream of 32-byte chunks, medians of {args.rounds} interleaved rounds")
    columns = [Column("path", 34), Column("TTFB ms", 9), Column("chunks/s", 10)]
    print(
        table(
            columns,
            [
                [
                    "runtime + emulator + Function URL",
                    f"{lam['ttfb'] * 1000:.2f}",
                    f"{lam['rate']:.0f}",
                ],
                ["uvicorn SSE (direct)", f"{uvi['ttfb'] * 1000:.2f}", f"{uvi['rate']:.0f}"],
            ],
        )
    )
    print(f"TTFB gap: {ttfb_gap_ms:+.2f} ms (goal <= 2 ms): {verdict(ttfb_gap_ms <= 2.0)}")
    print(f"throughput ratio: {rate_ratio:.2f}x (goal >= 0.8x): {verdict(rate_ratio >= 0.8)}")
    print(f"\nwarm invoke round trip via the Invoke API, medians of {args.rounds} rounds")
    columns = [
        Column("event", 44),
        Column("relaykit ms", 12),
        Column("ric ms", 9),
        Column("ratio", 7),
    ]
    rows = [
        [label, f"{r['relaykit'] * 1000:.3f}", f"{r['ric'] * 1000:.3f}", f"{ratios[key]:.2f}x"]
        for label, r, key in (
            ("HTTP API /ping, same app on both runtimes", same_app, "same"),
            ("HTTP API /ping, ric: plain function", http_event, "http"),
            ("sweep (direct invoke), ric: plain function", sweep, "sweep"),
        )
    ]
    print(table(columns, rows))
    same = ratios["same"]
    print(f"invoke ratio (same app): {same:.2f}x (goal <= 1.0x): {verdict(same <= 1.0)}")
    print(f"(streams retried after a 429 from the busy environment: {THROTTLED[0]})")
    print(load_line())
    missed = ttfb_gap_ms > 2.0 or rate_ratio < 0.8 or ratios["same"] > 1.0
    return 1 if (missed and args.strict) else 0


if __name__ == "__main__":
    sys.exit(main())

"""Event-source benchmarks: the container worker against a bare boto3 loop, and Lambda SQS batch
dispatch against Powertools' ``process_partial_response`` alone.

Run: ``.venv/bin/python bench/event_sources.py [--messages 1000] [--rounds 5] [--batches 2000]``.

Worker throughput (records/s): one moto server (``python -m moto.server``, a subprocess on a free
loopback port, real boto3, dummy credentials) and one standard queue. Each round fills the queue
with ``--messages`` JSON messages, then drains it, timed from the first receive to the last
delete, with

- **bare**: a loop of ``receive_message`` (10 messages, 1 s long poll), a pydantic
  ``model_validate_json`` of each body, and one ``delete_message_batch`` per batch;
- **relaykit**: ``relaykit.targets.worker.Worker`` on an app whose ``@app.on_sqs`` handler takes the
  same pydantic model and ``ctx`` (queue URL resolved before the clock starts).

moto's ``ReceiveMessage`` costs grow with the queue's depth (about 90 ms per call at 100 queued
messages, 250 ms at 300 on a 2-core machine), so rounds are kept small and the absolute rates are
moto's, not SQS's: the ratio is the figure. Rounds alternate which side goes first; medians.
Goal: relaykit/bare >= 0.8.

Lambda dispatch (µs per record): the same SQS event (documented shape, 10 and 100 records)
through ``process_partial_response`` with a ``BatchProcessor(EventType.SQS)`` and a plain ``def``
record handler doing the pydantic validation (the goal's baseline), and through
``app.lambda_handler`` (metrics off) with

- **relaykit sync**: a plain ``def`` handler taking the pydantic model and ``ctx``, the
  like-for-like comparison (relaykit serves such a batch in the calling thread, one record after
  another, without its event loop, as ``BatchProcessor`` does);
- **relaykit async**: an ``async def`` handler taking the model and ``ctx`` (records run
  concurrently on the environment's event loop), compared to the baseline and to
  ``async_process_partial_response`` with an ``AsyncBatchProcessor`` and an async handler
  (``LAMBDA_TASK_ROOT`` set, as on Lambda, so Powertools reuses one loop);
- **no ctx**: the ``async def`` handler without ``ctx`` (so no ``Context`` is built: the share of
  the per-record context in the async figure).

Every record succeeds. Interleaved runs; medians of wall time and of process CPU time (steadier
on a shared machine: the work is single-threaded and CPU-bound). Goal: relaykit sync/Powertools
<= 1.2 (wall).

``--only lambda`` (or ``--only worker``) runs one half.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "framework"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from pydantic import BaseModel  # noqa: E402

from _support import exit_on_sigterm, free_port, stop_process  # noqa: E402
from relaykit import Context as RelaykitContext  # noqa: E402

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
}


class Order(BaseModel):
    order_id: str
    text: str
    amount: float


def body(index: int) -> str:
    return json.dumps({"order_id": f"o-{index}", "text": "summarise me", "amount": 12.5})


# Worker throughput ------------------------------------------------------------------------------


def start_moto() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1)
            return proc, endpoint
        except OSError:
            time.sleep(0.1)
    stop_process(proc)
    raise SystemExit("moto server did not start")


def fill(client: Any, url: str, count: int) -> None:
    for start in range(0, count, 10):
        entries = [{"Id": str(i), "MessageBody": body(start + i)} for i in range(10)]
        client.send_message_batch(QueueUrl=url, Entries=entries[: count - start])


def bare_loop(client: Any, url: str, count: int) -> float:
    """The baseline: receive, validate, delete in batches, until ``count`` are done."""
    done = 0
    began = time.perf_counter()
    while done < count:
        got = client.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        messages = got.get("Messages", [])
        for message in messages:
            Order.model_validate_json(message["Body"])
        if messages:
            entries = [
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
            ]
            client.delete_message_batch(QueueUrl=url, Entries=entries)
            done += len(messages)
    return count / (time.perf_counter() - began)


def relaykit_worker(queue: str, count: int) -> float:
    from relaykit import App
    from relaykit.targets.worker import Worker

    app = App("bench", settings={"metrics": False, "store": "memory://", "log_level": "WARNING"})

    @app.on_sqs(queue)
    async def handle(order: Order, ctx: RelaykitContext) -> None:
        return None

    async def main() -> float:
        worker = Worker(app, wait_seconds=1)
        await worker.resolve()
        began = time.perf_counter()
        task = asyncio.create_task(worker.run())
        while worker.processed < count:  # noqa: ASYNC110
            await asyncio.sleep(0.002)
        elapsed = time.perf_counter() - began
        worker.stop()
        await task
        return count / elapsed

    return asyncio.run(main())


def worker_throughput(messages: int, rounds: int) -> tuple[float, float]:
    import boto3

    proc, endpoint = start_moto()
    os.environ.update(CREDENTIALS)
    os.environ["AWS_ENDPOINT_URL_SQS"] = endpoint
    try:
        client = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1")
        queues = iter(range(1_000_000))

        def fresh(count: int) -> tuple[str, str]:
            # A new queue per run: the worker's last long poll, abandoned when it stops, may
            # still take messages (hidden for the visibility timeout) from a reused queue.
            name = f"bench-{next(queues)}"
            url: str = client.create_queue(QueueName=name)["QueueUrl"]
            fill(client, url, count)
            return name, url

        bare_loop(client, fresh(50)[1], 50)  # warm-up (client models, connections, imports)
        relaykit_worker(fresh(50)[0], 50)
        bare: list[float] = []
        ours: list[float] = []
        for index in range(rounds):
            for side in ("bare", "relaykit") if index % 2 == 0 else ("relaykit", "bare"):
                name, url = fresh(messages)
                if side == "bare":
                    bare.append(bare_loop(client, url, messages))
                else:
                    ours.append(relaykit_worker(name, messages))
            print(f"  round {index + 1}: bare {bare[-1]:8.0f}/s  relaykit {ours[-1]:8.0f}/s")
        return statistics.median(bare), statistics.median(ours)
    finally:
        stop_process(proc)


# Lambda dispatch --------------------------------------------------------------------------------


class LambdaContext:
    function_name = "bench"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    aws_request_id = "2d6c1c2f-0000-4000-8000-000000000001"
    memory_limit_in_mb = 1024

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def sqs_event(records: int) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": f"19dd0b57-b21e-4ac1-bd88-01bbb068{index:04d}",
                "receiptHandle": "MessageReceiptHandle",
                "body": body(index),
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "1732795200000",
                    "SenderId": "AIDAIENQZJOLO23YVJ4VO",
                    "ApproximateFirstReceiveTimestamp": "1732795200010",
                },
                "messageAttributes": {},
                "md5OfBody": "7b270e59b47ff90a553787216d55d91d",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:bench",
                "awsRegion": "us-east-1",
            }
            for index in range(records)
        ]
    }


def lambda_dispatch(records: int, batches: int, runs: int) -> dict[str, tuple[float, float]]:
    """Median (wall, CPU) µs per record of each variant on ``records``-record events."""
    import logging

    from aws_lambda_powertools.utilities.batch import (
        AsyncBatchProcessor,
        BatchProcessor,
        EventType,
        async_process_partial_response,
        process_partial_response,
    )

    from relaykit import App

    os.environ["RELAYKIT_LOG_LEVEL"] = "WARNING"
    os.environ.setdefault("LAMBDA_TASK_ROOT", str(ROOT))
    app = App("bench", settings={"metrics": False, "store": "memory://"})

    @app.on_sqs("bench")
    async def handle(order: Order, ctx: RelaykitContext) -> None:
        return None

    plain = App("bench-sync", settings={"metrics": False, "store": "memory://"})

    @plain.on_sqs("bench")
    def handle_sync(order: Order, ctx: RelaykitContext) -> None:
        return None

    bare = App("bench-no-ctx", settings={"metrics": False, "store": "memory://"})

    @bare.on_sqs("bench")
    async def handle_without_ctx(order: Order) -> None:
        return None

    handler = app.lambda_handler
    handler_sync = plain.lambda_handler
    handler_without_ctx = bare.lambda_handler
    event = sqs_event(records)
    context = LambdaContext()

    def record_handler(record: Any) -> None:
        Order.model_validate_json(record.body)

    async def async_record_handler(record: Any) -> None:
        Order.model_validate_json(record.body)

    def powertools() -> Any:
        processor = BatchProcessor(event_type=EventType.SQS)
        return process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )

    def powertools_async() -> Any:
        processor = AsyncBatchProcessor(event_type=EventType.SQS)
        return async_process_partial_response(
            event=event, record_handler=async_record_handler, processor=processor, context=context
        )

    def ours() -> Any:
        return handler(event, context)

    def ours_sync() -> Any:
        return handler_sync(event, context)

    def ours_without_ctx() -> Any:
        return handler_without_ctx(event, context)

    variants = [("powertools", powertools), ("powertools_async", powertools_async)]
    variants += [("relaykit_sync", ours_sync), ("relaykit", ours)]
    variants += [("relaykit_no_ctx", ours_without_ctx)]
    for _, fn in variants:
        assert fn() == {"batchItemFailures": []}
    logging.getLogger().setLevel(logging.WARNING)
    wall: dict[str, list[float]] = {name: [] for name, _ in variants}
    cpu: dict[str, list[float]] = {name: [] for name, _ in variants}
    per_record = batches * records / 1e6
    for index in range(runs):
        for name, fn in variants if index % 2 == 0 else variants[::-1]:
            began, began_cpu = time.perf_counter(), time.process_time()
            for _ in range(batches):
                fn()
            cpu[name].append((time.process_time() - began_cpu) / per_record)
            wall[name].append((time.perf_counter() - began) / per_record)
    handler.close()
    handler_sync.close()
    handler_without_ctx.close()
    return {name: (statistics.median(wall[name]), statistics.median(cpu[name])) for name in wall}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200, help="messages per round")
    parser.add_argument("--rounds", type=int, default=6, help="worker rounds per side")
    parser.add_argument("--batches", type=int, default=500, help="10-record batches per run")
    parser.add_argument("--runs", type=int, default=7, help="Lambda runs per side")
    parser.add_argument("--only", choices=("worker", "lambda"), help="run one half")
    args = parser.parse_args()
    exit_on_sigterm()

    if args.only != "lambda":
        print(f"worker: {args.messages} messages per round, {args.rounds} rounds, moto server")
        bare, ours = worker_throughput(args.messages, args.rounds)
        ratio = ours / bare
        goal = "ok" if ratio >= 0.8 else "BELOW GOAL"
        print(f"worker records/s: bare boto3 {bare:.0f}, relaykit {ours:.0f}, ratio {ratio:.2f}")
        print(f"  goal relaykit/bare >= 0.8: {goal}")
    if args.only == "worker":
        return 0

    for records in (10, 100):
        batches = max(10, args.batches * 10 // records)
        print(f"lambda: {records}-record SQS batches, {batches} per run, {args.runs} runs")
        figures = lambda_dispatch(records, batches, args.runs)
        for clock, column in (("wall", 0), ("cpu", 1)):
            base, sync = figures["powertools"][column], figures["relaykit_sync"][column]
            mine, no_ctx = figures["relaykit"][column], figures["relaykit_no_ctx"][column]
            pt_async = figures["powertools_async"][column]
            print(
                f"  {clock} µs/record: powertools {base:.2f}, relaykit sync {sync:.2f}: "
                f"ratio {sync / base:.2f}"
            )
            print(
                f"  {clock} µs/record: powertools async {pt_async:.2f}, relaykit async "
                f"{mine:.2f} (no ctx {no_ctx:.2f}): ratio to async {mine / pt_async:.2f}, "
                f"to sync {mine / base:.2f} (no ctx {no_ctx / base:.2f})"
            )
        ratio = figures["relaykit_sync"][0] / figures["powertools"][0]
        goal = "ok" if ratio <= 1.2 else "BELOW GOAL"
        print(f"  goal relaykit/powertools <= 1.2 (wall, sync handlers): {goal} ({ratio:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

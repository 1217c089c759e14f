"""One polled SQS queue of ``relaykit worker``: long polls, visibility heartbeats, per-record
runs through the same routing as on Lambda, batched deletes.

A received batch is handled like a Lambda SQS batch: records of a standard queue run
concurrently; records of a FIFO queue run in order within their message group, and the first
failure in a group leaves the rest of that group unprocessed (Powertools'
``SqsFifoPartialProcessor(skip_group_on_error=True)`` semantics). While any record of the batch is
running or waiting for its delete, one heartbeat extends the visibility of those messages every
half visibility timeout (``ChangeMessageVisibilityBatch``). Succeeded messages are deleted
together when the batch ends (``DeleteMessageBatch``); a failed or unprocessed message is left
alone and becomes visible again, so the queue's redrive policy applies. That includes a message
of an ``idempotent=True`` handler that another delivery is processing right now
(``RecordInProgress``): it is retried once that delivery has finished or its marker expired.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from relaykit.app import App

T = TypeVar("T")
logger = logging.getLogger("relaykit.worker")


@dataclass(frozen=True)
class Queue:
    """One polled queue, resolved from its name."""

    name: str
    url: str
    arn: str
    region: str
    visibility: int
    fifo: bool


@dataclass
class Stats:
    """Records handled by a worker (read by tests and benchmarks)."""

    processed: int = 0
    failed: int = 0


def sqs_client() -> Any:
    """A boto3 SQS client for the environment's endpoint and region (boto3 imported here)."""
    try:
        import boto3
    except ImportError:
        from relaykit.errors import MissingExtraError

        raise MissingExtraError("boto3", "lambda", "relaykit worker") from None

    endpoint = os.environ.get("AWS_ENDPOINT_URL_SQS") or os.environ.get("AWS_ENDPOINT_URL")
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    return boto3.client("sqs", endpoint_url=endpoint or None, region_name=region)


def resolve_queue(client: Any, name: str) -> Queue:
    """The URL, ARN and visibility timeout of the queue called ``name`` (blocking);
    ``StartupError`` saying where it looked when the queue cannot be found."""
    try:
        url = client.get_queue_url(QueueName=name)["QueueUrl"]
        attributes = client.get_queue_attributes(
            QueueUrl=url, AttributeNames=["QueueArn", "VisibilityTimeout"]
        )["Attributes"]
    except Exception as exc:
        from relaykit.errors import StartupError

        raise StartupError(
            f"relaykit worker cannot use the SQS queue {name!r} at {client.meta.endpoint_url} "
            f"({type(exc).__name__}: {exc}); create it, or check AWS_ENDPOINT_URL_SQS and "
            "AWS_REGION"
        ) from None
    arn = attributes["QueueArn"]
    return Queue(
        name=name,
        url=url,
        arn=arn,
        region=arn.split(":")[3] if arn.count(":") >= 5 else "",
        visibility=int(attributes.get("VisibilityTimeout", 30)),
        fifo=name.endswith(".fifo"),
    )


def lambda_record(queue: Queue, message: Mapping[str, Any]) -> dict[str, Any]:
    """An SQS ``ReceiveMessage`` message in the shape of a Lambda SQS event record."""
    attributes = {}
    for name, value in (message.get("MessageAttributes") or {}).items():
        attributes[name] = {
            "stringValue": value.get("StringValue"),
            "binaryValue": value.get("BinaryValue"),
            "stringListValues": value.get("StringListValues", []),
            "binaryListValues": value.get("BinaryListValues", []),
            "dataType": value.get("DataType", "String"),
        }
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": dict(message.get("Attributes") or {}),
        "messageAttributes": attributes,
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue.arn,
        "awsRegion": queue.region,
    }


def in_daemon_thread(fn: Callable[[], T]) -> asyncio.Future[T]:
    """Run a blocking call in a daemon thread (one that never holds up interpreter exit), so a
    long poll still open at shutdown can be abandoned."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(value: Any, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)

    def target() -> None:
        try:
            value, error = fn(), None
        except BaseException as exc:
            value, error = None, exc
        with contextlib.suppress(RuntimeError):  # a closed loop: the worker is gone
            loop.call_soon_threadsafe(settle, value, error)

    threading.Thread(target=target, daemon=True, name="relaykit-sqs-receive").start()
    return future


def _groups(records: Sequence[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """FIFO records by message group, each group in its received order."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        groups.setdefault(str(record["attributes"].get("MessageGroupId", "")), []).append(record)
    return list(groups.values())


class QueuePoller:
    """Receives and handles the batches of one queue until ``stopping`` is set."""

    def __init__(
        self,
        app: App,
        client: Any,
        queue: Queue,
        *,
        wait_seconds: int,
        batch_size: int,
        stopping: asyncio.Event,
        stats: Stats,
    ) -> None:
        self.app, self.client, self.queue = app, client, queue
        self.wait_seconds, self.batch_size = wait_seconds, batch_size
        self.stopping, self.stats = stopping, stats

    async def run(self) -> None:
        while not self.stopping.is_set():
            try:
                messages = await self._receive()
            except Exception:
                logger.exception("receiving from %s failed; retrying in 1 s", self.queue.name)
                await asyncio.sleep(1)
                continue
            if messages is None:
                return
            if messages:
                await self.handle_batch([lambda_record(self.queue, m) for m in messages])

    async def _receive(self) -> list[dict[str, Any]] | None:
        """One long poll; ``None`` when the worker was stopped while it was open."""

        def receive() -> list[dict[str, Any]]:
            answer = self.client.receive_message(
                QueueUrl=self.queue.url,
                MaxNumberOfMessages=self.batch_size,
                WaitTimeSeconds=self.wait_seconds,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            messages: list[dict[str, Any]] = answer.get("Messages", [])
            return messages

        polling = in_daemon_thread(receive)
        stopping: asyncio.Future[Any] = asyncio.ensure_future(self.stopping.wait())
        waiting: set[asyncio.Future[Any]] = {polling, stopping}
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        return polling.result() if polling.done() else None

    async def handle_batch(self, records: list[dict[str, Any]]) -> None:
        """Run a received batch, keep it invisible while it runs, delete what succeeded."""
        pending = {record["messageId"]: record["receiptHandle"] for record in records}
        heartbeat = asyncio.create_task(self._heartbeat(pending))
        succeeded: list[dict[str, Any]] = []
        groups = _groups(records) if self.queue.fifo else [[record] for record in records]
        try:
            await asyncio.gather(*(self._run_group(group, pending, succeeded) for group in groups))
        finally:
            heartbeat.cancel()
        await self._delete(succeeded)

    async def _run_group(
        self,
        records: list[dict[str, Any]],
        pending: dict[str, str],
        succeeded: list[dict[str, Any]],
    ) -> None:
        """Run records in order; at the first failure, leave the rest for redelivery."""
        from relaykit.events.records import route_sqs
        from relaykit.events.runner import Runner, log_failure
        from relaykit.measure import MODEL_CALLS, InvocationProbe

        recorder = self.app.recorder
        probe = None if recorder is None else InvocationProbe(recorder, "container")
        calls = MODEL_CALLS.set(probe.calls) if probe is not None else None
        runner = Runner(self.app, {"target": "container"})
        names: set[str] = set()
        failed = False
        try:
            for index, record in enumerate(records):
                works: list[Any] = []
                try:
                    works = route_sqs(self.app, record)
                    names.update(work.spec.handler.name for work in works)
                    await runner.run_all(works)
                except Exception as exc:
                    log_failure(exc, f"message {record['messageId']} of {self.queue.name}", works)
                    self.stats.failed += 1
                    failed = True
                    for left in records[index:]:
                        pending.pop(left["messageId"], None)  # no more heartbeats: redelivered
                    return
                succeeded.append(record)
        finally:
            if probe is not None and calls is not None:  # one measurement per group
                MODEL_CALLS.reset(calls)
                probe.finish(names.pop() if len(names) == 1 else "sqs", error=failed)

    async def _heartbeat(self, pending: dict[str, str]) -> None:
        if self.queue.visibility <= 0:
            return
        every = max(0.2, self.queue.visibility / 2)
        while True:
            await asyncio.sleep(every)
            entries = [
                {"Id": str(i), "ReceiptHandle": receipt, "VisibilityTimeout": self.queue.visibility}
                for i, receipt in enumerate(list(pending.values()))
            ]
            for start in range(0, len(entries), 10):
                try:
                    await asyncio.to_thread(
                        self.client.change_message_visibility_batch,
                        QueueUrl=self.queue.url,
                        Entries=entries[start : start + 10],
                    )
                except Exception:
                    logger.exception("extending visibility on %s failed", self.queue.name)

    async def _delete(self, records: list[dict[str, Any]]) -> None:
        for start in range(0, len(records), 10):
            chunk = records[start : start + 10]
            entries = [
                {"Id": str(i), "ReceiptHandle": r["receiptHandle"]} for i, r in enumerate(chunk)
            ]
            try:
                answer = await asyncio.to_thread(
                    self.client.delete_message_batch, QueueUrl=self.queue.url, Entries=entries
                )
            except Exception:
                logger.exception("deleting %d messages from %s failed", len(chunk), self.queue.name)
                continue
            for failure in answer.get("Failed") or []:
                logger.error("deleting a message from %s failed: %s", self.queue.name, failure)
            self.stats.processed += len(chunk) - len(answer.get("Failed") or [])

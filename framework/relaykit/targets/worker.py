"""``relaykit worker MODULE:APP``: the container target for event sources.

The worker long-polls the SQS queue of every ``@app.on_sqs`` handler (and of every ``@app.on_s3``
handler given ``queue=``: in a container, S3 notifications arrive through SQS), runs each message
through the same routing and handler call as on Lambda, and:

- extends the message's visibility while its handler runs (every half visibility timeout);
- deletes the message when its handler succeeds, and leaves a failed one to become visible again,
  so the queue's redrive policy moves it to the dead-letter queue after ``maxReceiveCount``;
- on a FIFO queue, handles a batch in order and stops at the first failure (the rest are left);
- runs ``@app.on_schedule`` handlers itself (``relaykit.schedules``: ``rate(...)`` and 6-field
  ``cron(...)``, UTC) with an EventBridge ``Scheduled Event`` as their record;
- on SIGTERM or SIGINT stops receiving, lets in-flight records finish, runs the shutdown hooks
  and exits. A long poll still open at that moment is abandoned: whatever it receives becomes
  visible again after the visibility timeout, so nothing is lost.

boto3 is imported when the worker starts. The SQS endpoint comes from ``AWS_ENDPOINT_URL_SQS``
(or ``AWS_ENDPOINT_URL``), the region from ``AWS_REGION``/``AWS_DEFAULT_REGION``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from relaykit.errors import UnknownEventError

if TYPE_CHECKING:
    from relaykit.app import App
    from relaykit.sources import SourceSpec

T = TypeVar("T")
logger = logging.getLogger("relaykit.worker")


@dataclass
class Queue:
    """One polled queue."""

    name: str
    url: str
    arn: str
    region: str
    visibility: int
    fifo: bool


def _in_daemon_thread(fn: Callable[[], T]) -> asyncio.Future[T]:
    """Run a blocking call in a daemon thread (one that never holds up interpreter exit)."""
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


def sqs_client() -> Any:
    """A boto3 SQS client for the environment's endpoint and region."""
    import boto3

    endpoint = os.environ.get("AWS_ENDPOINT_URL_SQS") or os.environ.get("AWS_ENDPOINT_URL")
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    return boto3.client("sqs", endpoint_url=endpoint or None, region_name=region)


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


def scheduled_event(spec: SourceSpec, when: datetime) -> dict[str, Any]:
    """The EventBridge ``Scheduled Event`` a schedule handler receives in the worker."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "000000000000",
        "time": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": os.environ.get("AWS_REGION", "us-east-1"),
        "resources": [f"arn:aws:events:local:000000000000:rule/{spec.rule}"],
        "detail": {},
    }


class Worker:
    """Polls an app's queues and runs its schedules until ``stop`` is called."""

    def __init__(
        self,
        app: App,
        *,
        client: Any = None,
        wait_seconds: int = 20,
        batch_size: int = 10,
        schedules: bool = True,
    ) -> None:
        self.app = app
        self._client = client
        self.wait_seconds = wait_seconds
        self.batch_size = batch_size
        self.run_schedules = schedules
        self._stopping: asyncio.Event | None = None
        self.processed = 0
        self.failed = 0

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = sqs_client()
        return self._client

    def stop(self) -> None:
        """Stop receiving; in-flight records finish, then ``run`` returns."""
        if self._stopping is not None:
            self._stopping.set()

    def queue_names(self) -> list[str]:
        """The queues to poll: every ``on_sqs`` queue and every ``on_s3(queue=...)``."""
        names: list[str] = []
        for spec in self.app.sources:
            if spec.source in ("sqs", "s3") and spec.queue and spec.queue_name not in names:
                names.append(spec.queue_name or "")
        return names

    def _resolve(self, name: str) -> Queue:
        url = self.client.get_queue_url(QueueName=name)["QueueUrl"]
        attributes = self.client.get_queue_attributes(
            QueueUrl=url, AttributeNames=["QueueArn", "VisibilityTimeout"]
        )["Attributes"]
        arn = attributes["QueueArn"]
        return Queue(
            name=name,
            url=url,
            arn=arn,
            region=arn.split(":")[3] if arn.count(":") >= 5 else "",
            visibility=int(attributes.get("VisibilityTimeout", 30)),
            fifo=name.endswith(".fifo"),
        )

    async def run(self) -> None:
        """Start the app, poll every queue and run the schedules until ``stop``."""
        self._stopping = asyncio.Event()
        await self.app.startup()
        try:
            queues = [await asyncio.to_thread(self._resolve, name) for name in self.queue_names()]
            tasks = [asyncio.create_task(self._poll(queue)) for queue in queues]
            if self.run_schedules:
                tasks += [
                    asyncio.create_task(self._schedule(spec))
                    for spec in self.app.sources
                    if spec.source == "schedule"
                ]
            logger.info(
                "worker started: queues %s, %d schedules",
                [queue.name for queue in queues],
                len(tasks) - len(queues),
            )
            if tasks:
                await asyncio.gather(*tasks)
            else:
                await self._stopping.wait()
        finally:
            await self.app.shutdown()
            logger.info("worker stopped: %d processed, %d failed", self.processed, self.failed)

    # Queues -------------------------------------------------------------------------------

    async def _receive(self, queue: Queue) -> list[dict[str, Any]] | None:
        """One long poll; ``None`` when the worker was stopped while it was open."""
        assert self._stopping is not None

        def receive() -> list[dict[str, Any]]:
            answer = self.client.receive_message(
                QueueUrl=queue.url,
                MaxNumberOfMessages=self.batch_size,
                WaitTimeSeconds=self.wait_seconds,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            messages: list[dict[str, Any]] = answer.get("Messages", [])
            return messages

        polling = _in_daemon_thread(receive)
        stopping = asyncio.ensure_future(self._stopping.wait())
        waiting: set[asyncio.Future[Any]] = {polling, stopping}
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if not polling.done():
            return None
        return polling.result()

    async def _poll(self, queue: Queue) -> None:
        assert self._stopping is not None
        while not self._stopping.is_set():
            try:
                messages = await self._receive(queue)
            except Exception:
                logger.exception("receiving from %s failed; retrying in 1 s", queue.name)
                await asyncio.sleep(1)
                continue
            if messages is None:
                break
            if not messages:
                continue
            records = [lambda_record(queue, message) for message in messages]
            if queue.fifo:
                for record in records:
                    if not await self._process(queue, record):
                        break
            else:
                await asyncio.gather(*(self._process(queue, record) for record in records))

    async def _heartbeat(self, queue: Queue, receipt: str) -> None:
        every = max(1.0, queue.visibility / 2)
        while True:
            await asyncio.sleep(every)
            try:
                await asyncio.to_thread(
                    self.client.change_message_visibility,
                    QueueUrl=queue.url,
                    ReceiptHandle=receipt,
                    VisibilityTimeout=queue.visibility,
                )
            except Exception:
                logger.exception("extending the visibility of a message of %s failed", queue.name)

    async def _process(self, queue: Queue, record: dict[str, Any]) -> bool:
        """Run one message; delete it on success. True when it succeeded."""
        from relaykit.events.records import route_sqs, run_all

        heartbeat = asyncio.create_task(self._heartbeat(queue, record["receiptHandle"]))
        try:
            works = route_sqs(self.app, record)
            await run_all(self.app, works, {"target": "container"})
        except UnknownEventError as exc:
            logger.error("message %s of %s: %s", record["messageId"], queue.name, exc)
            self.failed += 1
            return False
        except Exception:
            logger.exception("message %s of %s failed", record["messageId"], queue.name)
            self.failed += 1
            return False
        finally:
            heartbeat.cancel()
        await asyncio.to_thread(
            self.client.delete_message, QueueUrl=queue.url, ReceiptHandle=record["receiptHandle"]
        )
        self.processed += 1
        return True

    # Schedules ----------------------------------------------------------------------------

    async def _schedule(self, spec: SourceSpec) -> None:
        from relaykit.events.records import Routed, run_one
        from relaykit.schedules import parse_schedule

        assert self._stopping is not None and spec.expression is not None
        schedule = parse_schedule(spec.expression)
        loop = asyncio.get_running_loop()
        while not self._stopping.is_set():
            now = datetime.now(UTC).replace(tzinfo=None)
            due = schedule.next_after(now)
            delay = (due - now).total_seconds()
            try:
                await asyncio.wait_for(self._stopping.wait(), timeout=max(0.0, delay))
                break
            except TimeoutError:
                pass
            began = loop.time()
            try:
                await run_one(self.app, Routed(spec, scheduled_event(spec, due)), {})
                self.processed += 1
            except Exception:
                self.failed += 1
                logger.exception("schedule %s failed", spec.label)
            logger.info("schedule %s ran in %.3f s", spec.label, loop.time() - began)


def run_worker(app: App, *, wait_seconds: int = 20, batch_size: int = 10) -> None:
    """Run a worker for ``app`` until SIGTERM or SIGINT (the ``relaykit worker`` command)."""
    from relaykit import logs

    settings = app.settings
    logs.configure(service=settings.service, level=settings.log_level, fmt=settings.log_format)
    worker = Worker(app, wait_seconds=wait_seconds, batch_size=batch_size)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, worker.stop)
        await worker.run()

    asyncio.run(main())

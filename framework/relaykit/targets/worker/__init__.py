"""``relaykit worker MODULE:APP``: the container target for event sources.

The worker long-polls the SQS queue of every ``@app.on_sqs`` handler (and of every ``@app.on_s3``
handler given ``queue=``: in a container, S3 notifications arrive through SQS) and runs each
message through the same routing and handler call as on Lambda (``relaykit.targets.worker.queues``:
visibility heartbeats, deletes on success, failures left for redrive, FIFO groups in order). It
runs ``@app.on_schedule`` handlers itself (``relaykit.schedules``: ``rate(...)`` and 6-field
``cron(...)``, UTC) with an EventBridge ``Scheduled Event`` as their record.

On SIGTERM or SIGINT it stops receiving, lets in-flight records finish (and deletes those that
succeeded), runs the shutdown hooks and exits. A long poll still open at that moment is
abandoned: whatever it receives becomes visible again after the visibility timeout, so nothing is
lost. ``attach(app)`` runs the same worker inside ``relaykit serve``, started and stopped with the
ASGI app's lifespan.

boto3 is imported when the worker starts. The SQS endpoint comes from ``AWS_ENDPOINT_URL_SQS``
(or ``AWS_ENDPOINT_URL``), the region from ``AWS_REGION``/``AWS_DEFAULT_REGION``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import uuid
import weakref
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from relaykit.errors import RegistrationError
from relaykit.targets.worker.queues import (
    Queue,
    QueuePoller,
    Stats,
    lambda_record,
    resolve_queue,
    sqs_client,
)

if TYPE_CHECKING:
    from relaykit.app import App
    from relaykit.sources import SourceSpec

__all__ = ["Queue", "Worker", "attach", "lambda_record", "run_worker", "scheduled_event"]
logger = logging.getLogger("relaykit.worker")


def scheduled_event(spec: SourceSpec, when: datetime) -> dict[str, Any]:
    """The EventBridge ``Scheduled Event`` a schedule handler receives in the worker."""
    region = os.environ.get("AWS_REGION", "us-east-1")
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "000000000000",
        "time": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:events:{region}:000000000000:rule/{spec.rule}"],
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
        self.stats = Stats()
        self.queues: list[Queue] | None = None
        self._stopping = asyncio.Event()

    @property
    def processed(self) -> int:
        """Records whose handler succeeded (and, for SQS, whose message was deleted)."""
        return self.stats.processed

    @property
    def failed(self) -> int:
        return self.stats.failed

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = sqs_client()
        return self._client

    def stop(self) -> None:
        """Stop receiving; in-flight records finish, then ``run`` returns."""
        self._stopping.set()

    def queue_names(self) -> list[str]:
        """The queues to poll: every ``on_sqs`` queue and every ``on_s3(queue=...)``."""
        names: list[str] = []
        for spec in self.app.sources:
            if spec.source in ("sqs", "s3") and spec.queue_name and spec.queue_name not in names:
                names.append(spec.queue_name)
        return names

    async def resolve(self) -> list[Queue]:
        """Look up every queue's URL, ARN and visibility timeout (once); ``StartupError`` names
        a queue that cannot be used."""
        if self.queues is None:
            self.queues = [
                await asyncio.to_thread(resolve_queue, self.client, name)
                for name in self.queue_names()
            ]
        return self.queues

    async def run(self, *, lifecycle: bool = True) -> None:
        """Poll every queue and run the schedules until ``stop``. With ``lifecycle`` (the
        default) the app's startup hooks run first and its shutdown hooks at the end."""
        stopping = self._stopping
        if lifecycle:
            await self.app.startup()
        try:
            queues = await self.resolve()
            tasks = [
                asyncio.create_task(
                    QueuePoller(
                        self.app,
                        self.client,
                        queue,
                        wait_seconds=self.wait_seconds,
                        batch_size=self.batch_size,
                        stopping=stopping,
                        stats=self.stats,
                    ).run()
                )
                for queue in queues
            ]
            schedules = [s for s in self.app.sources if s.source == "schedule"]
            if self.run_schedules:
                tasks += [asyncio.create_task(self._schedule(spec)) for spec in schedules]
            logger.info(
                "worker started: queues %s, %d schedules",
                [queue.name for queue in queues],
                len(schedules) if self.run_schedules else 0,
            )
            await asyncio.gather(*tasks, stopping.wait())
        finally:
            if lifecycle:
                await self.app.shutdown()
            logger.info("worker stopped: %d processed, %d failed", self.processed, self.failed)

    async def _schedule(self, spec: SourceSpec) -> None:
        from relaykit.events.records import Routed, run_one
        from relaykit.schedules import parse_schedule

        assert spec.expression is not None
        schedule = parse_schedule(spec.expression)
        due = schedule.next_after(datetime.now(UTC).replace(tzinfo=None))
        while not self._stopping.is_set():
            delay = (due - datetime.now(UTC).replace(tzinfo=None)).total_seconds()
            try:
                await asyncio.wait_for(self._stopping.wait(), timeout=max(0.0, delay))
                return
            except TimeoutError:
                pass
            try:
                await run_one(self.app, Routed(spec, scheduled_event(spec, due)), {})
                self.stats.processed += 1
            except Exception:
                self.stats.failed += 1
                logger.exception("schedule %s failed", spec.label)
            # The next run after this one's due time (a run longer than the interval skips
            # the runs it overlapped, as EventBridge would not queue them either).
            due = schedule.next_after(max(due, datetime.now(UTC).replace(tzinfo=None)))


def run_worker(app: App, *, wait_seconds: int = 20, batch_size: int = 10) -> None:
    """Run a worker for ``app`` until SIGTERM or SIGINT (the ``relaykit worker`` command)."""
    from relaykit import logs

    settings = app.settings
    logs.configure(service=settings.service, level=settings.log_level, fmt=settings.log_format)
    worker = Worker(app, wait_seconds=wait_seconds, batch_size=batch_size)
    if not worker.queue_names() and not any(s.source == "schedule" for s in app.sources):
        raise RegistrationError(
            f"app {app.name!r} has nothing for a worker to do: relaykit worker polls the queues "
            "of @app.on_sqs handlers (and @app.on_s3(..., queue=...)) and runs @app.on_schedule "
            "handlers; register one, or serve HTTP with relaykit serve"
        )

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, worker.stop)
        await worker.run()

    asyncio.run(main())


_ATTACHED: weakref.WeakKeyDictionary[Any, Worker] = weakref.WeakKeyDictionary()


def attach(app: App, **options: Any) -> Worker:
    """Run a worker for ``app`` as a background task of its ASGI lifespan (``relaykit serve
    --worker``): started after the startup hooks, stopped (in-flight records finished) by a
    shutdown hook. Attaching twice returns the first worker."""
    existing = _ATTACHED.get(app)
    if existing is not None:
        return existing
    worker = _ATTACHED[app] = Worker(app, **options)
    tasks: list[asyncio.Task[None]] = []

    async def start() -> None:
        await worker.resolve()  # a missing queue fails the server's startup, with its name
        tasks.append(asyncio.create_task(worker.run(lifecycle=False)))

    async def stop() -> None:
        worker.stop()
        for task in tasks:
            await task
        tasks.clear()

    app.on_startup(start)
    app.on_shutdown(stop)
    return worker

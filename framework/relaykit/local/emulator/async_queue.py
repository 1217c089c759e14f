"""Asynchronous (``Event``) invocations: queued, run in the background, retried on failure.

As on Lambda, a function error (including a timeout or a crash) is retried twice, one minute
and then two minutes later; ``retry_delay_scale`` multiplies those delays so that tests run in
milliseconds. Every attempt keeps the request id of the original invocation. Throttled attempts
wait for a free environment instead of failing.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from dataclasses import dataclass, field

from .config import ASYNC_RETRY_DELAYS
from .invocation import InvocationResult
from .pool import FunctionPool


@dataclass
class AsyncInvocationRecord:
    """Every attempt of one queued invocation; ``done`` once it succeeded or retries ran out."""

    function: str
    request_id: str
    attempts: list[InvocationResult] = field(default_factory=list)
    done: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def succeeded(self) -> bool:
        return bool(self.attempts) and self.attempts[-1].ok


class AsyncQueue:
    """Runs queued invocations; one background task per queued event."""

    def __init__(self, retry_delay_scale: float = 1.0, max_retries: int = 2) -> None:
        if retry_delay_scale < 0:
            raise ValueError("retry_delay_scale must be >= 0")
        self.retry_delay_scale = retry_delay_scale
        self.max_retries = max_retries
        self.records: dict[str, AsyncInvocationRecord] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def submit(
        self,
        pool: FunctionPool,
        payload: bytes,
        request_id: str,
        client_context: str | None = None,
        tenant_id: str | None = None,
    ) -> None:
        record = AsyncInvocationRecord(pool.config.name, request_id)
        self.records[request_id] = record
        task = asyncio.create_task(self._run(pool, payload, record, client_context, tenant_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(
        self,
        pool: FunctionPool,
        payload: bytes,
        record: AsyncInvocationRecord,
        client_context: str | None,
        tenant_id: str | None,
    ) -> None:
        try:
            for attempt in range(1 + self.max_retries):
                if attempt:
                    delay = ASYNC_RETRY_DELAYS[min(attempt, len(ASYNC_RETRY_DELAYS)) - 1]
                    await asyncio.sleep(delay * self.retry_delay_scale)
                invocation = pool.new_invocation(
                    payload,
                    request_id=record.request_id,
                    client_context=client_context,
                    tenant_id=tenant_id,
                )
                result = await pool.invoke(invocation, wait=True)
                record.attempts.append(dataclasses.replace(result, attempt=attempt + 1))
                if result.ok:
                    return
        finally:
            record.done.set()

    async def wait(self, request_id: str) -> AsyncInvocationRecord:
        record = self.records[request_id]
        await record.done.wait()
        return record

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task

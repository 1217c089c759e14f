"""The execution environments of one function: warm reuse, cold starts, a concurrency limit."""

from __future__ import annotations

import asyncio
import contextlib

from .config import FunctionConfig
from .environment import ExecutionEnvironment, LogSink
from .invocation import Invocation, InvocationResult


class ThrottledError(Exception):
    """Every environment of the function is busy and the concurrency limit is reached."""


class FunctionPool:
    """Hands each invocation to an idle warm environment, or starts a new one (a cold start)."""

    def __init__(self, config: FunctionConfig, log_sink: LogSink | None = None) -> None:
        self.config = config
        self._log_sink = log_sink
        self._idle: list[ExecutionEnvironment] = []
        self._busy: set[ExecutionEnvironment] = set()
        self._tasks: set[asyncio.Task[InvocationResult]] = set()
        self._capacity = asyncio.Condition()
        self.cold_starts = 0
        self.exit_codes: list[int | None] = []
        """Return codes of discarded workers, in order (``-9``: SIGKILLed)."""
        self.closed = False

    @property
    def environments(self) -> list[ExecutionEnvironment]:
        return [*self._idle, *self._busy]

    def new_invocation(self, payload: bytes, **kwargs: str | None) -> Invocation:
        return Invocation(payload, function_arn=self.config.arn, **kwargs)

    def start(
        self, invocation: Invocation, *, wait: bool = False
    ) -> asyncio.Task[InvocationResult]:
        """Run ``invocation`` in the background. Without ``wait``, raise :class:`ThrottledError`
        at the concurrency limit (as a synchronous invoke is throttled); with it, wait for a
        free environment (as the asynchronous queue does)."""
        if self.closed:
            raise RuntimeError(f"function {self.config.name!r}: the emulator is stopped")
        if not wait and not self._has_capacity():
            raise ThrottledError(self.config.name)
        task = asyncio.create_task(self._run(invocation, wait))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def invoke(self, invocation: Invocation, *, wait: bool = False) -> InvocationResult:
        return await self.start(invocation, wait=wait)

    def _shared(self) -> ExecutionEnvironment | None:
        """A running environment with a free slot (Managed Instances: several per process)."""
        for env in self._busy:
            starting_or_alive = env.process is None or env.process.returncode is None
            if (
                not env.discarded
                and starting_or_alive
                and env.reserved < self.config.max_concurrency
            ):
                return env
        return None

    def _has_capacity(self) -> bool:
        return (
            bool(self._idle)
            or len(self._busy) < self.config.concurrency
            or self._shared() is not None
        )

    async def _acquire(self, wait: bool) -> ExecutionEnvironment:
        async with self._capacity:
            if wait:
                await self._capacity.wait_for(self._has_capacity)
            shared = self._shared()
            if shared is not None:
                shared.reserved += 1
                return shared
            while self._idle:
                env = self._idle.pop()
                if env.alive:
                    env.reserved = 1
                    self._busy.add(env)
                    return env
                await env.close()
                self.exit_codes.append(env.returncode)
            if len(self._busy) >= self.config.concurrency:
                raise ThrottledError(self.config.name)
            env = ExecutionEnvironment(self.config, self._log_sink)
            env.reserved = 1
            self._busy.add(env)
        self.cold_starts += 1
        try:
            await env.start()
        except BaseException:
            await self._release(env, keep=False)
            raise
        return env

    async def _release(self, env: ExecutionEnvironment, keep: bool) -> None:
        async with self._capacity:
            env.reserved = max(0, env.reserved - 1)
            if not keep:
                env.discarded = True
            if env.reserved > 0:
                self._capacity.notify_all()
                return
            discard = not (keep and env.alive) or self.closed
            self._busy.discard(env)
            if discard:
                self.exit_codes.append(env.returncode)
            else:
                self._idle.append(env)
            self._capacity.notify_all()
        if discard:
            await env.close()

    async def _run(self, invocation: Invocation, wait: bool) -> InvocationResult:
        try:
            env = await self._acquire(wait)
        except BaseException as exc:
            invocation.abort(f"{type(exc).__name__}: could not start an environment")
            raise
        try:
            return await env.invoke(invocation)
        except BaseException:
            await env.kill()
            invocation.abort("the emulator stopped during the invocation")
            raise
        finally:
            await self._release(env, keep=True)

    async def close(self) -> None:
        """Kill every worker and close every Runtime API socket of this function."""
        self.closed = True
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task
        for env in self.environments:
            await env.close()
        self._idle.clear()
        self._busy.clear()

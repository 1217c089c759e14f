"""The emulator: functions, their environments, the Invoke API and one Function URL each.

Use it from async code::

    echo = FunctionConfig("echo", [sys.executable, "-m", "awslambdaric", "app.handler"])
    async with Emulator([echo]) as emu:
        result = await emu.invoke("echo", b'{"x": 1}')

or from sync code (tests, ``relaykit dev --lambda``), which runs the event loop in a thread::

    with Emulator(functions).running() as emu:
        boto3.client("lambda", endpoint_url=emu.invoke_url, ...)
        httpx.get(emu.function_url("echo"))
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import sys
import threading
from collections.abc import Coroutine, Iterable, Iterator, Mapping
from types import TracebackType
from typing import Any, TypeVar

from .async_queue import AsyncInvocationRecord, AsyncQueue
from .config import FunctionConfig
from .environment import LogSink
from .function_url import FunctionUrl
from .invocation import Invocation, InvocationResult
from .invoke_api import InvokeAPI
from .pool import FunctionPool

T = TypeVar("T")


def stderr_log_sink(prefix: bool = True) -> LogSink:
    """A log sink that copies worker output to the emulator's stderr."""

    def sink(name: str, data: bytes) -> None:
        text = data.decode("utf-8", "replace")
        if prefix:
            text = "".join(f"[{name}] {line}" for line in text.splitlines(keepends=True))
        sys.stderr.write(text)

    return sink


class Emulator:
    """Local Lambda: Runtime API per environment, Invoke API, Function URL fronts."""

    def __init__(
        self,
        functions: Iterable[FunctionConfig],
        *,
        retry_delay_scale: float = 1.0,
        log_sink: LogSink | None = None,
        url_ports: Mapping[str, int] | None = None,
    ) -> None:
        """``url_ports`` fixes the loopback port of a function's Function URL (by name; the
        default, 0, picks a free port)."""
        self.functions = {f.name: f for f in functions}
        self.url_ports = dict(url_ports or {})
        self.retry_delay_scale = retry_delay_scale
        self.log_sink = log_sink
        self.pools: dict[str, FunctionPool] = {}
        self.urls: dict[str, FunctionUrl] = {}
        self._queue: AsyncQueue | None = None
        self._invoke_api: InvokeAPI | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- async lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.pools = {n: FunctionPool(c, self.log_sink) for n, c in self.functions.items()}
        self._queue = AsyncQueue(self.retry_delay_scale)
        self._invoke_api = InvokeAPI(self.pools, self._queue)
        try:
            await self._invoke_api.start()
            for name, pool in self.pools.items():
                self.urls[name] = FunctionUrl(pool, port=self.url_ports.get(name, 0))
                await self.urls[name].start()
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """Kill every worker and close every socket."""
        if self._queue is not None:
            await self._queue.close()
        for url in self.urls.values():
            await url.close()
        if self._invoke_api is not None:
            await self._invoke_api.close()
        for pool in self.pools.values():
            await pool.close()

    async def __aenter__(self) -> Emulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # -- addresses ----------------------------------------------------------------------------

    @property
    def invoke_url(self) -> str:
        """The ``endpoint_url`` for boto3 (or ``AWS_ENDPOINT_URL_LAMBDA``)."""
        assert self._invoke_api is not None, "the emulator is not started"
        return self._invoke_api.url

    def function_url(self, name: str) -> str:
        """The base URL of a function's Function URL front (no trailing slash)."""
        return self.urls[name].url

    # -- invoking from Python -----------------------------------------------------------------

    def start_invocation(
        self, name: str, payload: bytes = b"{}", **kwargs: str | None
    ) -> Invocation:
        """Begin a synchronous invocation; stream it with :meth:`Invocation.stream`."""
        pool = self.pools[name]
        invocation = pool.new_invocation(payload, **kwargs)
        pool.start(invocation)
        return invocation

    async def invoke(
        self, name: str, payload: bytes = b"{}", **kwargs: str | None
    ) -> InvocationResult:
        return await self.start_invocation(name, payload, **kwargs).result()

    async def wait_async(self, request_id: str) -> AsyncInvocationRecord:
        """Wait until a queued (``Event``) invocation succeeded or ran out of retries."""
        assert self._queue is not None
        return await self._queue.wait(request_id)

    # -- sync use, loop in a background thread ------------------------------------------------

    @contextlib.contextmanager
    def running(self) -> Iterator[Emulator]:
        """Run the emulator in a background thread for the duration of the ``with`` block."""
        loop = asyncio.new_event_loop()
        stopped = asyncio.Event()
        ready: concurrent.futures.Future[None] = concurrent.futures.Future()

        async def main() -> None:
            try:
                await self.start()
            except BaseException as exc:
                ready.set_exception(exc)
                return
            ready.set_result(None)
            try:
                await stopped.wait()
            finally:
                await self.stop()

        def run() -> None:
            loop.run_until_complete(main())
            loop.run_until_complete(loop.shutdown_asyncgens())

        thread = threading.Thread(target=run, name="lambda-emulator", daemon=True)
        thread.start()
        try:
            ready.result(timeout=30)
            yield self
        finally:
            loop.call_soon_threadsafe(stopped.set)
            thread.join(timeout=30)
            loop.close()

    def call(self, coro: Coroutine[Any, Any, T], timeout: float | None = 60) -> T:
        """Run ``coro`` on the emulator's loop from another thread (inside :meth:`running`)."""
        assert self._loop is not None, "the emulator is not running"
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

"""An execution environment: one runtime subprocess, its Runtime API, one invocation at a time.

Lifecycle (as on Lambda): spawn → init (ends at the first ``/next``; bounded by
``init_timeout``, 10 s as on Lambda, apart from the invocation's timeout) → invoke, invoke, ...
A timeout, a crash or an init failure SIGKILLs the process (no SIGTERM: no extensions are
emulated) and discards the environment; the next invocation cold-starts a new one.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from .config import LOG_TAIL_BYTES, FunctionConfig
from .invocation import Invocation, InvocationResult, exit_payload, timeout_payload
from .runtime_api import RuntimeAPI, RuntimeOutcome

LogSink = Callable[[str, bytes], None]
"""Receives ``(function name, bytes)`` for every byte the worker writes and every platform line."""

_ids = itertools.count(1)


def lambda_environment(config: FunctionConfig, runtime_api: str, log_stream: str) -> dict[str, str]:
    """The variables Lambda sets for every runtime."""
    task_root = config.task_root or config.cwd or os.getcwd()
    return {
        "AWS_LAMBDA_RUNTIME_API": runtime_api,
        "AWS_LAMBDA_FUNCTION_NAME": config.name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.memory_mb),
        "AWS_LAMBDA_FUNCTION_TIMEOUT": str(max(1, round(config.timeout))),
        "AWS_LAMBDA_LOG_GROUP_NAME": config.log_group,
        "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_REGION": config.region,
        "AWS_DEFAULT_REGION": config.region,
        "AWS_EXECUTION_ENV": "AWS_Lambda_relaykit_emulator",
        "_HANDLER": config.handler,
        "LAMBDA_TASK_ROOT": task_root,
        "LAMBDA_RUNTIME_DIR": task_root,
        "TZ": ":UTC",
        **(
            {"AWS_LAMBDA_MAX_CONCURRENCY": str(config.max_concurrency)}
            if config.max_concurrency > 1
            else {}
        ),
    }


class ExecutionEnvironment:
    """One worker process and its Runtime API server."""

    def __init__(self, config: FunctionConfig, log_sink: LogSink | None = None) -> None:
        self.config = config
        self.id = next(_ids)
        self._log_sink = log_sink
        self.api: RuntimeAPI | None = None
        self.process: asyncio.subprocess.Process | None = None
        self.spawned_at = 0.0
        self.init_duration_ms: float | None = None
        self.invocations = 0
        self.reserved = 0
        """Invocations the pool has handed to this environment and not yet taken back."""
        self.discarded = False
        self._init: asyncio.Future[RuntimeOutcome | None] | None = None
        self._started = asyncio.Event()
        """Set when ``start`` returned or failed: invocations handed out meanwhile wait for it."""
        self._log = bytearray()
        self._log_mark = 0
        self._reader: asyncio.Task[None] | None = None
        day = datetime.now(UTC).strftime("%Y/%m/%d")
        self.log_stream = f"{day}/[$LATEST]{uuid.uuid4().hex}"

    @property
    def alive(self) -> bool:
        return not self.discarded and self.process is not None and self.process.returncode is None

    @property
    def returncode(self) -> int | None:
        return self.process.returncode if self.process is not None else None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    async def start(self) -> None:
        try:
            await self._start()
        finally:
            self._started.set()

    async def _start(self) -> None:
        self.api = RuntimeAPI(self.config.timeout)
        await self.api.start()
        env = dict(os.environ) if self.config.inherit_env else {}
        env.update(self.config.env)
        env.update(lambda_environment(self.config, self.api.address, self.log_stream))
        self.spawned_at = time.monotonic()
        self.process = await asyncio.create_subprocess_exec(
            *self.config.command,
            env=env,
            cwd=self.config.cwd or self.config.task_root,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
        self._reader = asyncio.create_task(self._read_output())

    async def _read_output(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        while data := await self.process.stdout.read(65536):
            self._write_log(data)

    def _write_log(self, data: bytes) -> None:
        self._log += data
        if self._log_sink is not None:
            self._log_sink(self.config.name, data)

    def platform_log(self, line: str) -> None:
        self._write_log(line.encode() + b"\n")

    async def invoke(self, invocation: Invocation) -> InvocationResult:
        """Run ``invocation`` to its end; the environment is discarded on any platform failure.

        With ``max_concurrency`` above 1 (Managed Instances) several invocations run here at once;
        a timeout then fails only its own invocation and the worker keeps serving the others
        (the service's exact behaviour is UNCONFIRMED; see docs/lambda-emulator.md).
        """
        await self._started.wait()
        if self.api is None or self.process is None:
            raise RuntimeError(f"environment {self.id} of {self.config.name!r} failed to start")
        cold = self.invocations == 0
        self.invocations += 1
        if self._init is None:
            self._init = asyncio.ensure_future(self._wait_init(invocation))
        failure = await asyncio.shield(self._init)
        if failure is not None:
            await _let_output_arrive()
            return self._finish(invocation, failure, started=time.monotonic(), cold=cold)
        started = time.monotonic()
        self.platform_log(f"START RequestId: {invocation.request_id} Version: $LATEST")
        outcome_future: asyncio.Future[Any] = self.api.offer(invocation)
        exited: asyncio.Future[Any] = asyncio.ensure_future(self.process.wait())
        try:
            done, _ = await asyncio.wait(
                [outcome_future, exited],
                timeout=self.config.timeout,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            exited.cancel()
        if outcome_future in done:
            outcome = outcome_future.result()
        elif exited in done:
            outcome = self._exit_outcome(invocation)
        else:
            outcome_future.cancel()
            if self.config.max_concurrency == 1:
                await self.kill()
            payload = timeout_payload(invocation.request_id, self.config.timeout)
            outcome = RuntimeOutcome(payload, "application/json", error_type="Sandbox.Timedout")
            self.platform_log(
                f"{_utc_stamp()} {invocation.request_id} Task timed out after "
                f"{self.config.timeout:.2f} seconds"
            )
        await _let_output_arrive()
        return self._finish(invocation, outcome, started=started, cold=cold)

    async def _wait_init(self, invocation: Invocation) -> RuntimeOutcome | None:
        assert self.api is not None and self.process is not None
        exited: asyncio.Future[Any] = asyncio.ensure_future(self.process.wait())
        waiters: list[asyncio.Future[Any]] = [self.api.ready, self.api.init_error, exited]
        try:
            await asyncio.wait(
                waiters, timeout=self.config.init_timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            exited.cancel()
        if self.api.ready.done() and not self.api.init_error.done():
            self.init_duration_ms = (self.api.ready.result() - self.spawned_at) * 1000
            return None
        self.init_duration_ms = (time.monotonic() - self.spawned_at) * 1000
        if self.api.init_error.done():
            error_type, payload = self.api.init_error.result()
            outcome = RuntimeOutcome(payload, "application/json", error_type=error_type)
            self.platform_log(
                f"INIT_REPORT Init Duration: {self.init_duration_ms:.2f} ms\t"
                f"Phase: init\tStatus: error\tError Type: {error_type}"
            )
        elif self.process.returncode is not None:
            outcome = self._exit_outcome(invocation)
        else:
            payload = timeout_payload(invocation.request_id, self.config.init_timeout)
            outcome = RuntimeOutcome(payload, "application/json", error_type="Sandbox.Timedout")
            self.platform_log(
                f"INIT_REPORT Init Duration: {self.init_duration_ms:.2f} ms\t"
                "Phase: init\tStatus: timeout"
            )
        await self.kill()
        return outcome

    def _exit_outcome(self, invocation: Invocation) -> RuntimeOutcome:
        assert self.process is not None
        self.discarded = True
        payload = exit_payload(invocation.request_id, self.process.returncode)
        return RuntimeOutcome(payload, "application/json", error_type="Runtime.ExitError")

    def _finish(
        self, invocation: Invocation, outcome: RuntimeOutcome, *, started: float, cold: bool
    ) -> InvocationResult:
        duration_ms = (time.monotonic() - started) * 1000
        report = (
            f"REPORT RequestId: {invocation.request_id}\tDuration: {duration_ms:.2f} ms\t"
            f"Billed Duration: {int(duration_ms) + 1} ms\t"
            f"Memory Size: {self.config.memory_mb} MB\tMax Memory Used: 0 MB"
        )
        if cold and self.init_duration_ms is not None:
            report += f"\tInit Duration: {self.init_duration_ms:.2f} ms"
        if outcome.error_type == "Sandbox.Timedout":
            report += "\tStatus: timeout"
        elif outcome.error_type is not None and self.discarded:
            report += f"\tStatus: error\tError Type: {outcome.error_type}"
        self.platform_log(f"END RequestId: {invocation.request_id}")
        self.platform_log(report)
        log = bytes(self._log[self._log_mark :])
        self._log_mark = len(self._log)
        result = InvocationResult(
            request_id=invocation.request_id,
            payload=outcome.payload,
            content_type=outcome.content_type,
            error_type=outcome.error_type,
            response_mode=outcome.mode,
            prelude=outcome.prelude,
            trailers=outcome.trailers,
            chunks=outcome.chunks,
            init_duration_ms=self.init_duration_ms if cold else None,
            duration_ms=duration_ms,
            log_tail=log[-LOG_TAIL_BYTES:],
            pid=self.pid,
        )
        invocation.finish(result)
        return result

    async def kill(self) -> None:
        """SIGKILL the worker (and anything it spawned in its session) and discard this
        environment."""
        self.discarded = True
        process = self.process
        if process is not None and process.returncode is None:
            # The worker leads its own session, so its group id is its pid. Only killpg: a
            # Popen.kill() would poll() and reap the child behind asyncio's watcher's back.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            await process.wait()

    async def close(self) -> None:
        await self.kill()
        if self._reader is not None:
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self._reader, timeout=2)
        if self.api is not None:
            await self.api.close()


def _utc_stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


async def _let_output_arrive() -> None:
    """Give the output reader a few loop turns: bytes the worker wrote before its last request
    are already in the pipe and belong to this invocation's log."""
    for _ in range(4):
        await asyncio.sleep(0)

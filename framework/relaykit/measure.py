"""Measurements: what each handler invocation and workflow step costs to run.

Every invocation that passes through the dispatch seam (``run_task``, ``iter_chunks``), and every
workflow step, becomes one ``Measurement``: wall time, CPU time, time waiting on models, peak
memory, tokens, response size and whether it streamed. ``relaykit advise`` turns them into
monthly costs per deployment option.

Some invocations are measured whole instead: an event batch (SQS, S3, DynamoDB Streams,
EventBridge; Lambda bills the batch), and on Lambda an HTTP request to a task or stream, from the
event in to the response out, which is what Lambda bills and is measured once. While one runs,
``MODEL_CALLS`` collects every model call made in serving it, and the tasks and streams it serves
are not measured on their own. A response streamed through a Function URL is measured by the
stream (``iter_chunks``), as in a container.

A measurement is ``Recorder.begin`` before the work and ``Recorder.measurement`` after it: a tuple
in between, no object, because the dispatch seam and the Lambda handler run them on every
invocation. ``Probe`` (streams, workflow steps) and ``InvocationProbe`` (the SQS worker's
batches) wrap the two.

Where it goes is the ``measure`` setting: ``log`` writes one JSON line per measurement to stdout,
which is also a CloudWatch Embedded Metric Format document (so on Lambda it is both a log line
and metrics); ``store`` queues it for a background thread that writes batches to a SQLite file
next to the durable store (``relaykit.measure_store``); ``off`` records nothing; ``auto`` is
``store`` under ``relaykit dev``, ``log`` under ``relaykit serve`` and on Lambda (when the
``metrics`` setting is on: the line is an EMF document), and ``off`` elsewhere (tests, scripts,
in-process ``App.invoke``).

CPU time is ``time.process_time()`` around the invocation: the whole process, every thread, so a
sync handler in ``asyncio.to_thread`` counts. On the default Lambda runtime an environment serves
one invocation at a time, so the figure is exact. Where invocations overlap (a container, Lambda
Managed Instances), the delta includes the others' CPU: it is divided by the mean number of
invocations in flight at the start and the end, and the measurement says ``cpu_exact: false``.
``thread_time`` would not help: async handlers interleave on the event loop's one thread.

Peak memory is ``ru_maxrss``: the process high-water mark. On Lambda that is the environment's
peak, which is what the memory setting must cover; in a container it is the whole server's.
Standard library only. A measurement costs two system calls (CPU time has no fast clock on
Linux) and a few microseconds of Python (``bench/measure_overhead.py``).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, NamedTuple, TextIO

if TYPE_CHECKING:
    from relaykit.context import Context
    from relaykit.measure_log import LineWriter
    from relaykit.settings import Settings

    Started = tuple[int, int, Any, int, float, float]
    """What ``Recorder.begin`` returns: the work in flight and the started count then, the
    context's usage meter and its call count, the CPU and the wall clock."""

RUNNER_ENV = "_RELAYKIT_RUNNER"
"""Set by ``relaykit dev`` (``dev``) and ``relaykit serve`` (``serve``) for ``measure = auto``."""
LOG_KEY = "relaykit_measurement"
_BOOL = {True: "true", False: "false"}
_NO_MODEL_CALLS = (
    ',"model_wait_ms":0.000,"model_calls":0,"input_tokens":0,"output_tokens":0,"model_cost_usd":0.0'
)
METRICS = (
    ("wall_ms", "Milliseconds"),
    ("cpu_ms", "Milliseconds"),
    ("model_wait_ms", "Milliseconds"),
    ("max_rss_mb", "Megabytes"),
    ("response_bytes", "Bytes"),
    ("model_calls", "Count"),
    ("input_tokens", "Count"),
    ("output_tokens", "Count"),
    ("model_cost_usd", "None"),
)


MODEL_CALLS: ContextVar[list[Any] | None] = ContextVar("relaykit_model_calls", default=None)
"""While an invocation is measured as a whole (see the module docstring): the list that every model
call made in serving it is added to (``relaykit.llm.bound.BoundModel.record``), whichever
``Context`` made it. ``relaykit.dispatch`` then leaves the tasks and streams it serves to that
measurement instead of measuring each on its own."""


class Measurement(NamedTuple):
    """One handler invocation (``task``, ``stream``) or workflow ``step`` (a named tuple: the
    cheapest record to build on the request path)."""

    handler: str
    kind: str
    target: str
    at: float
    wall_s: float
    cpu_s: float
    cpu_exact: bool
    model_wait_s: float
    model_calls: int
    input_tokens: int
    output_tokens: int
    model_cost_usd: float
    max_rss_mb: float
    response_bytes: int
    streamed: bool
    error: bool = False
    step: str | None = None
    run_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return self._asdict()

    @classmethod
    def from_log(cls, line: Mapping[str, Any]) -> Measurement:
        """A measurement from the fields of a ``Recorder.log_line`` document."""
        data = {key: value for key, value in line.items() if not key.endswith("_ms")}
        if "at" not in data:  # the start, in ms: EMF's timestamp (``log_line``)
            try:
                data["at"] = float(line["_aws"]["Timestamp"]) / 1000.0
            except (KeyError, TypeError):
                raise ValueError("a measurement line with no _aws.Timestamp (its start)") from None
        for key in ("wall", "cpu", "model_wait"):
            data[f"{key}_s"] = float(line.get(f"{key}_ms", 0.0)) / 1000.0
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Measurement:
        """A measurement from ``to_dict`` output; unknown keys are ignored."""
        known = cls._fields
        return cls(**{key: value for key, value in data.items() if key in known})


def _rss_reader() -> Callable[[], float]:
    """``read()``: the process's peak RSS in MB (``0.0`` where it cannot be read)."""
    try:
        import resource
    except ImportError:  # not on Unix: no peak memory
        return lambda: 0.0
    scale = 1024.0 * 1024.0 if sys.platform == "darwin" else 1024.0  # bytes vs KiB
    getrusage, process = resource.getrusage, resource.RUSAGE_SELF
    return lambda: getrusage(process).ru_maxrss / scale


def resolve_mode(settings: Settings, environ: Mapping[str, str] | None = None) -> str:
    """``off``, ``log`` or ``store``: the ``measure`` setting with ``auto`` decided."""
    mode = str(getattr(settings, "measure", "auto"))
    if mode != "auto":
        return mode
    env = os.environ if environ is None else environ
    runner = env.get(RUNNER_ENV)
    if runner == "dev":
        return "store"
    if runner == "serve":
        return "log"
    on_lambda = settings.resolved_target(env) == "lambda"
    return "log" if on_lambda and getattr(settings, "metrics", True) else "off"


def store_path(settings: Settings) -> str:
    """``measurements.db`` in the folder of a SQLite durable store, else in ``.relaykit``."""
    url = settings.store
    if url.startswith("sqlite:///"):
        folder = os.path.dirname(url[len("sqlite:///") :])
        return os.path.join(folder or ".", "measurements.db")
    return os.path.join(".relaykit", "measurements.db")


class Recorder:
    """One app's measurement sink: starts probes, writes log lines, feeds the store writer.

    In ``store`` mode measurements are collected in a list handed to the writer thread as one
    batch every ``BATCH`` items or ``HANDOFF_S`` seconds, so the request path never wakes it.
    """

    BATCH = 256
    HANDOFF_S = 1.0
    RSS_S = 0.2

    def __init__(
        self,
        settings: Settings,
        mode: str,
        *,
        out: TextIO | None = None,
        path: str | None = None,
    ) -> None:
        self.mode = mode
        self.service = settings.service
        self._out = out
        self._path = path or store_path(settings)
        self._writer: Any = None
        self._lines: LineWriter | None = None
        self._pending: list[Measurement] = []
        self._handed = time.monotonic()
        self._read_rss = _rss_reader()
        self._rss_at, self._rss_mb = -1.0, 0.0  # re-read at most every RSS_S
        self.inflight = 0
        self.started = 0
        emf = {
            "Namespace": settings.metrics_namespace,
            "Dimensions": [["service", "handler"]],
            "Metrics": [{"Name": name, "Unit": unit} for name, unit in METRICS],
        }
        self.directive = json.dumps(emf, separators=(",", ":"))
        """This recorder's EMF metric directive (one JSON object)."""
        self._emf = f"[{self.directive}]"
        self._service = json.dumps(settings.service)
        self._templates: dict[tuple[Any, ...], tuple[str, str, str]] = {}
        self._rss_text = (0.0, "0.0")
        self._origin = time.time() - time.perf_counter()
        if mode == "store":  # what is collected but not handed over yet is written at exit
            import atexit

            atexit.register(self.close)

    def start(self, ctx: Context, kind: str, *, streamed: bool, step: str | None = None) -> Probe:
        """A measurement of one handler invocation or workflow step, started now."""
        return Probe(self, ctx, kind, streamed, step)

    def begin(self, ctx: Context | None = None) -> Started:
        """Start measuring now: what ``measurement`` needs at the end (the clocks, the work in
        flight, and the count of ``ctx``'s model calls so far).

        ``begin`` and ``measurement`` are the probe without an object: the dispatch seam calls
        them around every measured task, where each call and object costs (``Probe`` wraps
        them for streams and workflow steps)."""
        meter = None if ctx is None else ctx.usage
        self.inflight = n0 = self.inflight + 1
        self.started = seq = self.started + 1
        mark = len(meter.calls) if meter is not None else 0
        return (n0, seq, meter, mark, _process_time(), _perf_counter())

    def measurement(
        self,
        started: Started,
        handler: str,
        kind: str,
        target: str,
        error: bool,
        response_bytes: int = 0,
        streamed: bool = False,
        wall_s: float | None = None,
        step: str | None = None,
        run_id: str | None = None,
        calls: Sequence[Any] | None = None,
    ) -> Measurement:
        """The measurement begun with ``started``, now (``wall_s`` overrides its clock): CPU
        time shared out when work overlapped (see the module docstring), and the model
        ``calls`` summed (by default those of the context's meter since ``begin``)."""
        now = _perf_counter()
        cpu = _process_time()
        n0, seq, meter, mark, cpu0, t0 = started
        cpu -= cpu0
        n1 = self.inflight
        self.inflight = n1 - 1
        exact = n0 == 1 and self.started == seq
        if not exact:
            cpu /= max(1.0, (n0 + n1) / 2)
        if calls is None and meter is not None and len(meter.calls) > mark:
            calls = meter.calls[mark:]
        wait = cost = 0.0
        count = tokens_in = tokens_out = 0
        if calls:
            for call in calls:
                count += 1
                wait += call.latency_s
                cost += call.cost_usd or 0.0
                tokens_in += call.usage.input_tokens
                tokens_out += call.usage.output_tokens
            cost = round(cost, 8)
        if now - self._rss_at >= self.RSS_S:
            self._rss_at, self._rss_mb = now, self._read_rss()
        fields = (
            handler, kind, target, self._origin + t0, now - t0 if wall_s is None else wall_s,
            cpu, exact, wait, count, tokens_in, tokens_out, cost, self._rss_mb, response_bytes,
            streamed, error, step, run_id,
        )  # fmt: skip
        return _new_tuple(Measurement, fields)

    def cancel(self, started: Started) -> None:
        """Drop the measurement begun with ``started`` (the work was cancelled or suspended,
        or is not measured)."""
        self.inflight -= 1

    def emit(self, measurement: Measurement) -> None:
        if self.mode == "store":
            self._pending.append(measurement)
            if len(self._pending) >= self.BATCH or (
                time.monotonic() - self._handed >= self.HANDOFF_S
            ):
                self._hand_off()
        elif self.mode == "log":
            if measurement.target != "lambda":
                lines = self._lines
                if lines is None:
                    from relaykit.measure_log import LineWriter

                    lines = self._lines = LineWriter(self.log_line, self._write_flushed)
                lines.put(measurement)
                return
            self.write(self.log_line(measurement))

    def write(self, line: str) -> None:
        """Write a log line to stdout (or to the stream the recorder was given)."""
        out = self._out if self._out is not None else sys.stdout
        out.write(line + "\n")

    def _write_flushed(self, lines: str) -> None:
        out = self._out if self._out is not None else sys.stdout
        out.write(lines + "\n")
        out.flush()

    def _hand_off(self) -> None:
        batch, self._pending = self._pending, []
        self._handed = time.monotonic()
        if not batch:
            return
        if self._writer is None:
            from relaykit.measure_store import BackgroundWriter

            self._writer = BackgroundWriter(self._path)
        self._writer.put(batch)

    def log_line(
        self,
        m: Measurement,
        *,
        directives: str | None = None,
        extra: str = "",
        latency: bool = False,
    ) -> str:
        """``m`` as one JSON line: an EMF document (the ``METRICS``: times, memory, response
        size and model usage, by service and handler) whose other keys are the rest of the
        measurement, marked ``"relaykit_measurement": 1``. Its start (``at``) is the EMF
        timestamp, in milliseconds.

        ``directives`` replaces the ``CloudWatchMetrics`` array, ``extra`` (``,"key":...``, the
        same for many lines) adds keys, and ``latency`` adds ``"latency":[wall_ms]``: how the
        Lambda handler folds its own invocation metrics into this line
        (``relaykit.targets.lambda_observe``) instead of writing a second one.

        Formatted by hand from a template cached per handler and flags, so a line costs the
        formatting of its numbers: ``json.dumps`` of the same document takes several times as
        long, and on Lambda this runs on every invocation.
        """
        (handler, kind, target, at, wall, cpu, exact, wait, calls, tokens_in, tokens_out, cost,
         rss, size, streamed, error, step, run_id) = m  # fmt: skip
        key = (handler, kind, target, exact, streamed, error, directives, extra)
        template = self._templates.get(key)
        if template is None:
            template = self._templates[key] = self._template(key)
        head, idle, tail = template
        if step is not None:
            tail = f',"step":{json.dumps(step)},"run_id":{json.dumps(run_id)}{tail}'
            idle = _NO_MODEL_CALLS + tail
        if calls or wait or cost:
            tail = (
                f',"model_wait_ms":{wait * 1000:.3f},"model_calls":{int(calls)},'
                f'"input_tokens":{int(tokens_in)},"output_tokens":{int(tokens_out)},'
                f'"model_cost_usd":{float(cost)!r}{tail}'
            )
        else:
            tail = idle
        # milliseconds to 3 decimals from whole microseconds and a table of the 1,000 decimal
        # parts (``.3f`` but for a tie, which rounds up): on Lambda, between two invocations,
        # float formatting's code is out of the CPU caches and costs ~3 us a line more than
        # this (a scratch ablation of bench/measure_overhead.py's Lambda defaults)
        decimals = _DECIMALS
        us = int(wall * 1e6 + 0.5)
        ms = f"{us // 1000}{decimals[us % 1000]}" if us >= 0 else f"{wall * 1000:.3f}"
        us = int(cpu * 1e6 + 0.5)
        cpu_ms = f"{us // 1000}{decimals[us % 1000]}" if us >= 0 else f"{cpu * 1000:.3f}"
        rss_text = self._rss_text  # peak memory changes rarely: its text is kept
        if rss_text[0] != rss:
            rss_text = self._rss_text = (rss, f"{rss:.1f}")
        if latency:
            tail = f',"latency":[{ms}]{tail}'
        return (
            f'{{"_aws":{{"Timestamp":{int(at * 1000)},{head}"wall_ms":{ms},'
            f'"cpu_ms":{cpu_ms},"max_rss_mb":{rss_text[1]},"response_bytes":{size}{tail}'
        )

    def _template(self, key: tuple[Any, ...]) -> tuple[str, str, str]:
        """The constant text of a line before ``"wall_ms"``, and after ``"response_bytes"``
        with and without the model usage keys of no model calls."""
        handler, kind, target, exact, streamed, error, directives, extra = key
        if not _DECIMALS:  # built with the first line, not at import (~60 us)
            digits = "0123456789"
            pairs = [a + b for a in digits for b in digits]
            _DECIMALS.extend([f".{pair}{c}" for pair in pairs for c in digits])  # one append
        names = ",".join(
            f'"{name}":{json.dumps(value)}'
            for name, value in (("handler", handler), ("kind", kind), ("target", target))
        )
        head = (
            f'"CloudWatchMetrics":{self._emf if directives is None else directives}}},'
            f'"message":"measurement","service":{self._service},"{LOG_KEY}":1,{names},'
        )
        tail = (
            f',"cpu_exact":{_BOOL[exact]},"streamed":{_BOOL[streamed]},'
            f'"error":{_BOOL[error]}{extra}}}'
        )
        return head, _NO_MODEL_CALLS + tail, tail

    def flush(self) -> None:
        """Hand over what is collected and wait until it is all in the store (or, in ``log``
        mode, written)."""
        if self._lines is not None:
            self._lines.flush()
        self._hand_off()
        if self._writer is not None:
            self._writer.flush()

    def close(self) -> None:
        """Write what is collected and stop the writer threads. In ``store`` mode it runs at
        interpreter exit too (again, if the recorder was used after an earlier close)."""
        if self._lines is not None:
            self._lines.close()
            self._lines = None
        self._hand_off()
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def build_recorder(settings: Settings, **options: Any) -> Recorder | None:
    """The recorder the ``measure`` setting asks for, or ``None`` when it is off."""
    mode = resolve_mode(settings)
    return None if mode == "off" else Recorder(settings, mode, **options)


class InvocationProbe:
    """One measurement of a whole invocation: an event batch (SQS, S3, DynamoDB, EventBridge),
    or on Lambda an HTTP request, from the event in to the response out.

    The model calls are all those made while serving it: the caller sets ``MODEL_CALLS`` to
    its ``calls`` list while the invocation runs. So one measurement carries every record's
    calls, and on Lambda the handler writes it with the invocation's metrics line
    (``relaykit.targets.lambda_observe``).
    """

    __slots__ = ("_rec", "_started", "calls", "target")

    def __init__(self, recorder: Recorder, target: str) -> None:
        self.calls: list[Any] = []
        """The invocation's model calls (``relaykit.llm.usage.CallRecord`` items)."""
        self.target = target
        self._rec = recorder
        self._started = recorder.begin()

    def discard(self) -> None:
        """Drop the measurement (the work was cancelled or suspended, or is not measured)."""
        self._rec.cancel(self._started)

    def measurement(
        self,
        handler: str,
        kind: str,
        error: bool,
        response_bytes: int = 0,
        streamed: bool = False,
        wall_s: float | None = None,
    ) -> Measurement:
        """The measurement, now (``wall_s`` overrides the probe's own clock), with this
        invocation's model calls."""
        return self._rec.measurement(
            self._started, handler, kind, self.target, error, response_bytes, streamed, wall_s,
            None, None, self.calls,
        )  # fmt: skip

    def finish(self, handler: str, *, error: bool) -> None:
        """Record the measurement of an event invocation (kind ``event``)."""
        self._rec.emit(self.measurement(handler, "event", error))


class Probe:
    """One stream or workflow step being measured, read from its ``Context``
    (``Recorder.start``): started before the work, finished after it."""

    __slots__ = ("_ctx", "_kind", "_rec", "_started", "_step", "streamed")

    def __init__(
        self, recorder: Recorder, ctx: Context, kind: str, streamed: bool, step: str | None
    ) -> None:
        self._rec = recorder
        self._ctx = ctx
        self._kind = kind
        self._step = step
        self.streamed = streamed
        self._started = recorder.begin(ctx)

    def discard(self) -> None:
        """Drop the measurement (the work was cancelled or suspended)."""
        self._rec.cancel(self._started)

    def finish(self, response_bytes: int, *, error: bool, wall_s: float | None = None) -> None:
        """Record the measurement (``wall_s`` overrides the probe's own clock)."""
        ctx, step, rec = self._ctx, self._step, self._rec
        run_id = getattr(ctx, "run_id", None) if step is not None else None
        rec.emit(
            rec.measurement(
                self._started, ctx.handler, self._kind, ctx.target, error, response_bytes,
                self.streamed, wall_s, step, run_id,
            )
        )  # fmt: skip


_perf_counter = time.perf_counter
_process_time = time.process_time
_new_tuple = tuple.__new__
_DECIMALS: list[str] = []
"""``.000`` to ``.999`` by index (``Recorder.log_line``), filled with the first template."""


def json_size(value: Any) -> int:
    """Bytes of ``value`` as compact UTF-8 JSON (what a target sends for it). Encoded by
    pydantic-core, which the dispatch seam has loaded already: ~8x faster than ``json``."""
    if isinstance(value, str) and value.isascii():
        return len(value) + 2
    if not _TO_JSON:
        from pydantic_core import to_json

        _TO_JSON.append(to_json)
    return len(_TO_JSON[0](value, fallback=str))


_TO_JSON: list[Callable[..., bytes]] = []

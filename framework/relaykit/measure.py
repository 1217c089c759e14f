"""Measurements: what each handler invocation and workflow step costs to run.

Every invocation that passes through the dispatch seam (``run_task``, ``iter_chunks``), and every
workflow step, becomes one ``Measurement``: wall time, CPU time, time waiting on models, peak
memory, tokens, response size and whether it streamed. ``relaykit advise`` turns them into
monthly costs per deployment option.

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
Standard library only; a measurement costs a few microseconds on the hot path.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, NamedTuple, TextIO, cast

if TYPE_CHECKING:
    from relaykit.context import Context
    from relaykit.measure_log import LineWriter
    from relaykit.settings import Settings

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


HELD: ContextVar[list[tuple[Recorder, Measurement]] | None] = ContextVar(
    "relaykit_held_measurements", default=None
)
"""Set by the Lambda handler around one invocation: ``log`` measurements (not workflow steps,
which are written at once) are held there, to be written with its metrics line after the
response (``relaykit.targets.lambda_observe.Observer.record``)."""


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
        for key in ("wall", "cpu", "model_wait"):
            data[f"{key}_s"] = float(line.get(f"{key}_ms", 0.0)) / 1000.0
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Measurement:
        """A measurement from ``to_dict`` output; unknown keys are ignored."""
        known = cls._fields
        return cls(**{key: value for key, value in data.items() if key in known})


def _rss_reader() -> Callable[[float], float]:
    """``read(now)``: the process's peak RSS in MB, re-read at most every 0.2 s of ``now``
    (``perf_counter`` seconds)."""
    try:
        import resource
    except ImportError:  # not on Unix: no peak memory
        return lambda now: 0.0
    scale = 1024.0 * 1024.0 if sys.platform == "darwin" else 1024.0  # bytes vs KiB
    cache = [-1.0, 0.0]

    def read(now: float) -> float:
        if now - cache[0] >= 0.2:
            cache[0], cache[1] = now, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale
        return cache[1]

    return read


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
        self._rss = _rss_reader()
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
        self._quoted: dict[tuple[str, str, str], str] = {}
        self._origin = time.time() - time.perf_counter()

    def start(self, ctx: Context, kind: str, *, streamed: bool, step: str | None = None) -> Probe:
        return Probe(self, ctx, kind, streamed, step)

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
            held = HELD.get()
            if held is not None and measurement.step is None:
                held.append((self, measurement))
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
            import atexit

            from relaykit.measure_store import BackgroundWriter

            self._writer = BackgroundWriter(self._path)
            atexit.register(self.close)
        self._writer.put(batch)

    def log_line(self, m: Measurement, *, directives: str | None = None, extra: str = "") -> str:
        """``m`` as one JSON line: an EMF document (the ``METRICS``: times, memory, response
        size and model usage, by service and handler) whose other
        keys are the rest of the measurement, marked ``"relaykit_measurement": 1``. Formatted
        by hand: ``json.dumps`` of the same document takes twice as long.

        ``directives`` replaces the ``CloudWatchMetrics`` array and ``extra`` (``,"key":...``)
        adds keys: how the Lambda handler folds its own invocation metrics into this line
        (``relaykit.targets.lambda_observe``) instead of writing a second one."""
        (handler, kind, target, at, wall, cpu, exact, wait, calls, tokens_in, tokens_out, cost,
         rss, size, streamed, error, step, run_id) = m  # fmt: skip
        quoted = self._quoted
        names = quoted.get((handler, kind, target))
        if names is None:
            names = quoted[(handler, kind, target)] = ",".join(
                f'"{key}":{json.dumps(value)}'
                for key, value in (("handler", handler), ("kind", kind), ("target", target))
            )
        tail = "}"
        if step is not None:
            tail = f',"step":{json.dumps(step)},"run_id":{json.dumps(run_id)}}}'
        if extra:
            tail = extra + tail
        model = _NO_MODEL_CALLS
        if calls or wait or cost:
            model = (
                f',"model_wait_ms":{wait * 1000:.3f},"model_calls":{int(calls)},'
                f'"input_tokens":{int(tokens_in)},"output_tokens":{int(tokens_out)},'
                f'"model_cost_usd":{float(cost)!r}'
            )
        emf = self._emf if directives is None else directives
        return (
            f'{{"_aws":{{"Timestamp":{int(at * 1000)},"CloudWatchMetrics":{emf}}},'
            f'"message":"measurement","service":{self._service},"{LOG_KEY}":1,{names},'
            f'"at":{at!r},"wall_ms":{wall * 1000:.3f},"cpu_ms":{cpu * 1000:.3f},'
            f'"cpu_exact":{_BOOL[exact]}{model},"max_rss_mb":{rss:.1f},'
            f'"response_bytes":{int(size)},"streamed":{_BOOL[streamed]},"error":{_BOOL[error]}{tail}'
        )

    def flush(self) -> None:
        """Hand over what is collected and wait until it is all in the store (or, in ``log``
        mode, written)."""
        if self._lines is not None:
            self._lines.flush()
        self._hand_off()
        if self._writer is not None:
            self._writer.flush()

    def close(self) -> None:
        """Write what is collected and stop the writer threads."""
        if self._lines is not None:
            self._lines.close()
            self._lines = None
        self._hand_off()
        if self._writer is not None:
            import atexit

            atexit.unregister(self.close)
            self._writer.close()
            self._writer = None


def build_recorder(settings: Settings, **options: Any) -> Recorder | None:
    """The recorder the ``measure`` setting asks for, or ``None`` when it is off."""
    mode = resolve_mode(settings)
    return None if mode == "off" else Recorder(settings, mode, **options)


class _Invocation:
    """What a ``Probe`` reads of a ``Context``, for an event invocation that has no single
    context: its records each have one."""

    __slots__ = ("handler", "target", "usage")

    def __init__(self, handler: str, target: str) -> None:
        self.handler = handler
        self.target = target
        self.usage: Any = None


class _Calls:
    """The model calls of several usage meters, as one meter (``.calls``)."""

    __slots__ = ("calls",)

    def __init__(self, meters: list[Any]) -> None:
        self.calls = [call for meter in meters if meter is not None for call in meter.calls]


class EventProbe:
    """One measurement of an event invocation (an SQS, S3, DynamoDB or EventBridge batch on
    Lambda, a received batch in the container worker): wall and CPU time of the whole batch,
    and the model calls of every record (their contexts' meters are collected in ``meters``
    while it runs: ``relaykit.events.base.USAGE_METERS``)."""

    __slots__ = ("_invocation", "_probe", "meters")

    def __init__(self, recorder: Recorder, handler: str, target: str) -> None:
        self.meters: list[Any] = []
        self._invocation = _Invocation(handler, target)
        self._probe = recorder.start(cast("Context", self._invocation), "event", streamed=False)

    def finish(self, handler: str, *, error: bool) -> None:
        self._invocation.handler = handler
        self._invocation.usage = _Calls(self.meters)
        self._probe.finish(0, error=error)


class Probe:
    """One measurement in progress: started before the handler, finished after it."""

    __slots__ = (
        "_cpu", "_ctx", "_kind", "_mark", "_n0", "_rec", "_seq", "_step", "_t0", "streamed"
    )  # fmt: skip

    def __init__(
        self, recorder: Recorder, ctx: Context, kind: str, streamed: bool, step: str | None
    ) -> None:
        self._rec = recorder
        self._ctx = ctx
        self._kind = kind
        self._step = step
        self.streamed = streamed
        meter = ctx.usage
        self._mark = len(meter.calls) if meter is not None else 0
        recorder.inflight = self._n0 = recorder.inflight + 1
        recorder.started = self._seq = recorder.started + 1
        self._cpu = _process_time()
        self._t0 = _perf_counter()

    def discard(self) -> None:
        """Drop the measurement (the work was cancelled or suspended)."""
        self._rec.inflight -= 1

    def finish(self, response_bytes: int, *, error: bool, wall_s: float | None = None) -> None:
        """Record the measurement (``wall_s`` overrides the probe's own clock)."""
        now = _perf_counter()
        cpu = _process_time() - self._cpu
        rec = self._rec
        n1 = rec.inflight
        rec.inflight = n1 - 1
        n0 = self._n0
        exact = n0 == 1 and rec.started == self._seq
        if not exact:
            cpu /= max(1.0, (n0 + n1) / 2)
        ctx = self._ctx
        wait = cost = 0.0
        calls = tokens_in = tokens_out = 0
        meter = ctx.usage
        if meter is not None and len(meter.calls) > self._mark:
            for call in meter.calls[self._mark :]:
                calls += 1
                wait += call.latency_s
                cost += call.cost_usd or 0.0
                tokens_in += call.usage.input_tokens
                tokens_out += call.usage.output_tokens
            cost = round(cost, 8)
        step = self._step
        fields = (
            ctx.handler,
            self._kind,
            ctx.target,
            rec._origin + self._t0,
            now - self._t0 if wall_s is None else wall_s,
            cpu,
            exact,
            wait,
            calls,
            tokens_in,
            tokens_out,
            cost,
            rec._rss(now),
            response_bytes,
            self.streamed,
            error,
            step,
            getattr(ctx, "run_id", None) if step is not None else None,
        )
        rec.emit(_new_tuple(Measurement, fields))


_perf_counter = time.perf_counter
_process_time = time.process_time
_new_tuple = tuple.__new__


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

"""Observability on Lambda: CloudWatch metrics in EMF, optional X-Ray tracing.

Logs: relaykit keeps its own JSON formatter (``relaykit.logs``) on Lambda instead of Powertools'
Logger. Its keys already follow Powertools' (``level``, ``location``, ``message``, ``timestamp``,
``service``, ``cold_start``, ``function_arn``, ``xray_trace_id``, ``correlation_id``), and using
the same formatter on every target is what guarantees that a log query written against the
container works unchanged on Lambda. The Lambda handler sets the invocation's fields once
(``logs.invocation_fields``), and every relaykit log line carries them.

Metrics: one Embedded Metric Format line on stdout per invocation, with dimensions ``handler``
and ``service`` and metrics ``invocations``, ``errors``, ``latency`` (ms) and, on an
environment's first invocation, ``cold_starts``: the document Powertools' ``EphemeralMetrics``
would flush (same keys, units and single-value arrays, so dashboards built on either agree),
written by hand. Powertools Metrics cost ~36 ms of import on the first event and ~90 us per
invocation; this line costs a few microseconds and nothing at import.

With the ``measure`` setting at ``log`` (on Lambda, ``auto``), an invocation measured whole
(``relaykit.measure``: an HTTP request to a task, an event batch) writes its
measurement on the same line: one document with two metric directives, the measurement's
``wall_ms`` being the invocation's ``latency``.

Tracing: the Powertools ``Tracer`` (AWS X-Ray) costs about 230 ms of import, so it is built only
when the ``tracing`` setting is on; each invocation is then one subsegment with ``ColdStart`` and
``handler`` annotations.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from relaykit.events.base import Outcome
    from relaykit.measure import Measurement, Recorder
    from relaykit.settings import Settings


class Observer:
    """Records one invocation's metrics and, when enabled, its trace subsegment."""

    def __init__(self, settings: Settings, recorder: Recorder | None = None) -> None:
        self.service = settings.service
        self.namespace = settings.metrics_namespace
        self.metrics = settings.metrics
        self.tracing = settings.tracing
        self._tracer: Any = None
        self._service = json.dumps(self.service)
        self._handlers: dict[str, str] = {}
        self._directives = {cold: _directive(self.namespace, cold) for cold in (False, True)}
        self.recorder = recorder
        """The app's measurement recorder (``None`` when ``measure`` is off)."""
        self._merged = {
            (cold, error): (
                f"[{recorder.directive},{self._directives[cold][1:-1]}]" if recorder else "",
                f',"invocations":[1.0],"errors":[{1.0 if error else 0.0}]'
                + (',"cold_starts":[1.0]' if cold else ""),
            )
            for cold in (False, True)
            for error in (False, True)
        }
        """For a line that is a measurement and this invocation's metrics (by cold start and
        error): both directives, and the metric keys but ``latency`` (the measurement's
        ``wall_ms``)."""

    def prepare(self) -> None:
        """Import what ``traced`` needs (eager init); metrics need nothing."""
        if self.tracing:
            self._get_tracer()

    def _get_tracer(self) -> Any:
        if self._tracer is None:
            try:
                from aws_lambda_powertools import Tracer
            except ImportError:
                from relaykit.errors import MissingExtraError

                raise MissingExtraError(
                    "aws_lambda_powertools", "lambda", "Lambda tracing (setting tracing)"
                ) from None
            self._tracer = Tracer(service=self.service)
        return self._tracer

    @contextlib.contextmanager
    def traced(self, kind: str, cold_start: bool) -> Iterator[None]:
        """One X-Ray subsegment around the invocation when tracing is on; nothing otherwise."""
        if not self.tracing:
            yield
            return
        tracer = self._get_tracer()
        with tracer.provider.in_subsegment(f"## relaykit {kind}") as subsegment:
            subsegment.put_annotation(key="ColdStart", value=cold_start)
            yield

    def record(
        self,
        outcome: Outcome,
        elapsed_ms: float,
        cold_start: bool,
        measured: Measurement | None = None,
    ) -> None:
        """Write this invocation's metrics as one EMF line on stdout, and its measurement
        (an invocation measured whole: see ``relaykit.measure``), if it has one.

        In ``log`` mode with metrics on (Lambda's defaults) they are one line: the measurement's
        line with this line's metrics and keys added (one write, one document). Otherwise the
        measurement goes to the recorder as any other.
        """
        recorder = self.recorder
        if measured is not None and recorder is not None:
            if self.metrics and recorder.mode == "log":
                directives, extra = self._merged[cold_start, outcome.error]
                recorder.write(
                    recorder.log_line(measured, directives=directives, extra=extra, latency=True)
                )
                return
            recorder.emit(measured)
        if self.metrics:
            sys.stdout.write(self.emf_line(outcome, elapsed_ms, cold_start, time.time()) + "\n")

    def emf_line(self, outcome: Outcome, elapsed_ms: float, cold_start: bool, now: float) -> str:
        """The EMF document of one invocation (see the module docstring)."""
        handler = self._handlers.get(outcome.handler)
        if handler is None:
            handler = self._handlers[outcome.handler] = json.dumps(outcome.handler)
        directive = self._directives[cold_start]
        return (
            f'{{"_aws":{{"Timestamp":{int(now * 1000)},"CloudWatchMetrics":{directive}}},'
            f'"handler":{handler},"service":{self._service}'
            f"{self._metric_keys(outcome, elapsed_ms, cold_start)}}}"
        )

    @staticmethod
    def _metric_keys(outcome: Outcome, elapsed_ms: float, cold_start: bool) -> str:
        """The metric values of one invocation, as ``,"key":[value]...``."""
        cold = ',"cold_starts":[1.0]' if cold_start else ""
        return (
            f',"invocations":[1.0],"errors":[{1.0 if outcome.error else 0.0}],'
            f'"latency":[{round(elapsed_ms, 3)!r}]{cold}'
        )


_UNITS = (("invocations", "Count"), ("errors", "Count"), ("latency", "Milliseconds"))


def _directive(namespace: str, cold_start: bool) -> str:
    """The ``CloudWatchMetrics`` array (JSON) of an invocation's EMF line. Written as text (only
    the namespace is encoded): ``json.dumps`` of the structure costs ~40 µs more on a cold
    start, where this runs."""
    units = [*_UNITS, ("cold_starts", "Count")] if cold_start else _UNITS
    metrics = ",".join(f'{{"Name":"{name}","Unit":"{unit}"}}' for name, unit in units)
    return (
        f'[{{"Namespace":{json.dumps(namespace)},"Dimensions":[["handler","service"]],'
        f'"Metrics":[{metrics}]}}]'
    )

"""Observability on Lambda: CloudWatch metrics in EMF through Powertools, optional X-Ray tracing.

Logs: relaykit keeps its own JSON formatter (``relaykit.logs``) on Lambda instead of Powertools'
Logger. Its keys already follow Powertools' (``level``, ``location``, ``message``, ``timestamp``,
``service``, ``cold_start``, ``function_arn``, ``xray_trace_id``, ``correlation_id``), and using
the same formatter on every target is what guarantees that a log query written against the
container works unchanged on Lambda. The Lambda handler sets the invocation's fields once
(``logs.invocation_fields``), and every relaykit log line carries them.

Metrics: one ``EphemeralMetrics`` per handler (never Powertools' class-level ``Metrics``, whose
state every instance in the process shares), emptied by each flush, so nothing carries over
between invocations. Dimensions ``service`` and ``handler``; metrics ``invocations``, ``errors``,
``latency`` (ms) and, on an environment's first invocation, ``cold_starts``; flushed as one EMF
line on stdout at the end of the invocation. Powertools is imported on the first flush.

Tracing: the Powertools ``Tracer`` (AWS X-Ray) costs about 230 ms of import, so it is built only
when the ``tracing`` setting is on; each invocation is then one subsegment with ``ColdStart`` and
``handler`` annotations.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from relaykit.errors import MissingExtraError
from relaykit.events.base import Outcome
from relaykit.settings import Settings


class Observer:
    """Records one invocation's metrics and, when enabled, its trace subsegment."""

    def __init__(self, settings: Settings) -> None:
        self.service = settings.service
        self.namespace = settings.metrics_namespace
        self.metrics = settings.metrics
        self.tracing = settings.tracing
        self._tracer: Any = None
        self._metrics_api: tuple[Any, Any] | None = None
        self._metrics: Any = None

    def prepare(self) -> None:
        """Import what ``record`` and ``traced`` need (eager init)."""
        if self.metrics:
            self._powertools_metrics()
        if self.tracing:
            self._get_tracer()

    def _powertools_metrics(self) -> tuple[Any, Any]:
        if self._metrics_api is None:
            try:
                from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit
            except ImportError:
                raise MissingExtraError(
                    "aws_lambda_powertools", "lambda", "Lambda metrics (setting metrics)"
                ) from None
            self._metrics_api = (EphemeralMetrics, MetricUnit)
        return self._metrics_api

    def _get_tracer(self) -> Any:
        if self._tracer is None:
            try:
                from aws_lambda_powertools import Tracer
            except ImportError:
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

    def record(self, outcome: Outcome, elapsed_ms: float, cold_start: bool) -> None:
        """Flush this invocation's metrics as one EMF line."""
        if not self.metrics:
            return
        metrics_class, unit = self._powertools_metrics()
        if self._metrics is None:
            self._metrics = metrics_class(namespace=self.namespace, service=self.service)
        metrics = self._metrics
        metrics.add_dimension(name="handler", value=outcome.handler)
        metrics.add_metric(name="invocations", unit=unit.Count, value=1)
        metrics.add_metric(name="errors", unit=unit.Count, value=1 if outcome.error else 0)
        metrics.add_metric(name="latency", unit=unit.Milliseconds, value=round(elapsed_ms, 3))
        if cold_start:
            metrics.add_metric(name="cold_starts", unit=unit.Count, value=1)
        metrics.flush_metrics()

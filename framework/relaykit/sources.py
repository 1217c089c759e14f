"""Event-source handlers: what ``@app.on_sqs``, ``@app.on_s3``, ``@app.on_dynamodb_stream``,
``@app.on_schedule`` and ``@app.on_eventbridge`` register, and how a record finds its handler.

A source handler takes at most two parameters, like any handler: the record (its annotation says
what it receives) and the context. The record parameter's annotation decides the value passed:

- a Powertools event source data class (``SQSRecord``, ``S3EventRecord``, ``DynamoDBRecord``,
  ``EventBridgeEvent``...; any class from ``aws_lambda_powertools``) is built from the raw record;
- no annotation, ``Any``, ``dict``, ``dict[str, Any]`` or ``Mapping[str, Any]``: the raw record,
  as a dict;
- anything else (a pydantic model, a dataclass, ``str``, ``list[...]``...) is validated by
  ``relaykit.dispatch`` from the record's *body*: the SQS message body (JSON-decoded when it is
  JSON), the S3 notification record, the DynamoDB item image (``NewImage``, or ``OldImage`` for
  ``REMOVE``, converted from DynamoDB JSON), or the EventBridge ``detail``.

Matching (``SourceSpec.matches_*``) is plain string and dictionary work; this module is
stdlib-only, like the rest of the core. The EventBridge pattern subset is documented in
``relaykit.patterns``; schedule expressions in ``relaykit.schedules``.
"""

from __future__ import annotations

import fnmatch
import inspect
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from relaykit.errors import RegistrationError
from relaykit.handlers import HandlerSpec, _concurrency, _hints, _split_params, describe
from relaykit.patterns import check_pattern, pattern_matches

__all__ = [
    "SourceSpec",
    "build_source",
    "check_clash",
    "check_events",
    "check_name",
    "check_pattern",
    "check_schedule",
    "pattern_matches",
    "resource_name",
]

SourceKind = Literal["sqs", "s3", "dynamodb", "schedule", "eventbridge"]
RecordMode = Literal["raw", "powertools", "body"]

_RAW_TYPES: tuple[Any, ...] = (Any, dict, Mapping, typing.Mapping, typing.Dict)  # noqa: UP006


@dataclass(frozen=True)
class SourceSpec:
    """One registered event-source handler: where its records come from and how it is called."""

    source: SourceKind
    label: str
    """A short name for logs and errors, e.g. ``sqs:orders``."""
    handler: HandlerSpec
    """The function, its record and context parameters (``body_type`` is the record type)."""
    mode: RecordMode
    queue: str | None = None
    bucket: str | None = None
    prefix: str = ""
    suffix: str = ""
    events: tuple[str, ...] = ()
    table: str | None = None
    expression: str | None = None
    rule: str | None = None
    pattern: Mapping[str, Any] | None = None
    idempotent: bool = False
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def fn(self) -> Callable[..., Any]:
        return self.handler.fn

    @property
    def queue_name(self) -> str | None:
        """The queue's name (the last part of an ARN or URL)."""
        return resource_name(self.queue) if self.queue else None

    def matches_queue(self, arn: str) -> bool:
        """True when ``arn`` (an SQS queue ARN) is this handler's queue (by ARN or by name)."""
        if self.queue is None:
            return False
        if self.queue.startswith("arn:"):
            return self.queue == arn
        return resource_name(arn) == self.queue_name

    def matches_object(self, bucket: str, key: str, event_name: str) -> bool:
        """True when an S3 notification (bucket, key, event name) is for this handler."""
        if (
            bucket != self.bucket
            or not key.startswith(self.prefix)
            or not key.endswith(self.suffix)
        ):
            return False
        if not self.events:
            return True
        name = event_name.removeprefix("s3:")
        return any(fnmatch.fnmatchcase(name, wanted) for wanted in self.events)

    def matches_stream(self, arn: str) -> bool:
        """True when ``arn`` (a DynamoDB stream ARN) belongs to this handler's table."""
        if self.table is None:
            return False
        if "/stream/" in self.table:
            return arn == self.table
        table_arn = arn.split("/stream/", 1)[0]
        if self.table.startswith("arn:"):
            return table_arn == self.table
        return table_arn.rsplit("/", 1)[-1] == self.table

    def matches_rule(self, arn: str) -> bool:
        """True when ``arn`` (an EventBridge rule ARN) is this schedule's rule (by ARN or name)."""
        if self.rule is None:
            return False
        if self.rule.startswith("arn:"):
            return arn == self.rule
        return arn.rsplit("/", 1)[-1] == self.rule


def resource_name(ref: str) -> str:
    """The name at the end of an ARN (``...:name`` or ``.../name``) or a queue URL."""
    tail = ref.rsplit(":", 1)[-1] if ref.startswith("arn:") else ref
    return tail.rstrip("/").rsplit("/", 1)[-1]


def _record_mode(annotation: Any) -> RecordMode:
    if annotation is None or annotation in _RAW_TYPES:
        return "raw"
    origin = typing.get_origin(annotation)
    if origin in (dict, Mapping) or origin is typing.Mapping:
        args = typing.get_args(annotation)
        if not args or args[-1] is Any:
            return "raw"
    module = getattr(annotation, "__module__", "") or ""
    if module.startswith("aws_lambda_powertools."):
        return "powertools"
    return "body"


def build_source(
    source: SourceKind,
    label: str,
    fn: Callable[..., Any],
    *,
    max_concurrency: int | None = None,
    **fields: Any,
) -> SourceSpec:
    """Check ``fn`` as a handler of ``source`` records and return its spec."""
    if not callable(fn):
        raise RegistrationError(f"{label}: {fn!r} is not a function")
    where = f"handler {describe(fn)}"
    if inspect.isasyncgenfunction(fn) or inspect.isgeneratorfunction(fn):
        raise RegistrationError(
            f"{where}: an event-source handler handles one record and returns; it yields"
        )
    hints = _hints(fn)
    body, ctx = _split_params(fn, hints)
    annotation = hints.get(body) if body else None
    is_async = inspect.iscoroutinefunction(fn)
    doc = inspect.getdoc(fn) or ""
    spec = HandlerSpec(
        kind="task",
        path=label,
        fn=fn,
        name=getattr(fn, "__name__", label),
        body_param=body,
        body_type=annotation if annotation is not None else Any,
        ctx_param=ctx,
        output_type=Any,
        summary=doc.splitlines()[0] if doc else "",
        is_async=is_async,
        max_concurrency=_concurrency(max_concurrency, is_async, where),
    )
    return SourceSpec(
        source=source, label=label, handler=spec, mode=_record_mode(annotation), **fields
    )


def check_name(value: Any, what: str, fn: Callable[..., Any]) -> str:
    """A non-empty string without whitespace; ``RegistrationError`` naming ``fn`` otherwise."""
    if not isinstance(value, str) or not value.strip() or any(c.isspace() for c in value):
        raise RegistrationError(
            f"handler {describe(fn)}: {what} must be a non-empty name or ARN, got {value!r}"
        )
    return value


def check_events(events: str | Sequence[str] | None, fn: Callable[..., Any]) -> tuple[str, ...]:
    """S3 event names (``ObjectCreated:*``, ``s3:ObjectRemoved:Delete``...), without ``s3:``."""
    if events is None:
        return ()
    items = (events,) if isinstance(events, str) else tuple(events)
    for item in items:
        if not isinstance(item, str) or not item.removeprefix("s3:").startswith(
            (
                "ObjectCreated",
                "ObjectRemoved",
                "ObjectRestore",
                "ReducedRedundancy",
                "Replication",
                "LifecycleExpiration",
                "LifecycleTransition",
                "IntelligentTiering",
                "ObjectTagging",
                "ObjectAcl",
                "TestEvent",
            )
        ):
            raise RegistrationError(
                f"handler {describe(fn)}: S3 event {item!r} is not an S3 event type; use names "
                "such as 'ObjectCreated:*' or 's3:ObjectRemoved:Delete'"
            )
    return tuple(item.removeprefix("s3:") for item in items)


def check_schedule(expression: Any, fn: Callable[..., Any]) -> str:
    """A schedule expression ``relaykit.schedules`` can run; ``RegistrationError`` otherwise."""
    from relaykit.schedules import parse_schedule

    if not isinstance(expression, str):
        raise RegistrationError(
            f"handler {describe(fn)}: schedule {expression!r} is not 'rate(...)' or 'cron(...)'"
        )
    try:
        parse_schedule(expression)
    except ValueError as exc:
        raise RegistrationError(f"handler {describe(fn)}: {exc}") from None
    return expression


def check_clash(registered: Sequence[SourceSpec], spec: SourceSpec) -> None:
    """``RegistrationError`` when ``spec``'s queue, table or schedule rule already has a handler
    (several ``on_s3`` and ``on_eventbridge`` handlers may share a bucket or match one event)."""
    for other in registered:
        if other.source != spec.source:
            continue
        clash = (
            (spec.source == "sqs" and other.queue_name == spec.queue_name)
            or (spec.source == "dynamodb" and other.table == spec.table)
            or (spec.source == "schedule" and other.rule == spec.rule)
        )
        if clash:
            raise RegistrationError(
                f"handler {describe(spec.fn)}: {spec.label} is already handled by "
                f"{describe(other.fn)}"
            )

"""Running event-source records: a ``Runner`` per invocation (a Lambda event, a worker batch),
shared by the Lambda event kinds (through ``relaykit.events.batch`` for SQS and DynamoDB
Streams) and ``relaykit worker``.

Per handler, a ``Plan`` is worked out once (how a record becomes the handler's value, whether
the handler is called directly or through ``dispatch.call_task``, the state of the ``Context``
``App.new_context`` makes for it). Per invocation, the ``Runner`` reads once what the records
share (the Lambda request id, deadline, ARN, trace id). Per record, ``start`` validates the
record and returns the handler's own coroutine, with a ``Context`` of its own, made only when
the handler takes one. Handlers registered with ``idempotent=True`` run under
``relaykit.idempotency.run_once``: a record processed already returns its recorded result
without a call, and one that another delivery is running right now fails with
``RecordInProgress``.

A plain ``def`` handler runs through ``dispatch.call_task``, in a worker thread, except in a
Runner that serves ``inline`` (an invocation the Lambda handler serves without its event loop,
because every record goes to a handler that ``runs_inline``): there ``start`` calls it in the
calling thread and returns its result.
"""

from __future__ import annotations

import json
import logging
import time
import weakref
from collections.abc import Callable, Coroutine, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from relaykit.context import Context, new_request_id
from relaykit.dispatch import call_task, encode_output
from relaykit.errors import UnknownEventError
from relaykit.events.records import Routed, queue_handler, route_dynamodb, route_sqs, value_reader
from relaykit.events.shapes import record_id
from relaykit.sources import SourceSpec

if TYPE_CHECKING:
    from relaykit.app import App

logger = logging.getLogger("relaykit.events")


def idempotency_key(work: Routed) -> str | None:
    """The marker key of a record for an ``idempotent=True`` handler (``None`` otherwise): the
    handler's source label plus the record's redelivery-stable id (``shapes.record_id``)."""
    return _key(work.spec, work.record) if work.spec.idempotent else None


def _key(spec: SourceSpec, record: Mapping[str, Any]) -> str | None:
    rid = record_id(spec.source, record)
    if rid is None:
        return None
    where = f"sqs:{spec.queue_name}" if spec.source == "sqs" else spec.label
    return f"{where}#{rid}"


def log_failure(exc: BaseException, what: str, works: Sequence[Routed]) -> None:
    """Log a failed record: a one-line warning for a duplicate delivery that found the record
    in progress (``RecordInProgress``), the traceback otherwise."""
    from relaykit.idempotency import RecordInProgress

    if isinstance(exc, RecordInProgress):
        logger.warning("%s not run: %s", what, exc)
        return
    labels = ", ".join(work.spec.label for work in works)
    logger.error("%s failed in %s", what, labels, exc_info=exc)


def result_json(spec: SourceSpec, result: Any) -> str | None:
    """A handler's result as the JSON text an idempotency marker records (``None`` when it
    cannot be encoded: the marker is still written, and a redelivery returns ``None``)."""
    try:
        data = encode_output(spec.handler.output_type, result)
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    except Exception:
        logger.warning(
            "%s: the result is not JSON-serialisable, so the idempotency marker records none",
            spec.label,
            exc_info=True,
        )
        return None


Call = Callable[[Mapping[str, Any]], Any]
"""Begins one record of a handler: validates it and returns the handler's coroutine (in a
Runner serving ``inline``: runs the handler to its end and returns its result)."""


def runs_inline(spec: SourceSpec) -> bool:
    """True when a Runner serving without the event loop (``inline``) calls ``spec``'s handler
    in the calling thread: a plain ``def`` handler that runs one record at a time (the default
    ``max_concurrency`` of a ``def`` handler) and is not ``idempotent`` (a marker's claim and
    renewals wait on the loop). Any other handler needs the loop (and a ``def`` one a thread)."""
    handler = spec.handler
    return not handler.is_async and handler.max_concurrency == 1 and not spec.idempotent


def sqs_runs_inline(app: App, records: Sequence[Any]) -> bool:
    """True when every record of an SQS batch goes to its queue's ``on_sqs`` handler and that
    handler ``runs_inline`` (a record of a queue without one, S3 notifications, is not)."""
    return _all_inline(records, lambda record, arn: queue_handler(app, arn))


def dynamodb_runs_inline(app: App, records: Sequence[Any]) -> bool:
    """True when every record of a DynamoDB stream batch goes to a handler that
    ``runs_inline`` (its table's ``on_dynamodb_stream`` handler)."""

    def route(record: Mapping[str, Any], arn: str) -> Any:
        try:
            return route_dynamodb(app, record).spec
        except UnknownEventError:
            return None

    return _all_inline(records, route)


def _all_inline(
    records: Sequence[Any], route: Callable[[Mapping[str, Any], str], Any | None]
) -> bool:
    """True when ``route`` finds, for every record, a handler that ``runs_inline``; each source
    ARN is routed once."""
    seen: dict[str, bool] = {}
    for record in records:
        if type(record) is not dict and not isinstance(record, Mapping):
            return False
        arn = str(record.get("eventSourceARN", ""))
        inline = seen.get(arn)
        if inline is None:
            spec = route(record, arn)
            inline = seen[arn] = spec is not None and runs_inline(spec)
        if not inline:
            return False
    return True


class Plan:
    """How to call one source handler, worked out once per handler (and app): how its records
    become its value, and whether it is called directly (``async def`` without a concurrency
    limit) or through ``dispatch.call_task``. For a handler that takes a context, ``context()``
    is the state of a ``Context`` that ``App.new_context`` makes for it, which each record's
    context starts from, with the class that binds the model to a context."""

    def __init__(self, spec: SourceSpec) -> None:
        handler = spec.handler
        self.spec = spec
        self.read = value_reader(spec) if handler.body_param is not None else None
        self.direct = handler.is_async and handler.max_concurrency is None
        self.inline = runs_inline(spec)
        self.positional = _positional(handler.fn, handler.body_param, handler.ctx_param)
        self._context: tuple[dict[str, Any], Any, Any] | None = None

    def context(self, app: App) -> tuple[dict[str, Any], Any, Any]:
        """``(state, bind, model)``: made on first use (it resolves the app's model). (The plan
        does not keep ``app``: plans live in a weak mapping keyed by it.)"""
        if self._context is None:
            from relaykit.app import _bound_model_class

            state = dict(vars(app.new_context(self.spec.handler)))
            state["_logger"] = None
            # ``llm`` is bound when the handler first reads it (``Context.__getattr__``): the
            # same model, bound to the same context, at no cost to a handler that never calls it.
            del state["llm"]
            bind, model = _bound_model_class(), app.model
            state["_llm_binding"] = (bind, model)
            self._context = (state, bind, model)
        return self._context


_PLANS: weakref.WeakKeyDictionary[Any, dict[int, Plan]] = weakref.WeakKeyDictionary()


def plan_for(app: App, spec: SourceSpec) -> Plan:
    """``spec``'s plan (made on its first record)."""
    plans = _PLANS.get(app)
    if plans is None:
        plans = _PLANS[app] = {}
    plan = plans.get(id(spec))
    if plan is None or plan.spec is not spec:
        plan = plans[id(spec)] = Plan(spec)
    return plan


def _message_id(record: Mapping[str, Any]) -> str | None:
    """``shapes.record_id("sqs", record)``, without the dispatch on the source."""
    value = record.get("messageId")
    return str(value) if value else None


def _unrouted(record: Mapping[str, Any]) -> Coroutine[Any, Any, Any]:
    raise AssertionError("a marker, never called")


def _positional(fn: Callable[..., Any], body_param: str | None, ctx_param: str | None) -> bool:
    """True when ``fn``'s own parameters (not those of a function it wraps: a decorator's
    wrapper may take keywords only) are the record's then the context's, as many as it has,
    each of which may be passed by position: a call without a keyword dictionary."""
    import inspect  # loaded with relaykit.handlers already

    try:
        params = list(inspect.signature(fn, follow_wrapped=False).parameters.values())
    except (TypeError, ValueError):
        return False
    names = [name for name in (body_param, ctx_param) if name is not None]
    return [param.name for param in params] == names and all(
        param.kind is param.POSITIONAL_OR_KEYWORD for param in params
    )


def _direct(
    fn: Callable[..., Any],
    body_param: str | None,
    read: Callable[[Mapping[str, Any]], Any] | None,
    ctx_param: str | None,
    make: Callable[[Mapping[str, Any]], Context] | None,
    positional: bool = False,
) -> Callable[[Mapping[str, Any]], Any]:
    """A call of ``fn`` with keyword arguments built for just the parameters it has: the
    ``Call`` of an ``async def`` handler without a concurrency limit (it returns the handler's
    own coroutine), or of a ``def`` handler in a Runner serving ``inline`` (it runs it)."""
    if body_param is not None and read is not None:
        if ctx_param is not None and make is not None:
            if positional:
                return lambda record: fn(read(record), make(record))
            return lambda record: fn(**{body_param: read(record), ctx_param: make(record)})
        if positional:
            return lambda record: fn(read(record))
        return lambda record: fn(**{body_param: read(record)})
    if ctx_param is not None and make is not None:
        if positional:
            return lambda record: fn(make(record))
        return lambda record: fn(**{ctx_param: make(record)})
    return lambda record: fn()


_INVOCATION_FIELDS = ("request_id", "deadline", "target", "function_arn", "trace_id")
"""The ``App.new_context`` arguments a Runner's records share (each is the ``Context``
attribute of the same name); ``meta`` is per record."""


class Runner:
    """Runs the records of one invocation (a Lambda event, a worker batch) on the running loop.

    ``fields`` are the ``App.new_context`` keyword arguments the records share
    (``Invocation.context_fields()`` on Lambda). ``start(spec, record)`` validates the record
    and returns the handler's own coroutine (``async def`` without a concurrency limit) or
    ``dispatch.call_task``'s, following the handler's ``Plan``. Each record gets a ``Context`` of
    its own, what ``App.new_context`` makes with ``fields`` plus ``meta["source"]`` and
    ``meta["record_id"]``, with the app's model bound to it (its own usage meter), only when the
    handler takes a context.

    With ``inline`` (an invocation served without the event loop: ``relaykit.events.base.INLINE``),
    the handlers whose plan is ``inline`` (plain ``def``) are called in the calling thread when
    their record starts, instead of in a worker thread through ``dispatch.call_task``.
    """

    def __init__(self, app: App, fields: Mapping[str, Any], *, inline: bool = False) -> None:
        self.app = app
        self.inline = inline
        self.settings = app.settings
        self.deadline: float | None = fields.get("deadline")
        self.shared = {name: fields[name] for name in _INVOCATION_FIELDS if name in fields}
        self.fresh_ids = not fields.get("request_id")
        self.meta: dict[str, Any] = dict(fields.get("meta") or ())
        self._calls: dict[int, Call] = {}

    def start(self, spec: SourceSpec, record: Mapping[str, Any]) -> Any:
        """Begin one record: validate it and return the coroutine that runs its handler (a
        record that does not validate raises here). For an ``idempotent=True`` handler the
        coroutine claims the record first (see the module docstring)."""
        return self.call_for(spec)(record)

    def call_for(self, spec: SourceSpec) -> Call:
        """What ``start`` calls for ``spec``'s records (made on its first record)."""
        call = self._calls.get(id(spec))
        if call is None:
            call = self._calls[id(spec)] = self._call(plan_for(self.app, spec))
        return call

    async def run_all(self, works: Sequence[Routed]) -> None:
        """Run the work of one record (several S3 notifications in one message: in order)."""
        for spec, record in works:
            await self.start(spec, record)

    def route_sqs(
        self, records: Sequence[Mapping[str, Any]]
    ) -> tuple[list[Call | list[Routed]], set[str]]:
        """Route an SQS batch before anything runs, as ``route_sqs`` does, looking each queue
        up once: per record, the call that starts it (its queue's ``on_sqs`` handler) or the
        work of the S3 notifications its body carries; and the names of the handlers."""
        app = self.app
        queues: dict[str, Call | None] = {}
        names: set[str] = set()
        routes: list[Call | list[Routed]] = []
        for record in records:
            arn = str(record.get("eventSourceARN", ""))
            call = queues.get(arn, _unrouted)
            if call is _unrouted:
                spec = queue_handler(app, arn)
                call = queues[arn] = None if spec is None else self.call_for(spec)
                if spec is not None:
                    names.add(spec.handler.name)
            if call is None:
                if self.inline:
                    raise RuntimeError(
                        f"an SQS record of {arn} is for no on_sqs handler, but the records are "
                        "served without the event loop; this is a relaykit bug, please report it"
                    )
                works = route_sqs(app, record, {arn: None})
                names.update(work.spec.handler.name for work in works)
                routes.append(works)
            else:
                routes.append(call)
        return routes, names

    def _call(self, plan: Plan) -> Call:
        spec = plan.spec
        handler = spec.handler
        call: Call
        if self.inline and not plan.inline:
            raise RuntimeError(
                f"{spec.label}: this handler needs the event loop, but the records are served "
                "without it; this is a relaykit bug, please report it"
            )
        if plan.direct or self.inline:
            # ``async def``: returns its coroutine. ``def`` (inline): runs, returns its result.
            call = _direct(
                handler.fn,
                handler.body_param,
                plan.read,
                handler.ctx_param,
                self._contexts(plan) if handler.ctx_param is not None else None,
                plan.positional,
            )
        else:
            read, make = plan.read, self._contexts(plan)

            def call_in_task(record: Mapping[str, Any]) -> Coroutine[Any, Any, Any]:
                body = read(record) if read is not None else None
                return call_task(handler, body, make(record))

            call = call_in_task

        if not spec.idempotent:
            return call

        def claim_first(record: Mapping[str, Any]) -> Coroutine[Any, Any, Any]:
            key = _key(spec, record)
            return call(record) if key is None else self._idempotent(spec, key, call, record)

        return claim_first

    def _contexts(self, plan: Plan) -> Callable[[Mapping[str, Any]], Context]:
        """Makes each record's ``Context``: a copy of the plan's ``App.new_context`` state with
        this invocation's fields, the record's ``meta`` (and a request id of its own when the
        invocation has none), and the app's model bound to it. (A ``Context`` is a plain
        dataclass: this is ``copy.copy`` without its generic ``__reduce_ex__`` machinery.)"""
        template = plan.context(self.app)[0]
        state = dict(template)
        state.update(self.shared)
        meta = dict(self.meta)
        meta["source"] = source = plan.spec.source
        ident = _message_id if source == "sqs" else partial(record_id, source)
        fresh_ids, new = self.fresh_ids, Context.__new__

        def make(record: Mapping[str, Any]) -> Context:
            ctx: Context = new(Context)
            ctx.__dict__.update(state)
            ctx.meta = own = meta.copy()
            rid = ident(record)
            if rid is not None:
                own["record_id"] = rid
            if fresh_ids:
                ctx.request_id = new_request_id()
            return ctx

        return make

    def _until(self) -> float:
        """The expiry of an IN_PROGRESS marker written or renewed now."""
        until = time.time() + self.settings.idempotency_in_progress_seconds
        return until if self.deadline is None else min(until, self.deadline)

    async def _idempotent(
        self, spec: SourceSpec, key: str, call: Call, record: Mapping[str, Any]
    ) -> Any:
        from relaykit.idempotency import markers_for, run_once

        return await run_once(
            markers_for(self.app),
            key,
            lambda: call(record),
            until=self._until,
            encode=lambda result: result_json(spec, result),
            renew_every=self.settings.idempotency_in_progress_seconds / 2,
            deadline=self.deadline,
        )

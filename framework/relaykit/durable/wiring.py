"""How an ``App`` gets its engine: the store, continuation and policy from its settings.

Workflow functions are registered as the user wrote them (``(body, ctx)``, ``(ctx, body)`` or
``(ctx)``); the engine sees an adapter with the ``(input, ctx)`` shape it replays. The Lambda and
SQS continuations live with the Lambda target and are resolved by name, so this layer never
imports a target.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from relaykit.context import Context
from relaykit.durable.continuation import Continuation, InProcessContinuation
from relaykit.durable.deadline import DeadlinePolicy
from relaykit.durable.engine import Engine
from relaykit.durable.store import RunRecord
from relaykit.durable.stores import open_store
from relaykit.errors import NotFound
from relaykit.handlers import HandlerSpec

if TYPE_CHECKING:
    from relaykit.app import App

CONTINUATIONS = {
    "lambda": "relaykit.targets.lambda_continuation:SelfInvokeContinuation",
    "sqs": "relaykit.targets.lambda_continuation:SqsContinuation",
}


def engine_function(spec: HandlerSpec) -> Callable[[Any, Any], Awaitable[Any]]:
    """``spec.fn`` adapted to the engine's ``(input, ctx)`` shape, with its declared types."""
    body_param, ctx_param = spec.body_param, spec.ctx_param

    async def workflow(input: Any, ctx: Any) -> Any:
        kwargs: dict[str, Any] = {}
        if body_param is not None:
            kwargs[body_param] = input
        if ctx_param is not None:
            kwargs[ctx_param] = ctx
        return await spec.fn(**kwargs)

    workflow.__annotations__ = {
        "input": spec.body_type if body_param is not None else Any,
        "ctx": Context,
        "return": spec.output_type,
    }
    workflow.__qualname__ = workflow.__name__ = spec.name
    return workflow


def continuation_for(app: App) -> Continuation:
    settings = app.settings
    kind = settings.workflow_continuation
    if kind == "auto":
        kind = "lambda" if settings.resolved_target() == "lambda" else "inprocess"
    if kind == "inprocess":
        return InProcessContinuation()
    module_name, _, class_name = CONTINUATIONS[kind].partition(":")
    factory = getattr(importlib.import_module(module_name), class_name)
    continuation: Continuation = factory(settings)
    return continuation


def build_engine(app: App) -> Engine:
    """The engine of ``app``: every workflow registered, contexts built by the app."""
    settings = app.settings

    def context_factory(run: RunRecord) -> Context:
        try:
            spec: HandlerSpec | None = app.handler(run.workflow)
        except NotFound:
            spec = None
        return app.new_context(spec, request_id=run.run_id, target=settings.resolved_target())

    engine = Engine(
        open_store(
            settings.store,
            encryption=settings.store_encryption,
            plaintext=settings.store_encryption_plaintext,
        ),
        continuation_for(app),
        policy=DeadlinePolicy(
            margin=settings.workflow_margin, inline_wait_max=settings.workflow_inline_wait_max
        ),
        lease_seconds=settings.workflow_lease_seconds,
        max_interrupts=settings.workflow_max_interrupts,
        max_steps=settings.workflow_max_steps,
        context_factory=context_factory,
    )
    for spec in app.handlers:
        if spec.kind == "workflow":
            engine.register(spec.path, engine_function(spec))
    return engine

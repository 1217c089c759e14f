"""What the engine registers and answers: workflow specs (a function and the types its input and
result travel as) and ``RunOutcome`` (what one ``resume`` did), with the small helpers that
build them. Standard library only."""

from __future__ import annotations

import inspect
import json
import typing
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from relaykit.context import Context
from relaykit.durable import codec
from relaykit.durable.store import RunRecord
from relaykit.errors import DurableError, StoreError
from relaykit.settings import Settings

Workflow = Callable[..., Awaitable[Any]]


@dataclass(frozen=True)
class WorkflowSpec:
    """A registered workflow: its function and the types its input and result travel as."""

    name: str
    fn: Workflow
    input_type: Any
    output_type: Any
    takes_input: bool


@dataclass(frozen=True)
class RunOutcome:
    """What one ``resume`` did. ``status`` is the run's status, or why nothing ran:
    ``busy`` (another executor holds it), ``not_due``, ``missing``, ``lease_lost``, or
    ``store_error`` (a transient store failure stopped the executor; the run is resumed later,
    not failed)."""

    run_id: str
    status: str
    result: Any = None
    error: dict[str, Any] | None = None
    due_at: float | None = None
    new_steps: int = 0
    replayed_steps: int = 0


class _NoModel:
    """Stands in for ``ctx.llm`` when the engine runs without an app."""

    name = "none"

    def __getattr__(self, item: str) -> Any:
        raise DurableError(
            "this engine has no model: build it with context_factory=... (App does) to use ctx.llm"
        )


def default_context(run: RunRecord) -> Context:
    return Context(
        request_id=run.run_id,
        settings=Settings(),
        llm=typing.cast(Any, _NoModel()),
        handler=run.workflow,
        target="local",
    )


def workflow_spec(name: str, fn: Workflow) -> WorkflowSpec:
    """Inspect ``fn``: ``async def wf(input, ctx)`` or ``async def wf(ctx)``."""
    if not inspect.iscoroutinefunction(fn):
        raise DurableError(f"workflow {name!r}: {fn!r} must be an 'async def' function")
    params = list(inspect.signature(fn).parameters.values())
    if len(params) not in (1, 2):
        raise DurableError(f"workflow {name!r} must take (input, ctx) or (ctx)")
    try:
        hints = typing.get_type_hints(fn)
    except Exception:
        hints = {}
    takes_input = len(params) == 2
    input_type = hints.get(params[0].name, Any) if takes_input else Any
    output = hints.get("return", Any)
    return WorkflowSpec(name, fn, input_type, Any if output is type(None) else output, takes_input)


def stop_status(exc: DurableError) -> str:
    """Why an executor stopped on a store call: ``store_error`` (transient: resumed later) or
    ``lease_lost``."""
    return "store_error" if isinstance(exc, StoreError) and exc.transient else "lease_lost"


def error_dict(exc: BaseException | None) -> dict[str, Any] | None:
    if exc is None:
        return None
    return {"type": codec.qualified_name(type(exc)), "message": str(exc)}


def finished_outcome(run: RunRecord) -> RunOutcome:
    result = json.loads(run.result) if run.result is not None else None
    error = codec.decode_error(run.error) if run.error else None
    return RunOutcome(run.run_id, run.status, result, error)

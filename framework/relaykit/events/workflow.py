"""Workflow events on Lambda: a continuation (``{"relaykit": "continue", "run_id": ...}``)
resumes one run within this invocation's time; a sweep (``{"relaykit": "sweep"}``, from an
EventBridge schedule) finds runs whose timers are due or whose executor died and hands each one
to the continuation, so every run gets an invocation of its own."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from relaykit.errors import NotFound, RunNotFound
from relaykit.events.base import Environment, Outcome
from relaykit.invocation import from_lambda

_RUN_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


class WorkflowEvents:
    """Serves relaykit's own workflow events."""

    name = "workflow"

    def __init__(self, env: Environment) -> None:
        self.env = env

    def matches(self, event: Mapping[str, Any]) -> bool:
        return event.get("relaykit") in ("continue", "sweep")

    def correlation_id(self, event: Mapping[str, Any]) -> str | None:
        run_id = event.get("run_id")
        return run_id if isinstance(run_id, str) else None

    async def prepare(self) -> None:
        if any(spec.kind == "workflow" for spec in self.env.app.handlers):
            _ = self.env.app.engine

    async def handle(self, event: dict[str, Any], context: Any) -> Outcome:
        app = self.env.app
        if event["relaykit"] == "sweep":
            limit = event.get("limit", 100)
            if not isinstance(limit, int) or not 1 <= limit <= 1000:
                limit = 100
            due = await app.engine.due_runs(limit=limit)
            for run_id in due:
                app.engine.continuation.schedule(run_id)
            return Outcome({"swept": len(due)}, "sweep")
        given = event.get("run_id")
        if not isinstance(given, str) or not _RUN_ID.match(given):
            body = {
                "error": {
                    "type": "bad_request",
                    "message": "a continuation needs run_id: 1 to 128 letters, digits, '_' or '-'",
                }
            }
            return Outcome(body, "other", error=True)
        run_id = given
        try:
            view = await app.engine.get(run_id)
        except RunNotFound:
            return Outcome({"run_id": run_id, "status": "missing"}, "other")
        try:
            spec = app.handler(view.workflow)
        except NotFound:
            spec = None
        fields = from_lambda(context).context_fields()
        ctx = app.new_context(spec, **fields)
        outcome = await app.engine.resume(
            run_id, ctx=ctx, budget=app.settings.workflow_invocation_budget
        )
        result = {"run_id": run_id, "status": outcome.status}
        return Outcome(result, view.workflow, error=outcome.status == "failed")

    async def close(self) -> None:
        return None


def create(env: Environment) -> WorkflowEvents:
    """The workflow kind for ``env`` (the registry calls this)."""
    return WorkflowEvents(env)

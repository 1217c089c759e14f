"""Workflow events on Lambda: a continuation (``{"relaykit": "continue", "run_id": ...}``)
resumes one run within this invocation's time; a sweep (``{"relaykit": "sweep"}``, from an
EventBridge schedule) finds runs whose timers are due or whose executor died and hands each one
to the continuation, so every run gets an invocation of its own.

With ``workflow_continuation = "sqs"`` continuations arrive as SQS messages through an event
source mapping on the continuation queue (a queue of their own: a batch is taken here only when
every message in it is a continuation). Each run is resumed in turn with the time left; a run
that needs more splits again (a new message), and a record whose resume failed is reported in
``batchItemFailures`` so SQS delivers it again."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from typing import Any

from relaykit.errors import NotFound, RunNotFound
from relaykit.events.base import Environment, Outcome
from relaykit.events.shapes import is_records_of
from relaykit.invocation import from_lambda

logger = logging.getLogger("relaykit.durable")
_RUN_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


def _continuation_of(record: Any) -> str | None:
    """The run id of an SQS record whose body is a relaykit continuation, else ``None``."""
    if type(record) is not dict and not isinstance(record, Mapping):  # dict: no ABC check
        return None
    body = record.get("body")
    if not isinstance(body, str) or '"relaykit"' not in body:
        return None
    try:
        message = json.loads(body)
    except ValueError:
        return None
    if not isinstance(message, dict) or message.get("relaykit") != "continue":
        return None
    run_id = message.get("run_id")
    return run_id if isinstance(run_id, str) and _RUN_ID.match(run_id) else None


class WorkflowEvents:
    """Serves relaykit's own workflow events."""

    name = "workflow"

    def __init__(self, env: Environment) -> None:
        self.env = env

    def matches(self, event: Mapping[str, Any]) -> bool:
        if event.get("relaykit") in ("continue", "sweep"):
            return True
        if not is_records_of(event, "aws:sqs"):
            return False
        for record in event["Records"]:  # noqa: SIM110 (no generator: runs for every SQS batch)
            if _continuation_of(record) is None:
                return False
        return True

    def correlation_id(self, event: Mapping[str, Any]) -> str | None:
        run_id = event.get("run_id")
        return run_id if isinstance(run_id, str) else None

    async def prepare(self) -> None:
        if any(spec.kind == "workflow" for spec in self.env.app.handlers):
            _ = self.env.app.engine

    async def handle(self, event: dict[str, Any], context: Any) -> Outcome:
        app = self.env.app
        if "Records" in event:
            return await self._continuations(event["Records"], context)
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
        result, workflow = await self._resume(given, context)
        return Outcome(result, workflow, error=result["status"] == "failed")

    async def _resume(self, run_id: str, context: Any) -> tuple[dict[str, Any], str]:
        """Resume ``run_id`` with this invocation's time; its status and workflow."""
        app = self.env.app
        try:
            view = await app.engine.get(run_id)
        except RunNotFound:
            return {"run_id": run_id, "status": "missing"}, "other"
        try:
            spec = app.handler(view.workflow)
        except NotFound:
            spec = None
        fields = from_lambda(context).context_fields()
        ctx = app.new_context(spec, **fields)
        outcome = await app.engine.resume(
            run_id, ctx=ctx, budget=app.settings.workflow_invocation_budget
        )
        return {"run_id": run_id, "status": outcome.status}, view.workflow

    async def _continuations(self, records: list[dict[str, Any]], context: Any) -> Outcome:
        """An SQS batch of continuations: resume each run in turn; failed records go back."""
        failures: list[dict[str, str]] = []
        runs: list[dict[str, Any]] = []
        for record in records:
            run_id = _continuation_of(record)
            assert run_id is not None  # matches() took only batches of continuations
            try:
                result, _ = await self._resume(run_id, context)
            except Exception:
                logger.exception("continuation of run %s failed; SQS will deliver it again", run_id)
                failures.append({"itemIdentifier": str(record.get("messageId"))})
                continue
            runs.append(result)
        body = {"batchItemFailures": failures, "runs": runs}
        return Outcome(body, "continuations", error=bool(failures))

    async def close(self) -> None:
        return None


def create(env: Environment) -> WorkflowEvents:
    """The workflow kind for ``env`` (the registry calls this)."""
    return WorkflowEvents(env)

"""Workflow continuations delivered by SQS: which batches the workflow kind takes, and what it
answers (the end-to-end run is in tests/targets/test_lambda_workflows.py)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest

from relaykit import App, UnknownEventError
from relaykit.durable import WorkflowContext


def sqs_event(*bodies: str) -> dict[str, Any]:
    arn = "arn:aws:sqs:us-east-1:123456789012:continuations"
    return {
        "Records": [
            {
                "messageId": f"m{i}",
                "receiptHandle": f"r{i}",
                "body": body,
                "attributes": {},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": arn,
                "awsRegion": "us-east-1",
            }
            for i, body in enumerate(bodies)
        ]
    }


def continuation(run_id: str) -> str:
    return json.dumps({"relaykit": "continue", "run_id": run_id})


def test_a_batch_of_continuations_resumes_each_run(
    new_app: Callable[[], App], invoke: Callable[[App, dict[str, Any]], Any]
) -> None:
    """Two continuation messages: both runs complete, nothing is reported failed; a
    continuation for a run the store does not know is answered ``missing``, not retried."""
    app = new_app()

    @app.workflow("/double")
    async def double(body: int, ctx: WorkflowContext) -> int:
        return int(await ctx.step("double", lambda: body * 2))

    async def start(value: int) -> str:
        return await app.engine.start("/double", input=value, schedule=False)

    first, second = asyncio.run(start(2)), asyncio.run(start(5))
    answer = invoke(app, sqs_event(continuation(first), continuation(second), continuation("x1")))
    assert answer["batchItemFailures"] == []
    statuses = {run["run_id"]: run["status"] for run in answer["runs"]}
    assert statuses == {first: "completed", second: "completed", "x1": "missing"}


def test_a_batch_with_other_messages_is_not_taken_for_continuations(
    new_app: Callable[[], App], invoke: Callable[[App, dict[str, Any]], Any]
) -> None:
    """One ordinary message among continuations, a body that only looks like one (bad run id)
    or a sweep: the batch goes to the SQS handlers (here none for that queue: a clear error)."""
    app = new_app()
    for bodies in [
        (continuation("r1"), '{"order": 7}'),
        (json.dumps({"relaykit": "continue", "run_id": "../etc"}),),
        ('{"relaykit": "sweep"}',),
    ]:
        with pytest.raises(UnknownEventError, match=r"no @app\.on_sqs handler for queue"):
            invoke(app, sqs_event(*bodies))

"""The app the measurement tests serve: a task and a stream that each make one model call (the
local model, no delay), and a workflow of two steps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from relaykit import App, Context
from relaykit.durable import WorkflowContext


class LambdaContext:
    """The Lambda context object's fields the handler reads."""

    function_name = "advise"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:advise"
    aws_request_id = "5b1c2d3e-0000-4000-8000-00000000000a"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def measured_app(tmp_path: Path, measure: str, **settings: Any) -> App:
    """The app with the ``measure`` setting given, metrics off and a SQLite store in
    ``tmp_path`` unless ``settings`` say otherwise."""
    app = App(
        "measured",
        settings={
            "measure": measure,
            "metrics": False,
            "local_model_delay": 0,
            "store": f"sqlite:///{tmp_path}/relaykit.db",
            **settings,
        },
        config_dir=tmp_path,
    )

    @app.task("/inspect")
    async def inspect(body: dict[str, Any], ctx: Context) -> dict[str, Any]:
        reply = await ctx.llm.complete([{"role": "user", "content": body["question"]}])
        return {"answer": reply.text}

    @app.stream("/words")
    async def words(ctx: Context):  # type: ignore[no-untyped-def]
        async for token in ctx.llm.stream([{"role": "user", "content": "one two three"}]):
            yield token

    async def double(x: int) -> int:
        return x * 2

    @app.workflow("/twice")
    async def twice(body: int, ctx: WorkflowContext) -> int:
        first = await ctx.step("first", double, body)
        return int(await ctx.step("second", double, first))

    return app

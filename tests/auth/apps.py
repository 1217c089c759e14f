"""The app the auth tests serve: a task, a scoped task, a public task, a stream and a workflow
that waits for an event (so it can be cancelled and signalled)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from relaykit import App, Context
from relaykit.auth import Authenticator, principal_of
from relaykit.durable import WorkflowContext


def build(
    tmp_path: Path,
    auth: Authenticator | Sequence[Authenticator] | None = None,
    **settings: Any,
) -> App:
    app = App(
        "secured",
        settings={"store": "memory://", "metrics": False, "local_model_delay": 0, **settings},
        config_dir=tmp_path,
        auth=auth,
    )

    @app.task("/ask")
    async def ask(body: dict[str, Any], ctx: Context) -> dict[str, Any]:
        principal = principal_of(ctx)
        return {"echo": body, "subject": principal.subject if principal else None}

    @app.task("/report", scopes=["reports"])
    async def report(ctx: Context) -> str:
        return "the report"

    @app.task("/ping", public=True)
    async def ping() -> str:
        return "pong"

    @app.stream("/chat")
    async def chat(body: dict[str, str]) -> AsyncIterator[str]:
        for word in body.get("text", "a b").split():
            yield word

    @app.workflow("/approve")
    async def approve(body: dict[str, Any], ctx: WorkflowContext) -> dict[str, Any]:
        answer = await ctx.wait_for_event("ok", timeout=3600)
        return {"asked": body, "answer": answer}

    return app

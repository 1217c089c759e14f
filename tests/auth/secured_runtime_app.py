"""An app served by relaykit's own Lambda runtime under the emulator, behind a Function URL with
AuthType NONE; its authentication comes from the environment (RELAYKIT_AUTH*)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from relaykit import App

app = App("secured-runtime", settings={"metrics": False, "local_model_delay": 0})


@app.stream("/chat")
async def chat(body: dict[str, str]) -> AsyncIterator[str]:
    for word in body.get("text", "").split():
        yield word


@app.task("/ping", public=True)
async def ping() -> str:
    return "pong"

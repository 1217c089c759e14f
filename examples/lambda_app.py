"""A Lambda-first app: a client built once per execution environment, reused by warm invokes.

Deploy with the managed Python runtime and the handler ``lambda_app.handler``.
"""

from __future__ import annotations

import httpx
from pydantic import BaseModel

from relaykit import App, Context

app = App("lambda-demo")


# [docs:startup]
class Clients:
    """Clients shared by every invocation of one execution environment."""

    http: httpx.AsyncClient | None = None


clients = Clients()


@app.on_startup
async def connect() -> None:
    # Runs once per execution environment, on the loop every invocation runs on.
    clients.http = httpx.AsyncClient(timeout=10.0)


@app.on_shutdown
async def disconnect() -> None:
    # Runs on SIGTERM (Lambda shutting the environment down) or at interpreter exit.
    assert clients.http is not None
    await clients.http.aclose()


handler = app.lambda_handler  # the function's handler setting: lambda_app.handler
# [/docs:startup]


class Lookup(BaseModel):
    url: str


@app.task("/status")
async def status(body: Lookup, ctx: Context) -> dict[str, object]:
    """Fetch a URL with the shared client; report the time left in the invocation."""
    assert clients.http is not None
    response = await clients.http.head(body.url)
    return {"status": response.status_code, "seconds_left": round(ctx.remaining_seconds(), 1)}

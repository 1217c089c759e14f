"""The app of bench/lambda_runtime_stream.py, served by relaykit's Lambda runtime and by uvicorn.

``/tokens`` streams ``count`` small text chunks as fast as the handler can yield them; ``/ping``
is a trivial task. A ``{"relaykit": "sweep"}`` event (workflow kind) on the memory store is the
cheapest event relaykit's dispatch serves. ``handler`` is the same app for AWS's Python runtime
client (``awslambdaric rt_relaykit.handler``), so both runtimes can serve the same app.
"""

from collections.abc import AsyncIterator

from relaykit import App

app = App(
    "rt-bench",
    settings={"metrics": False, "log_level": "WARNING", "store": "memory://"},
)

CHUNK = "x" * 32


@app.stream("/tokens")
async def tokens(count: int) -> AsyncIterator[str]:
    for _ in range(count):
        yield CHUNK


@app.task("/ping")
async def ping() -> dict[str, bool]:
    return {"ok": True}


handler = app.lambda_handler

"""The same I/O-bound handler as a relaykit task (served by relaykit's runtime)."""

import asyncio
import os

from relaykit import App

app = App("mi-bench", settings={"metrics": False})


@app.task("/call")
async def call() -> dict[str, int]:
    await asyncio.sleep(1.0)  # a model call with 1 s latency
    return {"pid": os.getpid()}

"""The token stream of bench/sse_load.py's baselines, standard library only.

``reply_pieces`` reproduces what relaykit's local model streams for a prompt (the reply
``"Local model reply to: PROMPT"``, cut at N words, split into words with their leading space);
``event`` frames a word exactly as relaykit's SSE response does (``id``/``data`` per word, a
final ``event: end``); ``DELAY`` is the local model's pace (``RELAYKIT_LOCAL_MODEL_DELAY``,
default 0.05 s a word: 20 tokens/s). Used by ``sse_bare.py`` (FastAPI) and
``sse_bare_runtime.py`` (Lambda); no relaykit import.
"""

import json
import os

DELAY = float(os.environ.get("RELAYKIT_LOCAL_MODEL_DELAY", "0.05"))
SSE_TYPE = "text/event-stream; charset=utf-8"
SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


def reply_pieces(prompt: str, tokens: int) -> list[str]:
    """The words relaykit's local model streams for ``prompt`` with ``max_tokens=tokens``."""
    text = f"Local model reply to: {prompt}"
    if len(text.split()) > tokens:
        text = " ".join(text.split()[:tokens])
    pieces = [word if i == 0 else " " + word for i, word in enumerate(text.split(" "))]
    return [piece for piece in pieces if piece]


def event(event_id: int | None, name: str | None, data: str) -> bytes:
    head = (f"id: {event_id}\n" if event_id is not None else "") + (
        f"event: {name}\n" if name else ""
    )
    return f"{head}data: {data}\n\n".encode()


def end_event(count: int) -> bytes:
    return event(None, "end", json.dumps({"chunks": count}))

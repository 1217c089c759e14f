"""A stub of Anthropic's Messages API (``POST /v1/messages``), JSON and SSE, on loopback.

Each request takes the next scripted ``Turn`` (or, with none left, the ``responder``'s turn for
the request body when one is given, else a default reply of ``max_tokens`` words, one text delta
each). A turn is a reply (text, tool calls, usage), an
error (status, type, ``retry-after``), or a stream cut after ``cut_after`` SSE events. Every
request is recorded with its headers and JSON body.

Run alone for benchmarks: ``python tests/stubs/anthropic_api.py PORT``.
"""

from __future__ import annotations

import collections
import json
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent.parent))

from stubs.http_server import Request, Responder, StubServer


@dataclass
class Turn:
    text: str = "Hello from the stub."
    tool_calls: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    stop_reason: str | None = None
    usage: dict[str, int] = field(default_factory=lambda: {"input_tokens": 11, "output_tokens": 7})
    status: int = 200
    error_type: str = ""
    message: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    cut_after: int | None = None


def error(status: int, error_type: str, message: str, **headers: str) -> Turn:
    return Turn(
        status=status,
        error_type=error_type,
        message=message,
        headers={k.replace("_", "-"): v for k, v in headers.items()},
    )


def sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


class AnthropicStub:
    """The Messages API stub; ``push`` scripts turns, ``requests`` records what came in."""

    def __init__(
        self, responder: Callable[[dict[str, Any]], Awaitable[Turn]] | None = None
    ) -> None:
        self.script: collections.deque[Turn] = collections.deque()
        self.requests: list[Request] = []
        self.statuses: list[int] = []
        self.responder = responder
        self.server = StubServer(self.handle)

    def push(self, *turns: Turn) -> None:
        self.script.extend(turns)

    def __enter__(self) -> AnthropicStub:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()

    @property
    def url(self) -> str:
        return self.server.url

    async def _turn(self, body: dict[str, Any]) -> Turn:
        if self.script:
            return self.script.popleft()
        if self.responder is not None:
            return await self.responder(body)
        words = int(body.get("max_tokens", 8))
        text = "".join(f" w{i}" if i else "w0" for i in range(words))
        return Turn(text=text, usage={"input_tokens": 5, "output_tokens": words})

    async def handle(self, request: Request, respond: Responder) -> None:
        self.requests.append(request)
        if request.method != "POST" or request.path.split("?")[0] != "/v1/messages":
            await respond.send_json(
                404,
                {"type": "error", "error": {"type": "not_found_error", "message": request.path}},
            )
            return
        body = request.json()
        turn = await self._turn(body)
        self.statuses.append(turn.status)
        headers = {"request-id": f"req_{len(self.requests)}", **turn.headers}
        if turn.status != 200:
            payload = {"type": "error", "error": {"type": turn.error_type, "message": turn.message}}
            await respond.send_json(turn.status, payload, headers)
        elif body.get("stream"):
            await self._stream(body, turn, respond, headers)
        else:
            await respond.send_json(200, self._message(body, turn), headers)

    def _message(self, body: dict[str, Any], turn: Turn) -> dict[str, Any]:
        content: list[dict[str, Any]] = [{"type": "text", "text": turn.text}] if turn.text else []
        content += [
            {"type": "tool_use", "id": i, "name": n, "input": a} for i, n, a in turn.tool_calls
        ]
        stop = turn.stop_reason or ("tool_use" if turn.tool_calls else "end_turn")
        return {
            "id": "msg_stub",
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": content,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": turn.usage,
        }

    def _events(self, body: dict[str, Any], turn: Turn) -> list[bytes]:
        message = self._message(body, turn)
        start = {
            **message,
            "content": [],
            "stop_reason": None,
            "usage": {**turn.usage, "output_tokens": 1},
        }
        out = [
            sse("message_start", {"type": "message_start", "message": start}),
            sse("ping", {"type": "ping"}),
        ]
        index = 0
        if turn.text:
            out.append(
                sse(
                    "content_block_start",
                    {
                        "type": "content_block_start",
                        "index": 0,
                        "content_block": {"type": "text", "text": ""},
                    },
                )
            )
            for i, word in enumerate(turn.text.split(" ")):
                piece = word if i == 0 else " " + word
                out.append(
                    sse(
                        "content_block_delta",
                        {
                            "type": "content_block_delta",
                            "index": 0,
                            "delta": {"type": "text_delta", "text": piece},
                        },
                    )
                )
            out.append(sse("content_block_stop", {"type": "content_block_stop", "index": 0}))
            index = 1
        for call_id, name, args in turn.tool_calls:
            out.append(
                sse(
                    "content_block_start",
                    {
                        "type": "content_block_start",
                        "index": index,
                        "content_block": {
                            "type": "tool_use",
                            "id": call_id,
                            "name": name,
                            "input": {},
                        },
                    },
                )
            )
            raw = json.dumps(args)
            for piece in (raw[: len(raw) // 2], raw[len(raw) // 2 :]):
                out.append(
                    sse(
                        "content_block_delta",
                        {
                            "type": "content_block_delta",
                            "index": index,
                            "delta": {"type": "input_json_delta", "partial_json": piece},
                        },
                    )
                )
            out.append(sse("content_block_stop", {"type": "content_block_stop", "index": index}))
            index += 1
        usage = {k: v for k, v in turn.usage.items() if k != "input_tokens"}
        out.append(
            sse(
                "message_delta",
                {
                    "type": "message_delta",
                    "usage": usage,
                    "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
                },
            )
        )
        out.append(sse("message_stop", {"type": "message_stop"}))
        return out

    async def _stream(
        self, body: dict[str, Any], turn: Turn, respond: Responder, headers: dict[str, str]
    ) -> None:
        await respond.start(
            200, {"content-type": "text/event-stream", "cache-control": "no-cache", **headers}
        )
        for count, event in enumerate(self._events(body, turn)):
            if turn.cut_after is not None and count == turn.cut_after:
                await respond.abort()
                return
            respond.chunk(event)
            await respond.flush()
        await respond.end()


if __name__ == "__main__":
    import time

    stub = AnthropicStub()
    stub.server.start()
    print(stub.url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        stub.server.stop()

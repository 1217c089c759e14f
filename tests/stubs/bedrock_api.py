"""A stub of Bedrock Runtime's Converse (JSON) and ConverseStream (AWS event stream) on loopback.

``POST /model/{modelId}/converse`` answers a Converse JSON document; ``.../converse-stream``
answers ``application/vnd.amazon.eventstream`` frames (prelude, headers, CRCs) encoded with
relaykit's emulator encoder, which botocore decodes. Turns are scripted like the Anthropic stub's:
a reply, an HTTP error (``x-amzn-errortype``), an exception frame mid-stream, or a cut.
"""

from __future__ import annotations

import collections
import json
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from relaykit.local.emulator.eventstream import encode_event, encode_exception
from stubs.http_server import Request, Responder, StubServer


@dataclass
class Turn:
    text: str = "Hello from Bedrock."
    tool_calls: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    stop_reason: str | None = None
    usage: dict[str, int] = field(default_factory=lambda: {"inputTokens": 9, "outputTokens": 4})
    status: int = 200
    error_code: str = ""
    message: str = ""
    stream_exception: str | None = None
    cut_after: int | None = None


def error(status: int, code: str, message: str) -> Turn:
    return Turn(status=status, error_code=code, message=message)


class BedrockStub:
    """The Converse stub; ``push`` scripts turns, ``requests`` records (model id, body)."""

    def __init__(self) -> None:
        self.script: collections.deque[Turn] = collections.deque()
        self.requests: list[tuple[str, dict[str, Any], dict[str, str]]] = []
        self.server = StubServer(self.handle)

    def push(self, *turns: Turn) -> None:
        self.script.extend(turns)

    def __enter__(self) -> BedrockStub:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()

    @property
    def url(self) -> str:
        return self.server.url

    async def handle(self, request: Request, respond: Responder) -> None:
        parts = request.path.split("/")
        if request.method != "POST" or len(parts) != 4 or parts[1] != "model":
            await respond.send_json(
                404,
                {"message": f"no route {request.path}"},
                {"x-amzn-errortype": "UnknownOperationException"},
            )
            return
        model_id = urllib.parse.unquote(parts[2])
        body = request.json()
        self.requests.append((model_id, body, request.headers))
        turn = self.script.popleft() if self.script else Turn()
        if turn.status != 200:
            await respond.send_json(
                turn.status,
                {"message": turn.message},
                {
                    "x-amzn-errortype": f"{turn.error_code}:http://internal.amazon.com/coral/",
                    "x-amzn-requestid": "stub-request",
                },
            )
        elif parts[3] == "converse":
            await respond.send_json(200, self._converse(turn), {"x-amzn-requestid": "stub"})
        else:
            await self._stream(turn, respond)

    def _content(self, turn: Turn) -> list[dict[str, Any]]:
        content: list[dict[str, Any]] = [{"text": turn.text}] if turn.text else []
        for call_id, name, args in turn.tool_calls:
            content.append({"toolUse": {"toolUseId": call_id, "name": name, "input": args}})
        return content

    def _stop(self, turn: Turn) -> str:
        return turn.stop_reason or ("tool_use" if turn.tool_calls else "end_turn")

    def _converse(self, turn: Turn) -> dict[str, Any]:
        total = turn.usage.get("inputTokens", 0) + turn.usage.get("outputTokens", 0)
        return {
            "output": {"message": {"role": "assistant", "content": self._content(turn)}},
            "stopReason": self._stop(turn),
            "usage": {**turn.usage, "totalTokens": total},
            "metrics": {"latencyMs": 12},
        }

    def _frames(self, turn: Turn) -> list[bytes]:
        def event(kind: str, payload: dict[str, Any]) -> bytes:
            return encode_event(kind, json.dumps(payload).encode(), "application/json")

        frames = [event("messageStart", {"role": "assistant"})]
        index = 0
        if turn.text:
            for i, word in enumerate(turn.text.split(" ")):
                piece = word if i == 0 else " " + word
                frames.append(
                    event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": piece}})
                )
            frames.append(event("contentBlockStop", {"contentBlockIndex": 0}))
            index = 1
        for call_id, name, args in turn.tool_calls:
            frames.append(
                event(
                    "contentBlockStart",
                    {
                        "contentBlockIndex": index,
                        "start": {"toolUse": {"toolUseId": call_id, "name": name}},
                    },
                )
            )
            raw = json.dumps(args)
            for piece in (raw[: len(raw) // 2], raw[len(raw) // 2 :]):
                frames.append(
                    event(
                        "contentBlockDelta",
                        {"contentBlockIndex": index, "delta": {"toolUse": {"input": piece}}},
                    )
                )
            frames.append(event("contentBlockStop", {"contentBlockIndex": index}))
            index += 1
        if turn.stream_exception is not None:
            frames.append(
                encode_exception(
                    turn.stream_exception, json.dumps({"message": "slow down"}).encode()
                )
            )
            return frames
        frames.append(event("messageStop", {"stopReason": self._stop(turn)}))
        total = turn.usage.get("inputTokens", 0) + turn.usage.get("outputTokens", 0)
        frames.append(
            event(
                "metadata",
                {"usage": {**turn.usage, "totalTokens": total}, "metrics": {"latencyMs": 15}},
            )
        )
        return frames

    async def _stream(self, turn: Turn, respond: Responder) -> None:
        await respond.start(
            200, {"content-type": "application/vnd.amazon.eventstream", "x-amzn-requestid": "stub"}
        )
        for count, frame in enumerate(self._frames(turn)):
            if turn.cut_after is not None and count == turn.cut_after:
                await respond.abort()
                return
            respond.chunk(frame)
            await respond.flush()
        await respond.end()

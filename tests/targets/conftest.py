"""Shared pieces of the Lambda target tests: a Lambda context object, the event fixtures, and a
small app with relaykit handlers plus two raw FastAPI routes that echo what the request carried."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import Request
from fastapi.responses import JSONResponse, Response

from relaykit import App, Context
from relaykit.targets.lambda_handler import LambdaHandler

EVENTS = Path(__file__).resolve().parent.parent / "events"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01"


class LambdaContext:
    """What the managed Python runtime passes as ``context`` (the attributes relaykit reads)."""

    function_name = "relaykit-test"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:eu-west-1:210987654321:function:relaykit-test"
    memory_limit_in_mb = 512
    log_group_name = "/aws/lambda/relaykit-test"
    log_stream_name = "2026/11/28/[$LATEST]4f9b1c2d3e4f5a6b7c8d9e0f1a2b3c4d"
    identity = None
    client_context = None

    def __init__(self, request_id: str = "c6af9ac6-7b61-11e6-9a41-93e812345678", ms: int = 30_000):
        self.aws_request_id = request_id
        self._deadline_ms = ms

    def get_remaining_time_in_millis(self) -> int:
        return self._deadline_ms


def load_event(name: str) -> dict[str, Any]:
    """A fresh copy of ``tests/events/NAME.json``."""
    data: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return data


def build_app(tmp_path: Path, **settings: Any) -> App:
    """The test app: /ask and /chat handlers, /inspect and /binary raw FastAPI routes."""
    app = App("lambda-test", settings={"metrics": False, **settings}, config_dir=tmp_path)

    @app.task("/ask")
    async def ask(body: dict[str, str], ctx: Context) -> dict[str, Any]:
        return {"answer": f"re: {body['question']}", "request_id": ctx.request_id}

    @app.stream("/chat")
    async def chat(body: dict[str, str]) -> Any:
        for word in body["question"].split():
            yield word

    api = app.asgi()

    async def inspect(request: Request) -> Response:
        response = JSONResponse(
            {
                "method": request.method,
                "path": request.url.path,
                "query": [list(item) for item in request.query_params.multi_items()],
                "custom": request.headers.getlist("x-custom"),
                "cookies": dict(request.cookies),
                "body": (await request.body()).decode(),
            }
        )
        response.set_cookie("a", "1")
        response.set_cookie("b", "2")
        return response

    async def binary() -> Response:
        return Response(PNG, media_type="image/png")

    api.add_api_route("/inspect", inspect, methods=["POST"])
    api.add_api_route("/binary", binary, methods=["GET"])
    return app


@pytest.fixture
def lambda_context() -> type[LambdaContext]:
    """The Lambda context class: ``lambda_context(request_id, ms)`` builds one."""
    return LambdaContext


@pytest.fixture
def event() -> Callable[[str], dict[str, Any]]:
    """``event(NAME)``: a fresh copy of ``tests/events/NAME.json``."""
    return load_event


@pytest.fixture
def png() -> bytes:
    return PNG


@pytest.fixture
def make_handler(tmp_path: Path) -> Iterator[Callable[..., LambdaHandler]]:
    """Builds ``app.lambda_handler`` for a test app; closes every handler it built afterwards."""
    built: list[LambdaHandler] = []

    def make(app: App | None = None, **settings: Any) -> LambdaHandler:
        handler = (app or build_app(tmp_path, **settings)).lambda_handler
        built.append(handler)
        return handler

    yield make
    for handler in built:
        handler.close()

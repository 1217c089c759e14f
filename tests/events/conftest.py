"""Shared pieces of the event-source tests: the JSON fixtures (written from AWS's documented
event shapes), a Lambda context object and ``app.lambda_handler`` builders closed afterwards."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from relaykit import App
from relaykit.targets.lambda_handler import LambdaHandler

EVENTS = Path(__file__).resolve().parent


class LambdaContext:
    """The attributes of the managed runtime's context object that relaykit reads."""

    function_name = "relaykit-events"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:relaykit-events"
    aws_request_id = "8f5e2c1a-0000-4000-8000-000000000001"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def load_event(name: str) -> dict[str, Any]:
    """A fresh copy of ``tests/events/NAME.json``."""
    data: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return data


@pytest.fixture
def event() -> Callable[[str], dict[str, Any]]:
    return load_event


@pytest.fixture
def new_app(tmp_path: Path) -> Callable[[], App]:
    """``new_app()``: an app with metrics off and its SQLite store under ``tmp_path``."""

    def make() -> App:
        settings = {"metrics": False, "store": f"sqlite:///{tmp_path}/relaykit.db"}
        return App("events-test", settings=settings, config_dir=tmp_path)

    return make


@pytest.fixture
def invoke() -> Iterator[Callable[[App, dict[str, Any]], Any]]:
    """``invoke(app, event)``: the event through ``app.lambda_handler``; handlers closed after."""
    used: list[LambdaHandler] = []

    def call(app: App, event: dict[str, Any]) -> Any:
        handler = app.lambda_handler
        used.append(handler)
        return handler(event, LambdaContext())

    yield call
    for handler in used:
        handler.close()

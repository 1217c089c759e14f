"""The event dispatch seam: kinds are found by module name and recognise their own events only;
an event nobody recognises gets a clear error naming its keys."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import pytest

from relaykit import App, UnknownEventError, events
from relaykit.events.http import http_shape

EVENTS = Path(__file__).resolve().parent


class FakeEnv:
    """The smallest Environment: an app and a loop runner."""

    def __init__(self, app: App) -> None:
        self.app = app

    def run(self, work: Any) -> Any:
        raise AssertionError("matching must not run anything")


@pytest.mark.parametrize(
    ("name", "shape"),
    [
        ("apigw_rest", "rest"),
        ("http_api_v1", "http-api-v1"),
        ("http_api_v2", "http-api-v2"),
        ("function_url", "function-url"),
        ("alb", "alb"),
        ("alb_multi_value", "alb-multi-value"),
    ],
)
def test_http_shapes_are_recognised(name: str, shape: str) -> None:
    """Each HTTP fixture is recognised as its own shape."""
    assert http_shape(json.loads((EVENTS / f"{name}.json").read_text())) == shape


@pytest.mark.parametrize(
    "event",
    [
        {"Records": [{"eventSource": "aws:sqs", "body": "{}"}]},
        {"version": "0", "detail-type": "Scheduled Event", "source": "aws.events", "detail": {}},
        {"requestContext": {"elb": {}}},
        {"resource": "/x", "requestContext": {}},
    ],
)
def test_non_http_events_are_not_taken_for_http(event: dict[str, Any]) -> None:
    """Event-source events and half-shaped events are not HTTP."""
    assert http_shape(event) is None


def test_every_registered_kind_module_exposes_create(tmp_path: Path) -> None:
    """Adding a kind is adding a module with create(env) and one registry line."""
    env = FakeEnv(App("seam", config_dir=tmp_path))
    for name in events.KINDS:
        kind = importlib.import_module(name).create(env)
        assert isinstance(kind.name, str)
    names = [kind.name for kind in events.load(env)]
    assert len(names) == len(set(names)) == len(events.KINDS)
    assert names[0] == "http"


@pytest.mark.parametrize(
    ("event", "described"),
    [
        ({"Records": [], "zeta": 1}, "a JSON object with keys [Records, zeta]"),
        ({}, "an empty JSON object"),
        (["a", "b"], "a JSON list, not an object"),
        ("ping", "a JSON str, not an object"),
    ],
)
def test_unknown_event_names_what_it_saw(tmp_path: Path, event: Any, described: str) -> None:
    """select() raises UnknownEventError naming the event's keys (never a KeyError)."""
    kinds = events.load(FakeEnv(App("seam", config_dir=tmp_path)))
    with pytest.raises(UnknownEventError) as raised:
        events.select(kinds, event)
    names = ", ".join(kind.name for kind in kinds)
    assert str(raised.value) == (
        f"relaykit cannot handle this Lambda event: it is {described}, which no event kind "
        f"recognises (kinds: {names}). HTTP events come from API Gateway (REST or HTTP API), an "
        "Application Load Balancer or a Function URL; check the function's trigger."
    )


def test_handler_answers_unknown_event_without_traceback(tmp_path: Path) -> None:
    """Through the real handler, an unknown event gets an error document, not a traceback."""
    handler = App("seam", settings={"metrics": False}, config_dir=tmp_path).lambda_handler
    try:
        out = handler({"Records": [{"eventSource": "aws:example"}]}, None)
        names = ", ".join(kind.name for kind in handler._load())
    finally:
        handler.close()
    assert out == {
        "error": {
            "type": "unknown_event",
            "message": "relaykit cannot handle this Lambda event: it is a JSON object with keys "
            f"[Records], which no event kind recognises (kinds: {names}). HTTP events come from "
            "API Gateway (REST or HTTP API), an Application Load Balancer or a Function URL; "
            "check the function's trigger.",
        }
    }

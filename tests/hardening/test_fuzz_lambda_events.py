"""Fuzzing the Lambda dispatch seam: mutated events of every HTTP shape never crash the handler,
never answer a client mistake with a 500, and never leak a traceback.

The in-suite run is bounded (``max_examples``); ``make fuzz`` raises it through the
``RELAYKIT_FUZZ_EXAMPLES`` environment variable.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from relaykit import App, Context
from relaykit.targets.lambda_handler import LambdaHandler

EVENTS = Path(__file__).resolve().parent.parent / "events"
SHAPES = ["http_api_v2", "http_api_v1", "apigw_rest", "alb", "alb_multi_value", "function_url"]
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150"))
sys.setrecursionlimit(max(sys.getrecursionlimit(), 3000))


class Ask(BaseModel):
    question: str


class FakeContext:
    aws_request_id = "fuzz-request"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:fuzz"
    function_name = "fuzz"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


@pytest.fixture(scope="module")
def handler(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LambdaHandler]:
    app = App(
        "fuzz",
        settings={"metrics": False, "local_model_delay": 0},
        config_dir=tmp_path_factory.mktemp("fuzz"),
    )

    @app.task("/ask")
    async def ask(body: Ask, ctx: Context) -> str:
        return body.question

    handler = app.lambda_handler
    yield handler
    handler.close()


def base_event(shape: str) -> dict[str, Any]:
    """A fixture of ``shape`` aimed at POST /ask with a valid body."""
    event: dict[str, Any] = json.loads((EVENTS / f"{shape}.json").read_text())
    event["body"], event["isBase64Encoded"] = json.dumps({"question": "q"}), False
    if "rawPath" in event:
        event["rawPath"] = "/ask"
        event["requestContext"]["http"].update(method="POST", path="/ask")
    else:
        event["path"], event["httpMethod"] = "/ask", "POST"
    return event


LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(max_size=20),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)


def paths_of(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for key, child in value.items():
            yield (*prefix, key)
            yield from paths_of(child, (*prefix, key))


@st.composite
def mutated_events(draw: st.DrawFn) -> dict[str, Any]:
    shape = draw(st.sampled_from(SHAPES))
    event = base_event(shape)
    paths = list(paths_of(event))
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["drop", "retype", "body", "base64", "nest", "utf8"]))
        if kind in ("drop", "retype") and paths:
            path = draw(st.sampled_from(paths))
            parent: Any = event
            for key in path[:-1]:
                parent = parent.get(key) if isinstance(parent, dict) else None
            if isinstance(parent, dict) and path[-1] in parent:
                if kind == "drop":
                    del parent[path[-1]]
                else:
                    parent[path[-1]] = draw(LEAVES)
        elif kind == "body":
            event["body"] = draw(
                st.one_of(st.text(max_size=200), st.just(""), st.none(), st.just("x" * 7_000_000))
            )
        elif kind == "base64":
            event["isBase64Encoded"] = True
            event["body"] = draw(st.text(max_size=50))
        elif kind == "nest":
            depth = draw(st.integers(100, 100_000))
            event["body"] = "[" * depth + "]" * depth
            event["isBase64Encoded"] = False
        else:
            raw = draw(st.binary(min_size=1, max_size=64)) + b"\xff\xfe"
            event["body"] = base64.b64encode(raw).decode()
            event["isBase64Encoded"] = True
    return event


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(event=mutated_events())
def test_mutated_http_events_get_clear_answers(
    handler: LambdaHandler, event: dict[str, Any]
) -> None:
    """Whatever the mutation, the handler returns a JSON-serialisable answer; client mistakes
    are never a 500; no answer carries a traceback."""
    out = handler(copy.deepcopy(event), FakeContext())
    text = json.dumps(out)
    assert "Traceback" not in text
    if isinstance(out, dict) and "statusCode" in out:
        assert isinstance(out["statusCode"], int)
        assert out["statusCode"] < 500, text[:500]


@settings(max_examples=EXAMPLES, deadline=None)
@given(event=st.one_of(LEAVES, st.dictionaries(st.text(max_size=10), LEAVES, max_size=6)))
def test_arbitrary_json_events_get_clear_errors(handler: LambdaHandler, event: Any) -> None:
    """Random JSON values that are no known event are answered with an error naming them."""
    out = handler(event, FakeContext())
    text = json.dumps(out)
    assert "Traceback" not in text

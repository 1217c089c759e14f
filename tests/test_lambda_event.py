"""``relaykit.lambda_event``: which HTTP shape a Lambda event is (every recorded event shape, and
event-source events that must never pass for HTTP), its correlation id, and which shapes are
answered as streams under each ``lambda_response_mode``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from relaykit.lambda_event import (
    ALB,
    ALB_MULTI_VALUE,
    FUNCTION_URL,
    HTTP_API_V1,
    HTTP_API_V2,
    REST,
    Outcome,
    correlation_id,
    http_shape,
    streamed,
)

EVENTS = Path(__file__).resolve().parent / "events"


@pytest.mark.parametrize(
    ("name", "shape"),
    [
        ("alb", ALB),
        ("alb_multi_value", ALB_MULTI_VALUE),
        ("apigw_rest", REST),
        ("http_api_v1", HTTP_API_V1),
        ("http_api_v2", HTTP_API_V2),
        ("function_url", FUNCTION_URL),
        ("sqs", None),
        ("s3", None),
        ("dynamodb", None),
        ("eventbridge", None),
    ],
)
def test_each_recorded_event_is_recognised_as_its_shape(name: str, shape: str | None) -> None:
    event = json.loads((EVENTS / f"{name}.json").read_text())
    assert http_shape(event) == shape


def test_a_request_context_that_is_not_a_mapping_is_not_http() -> None:
    assert http_shape({"requestContext": "x", "version": "2.0"}) is None
    assert http_shape({}) is None


def test_the_correlation_id_is_the_request_id_else_the_trace_header() -> None:
    assert correlation_id({"requestContext": {"requestId": "abc"}}) == "abc"
    headers = {"X-Amzn-Trace-Id": "Root=1-2-3"}
    assert correlation_id({"requestContext": {}, "headers": headers}) == "Root=1-2-3"
    assert correlation_id({"headers": {}}) is None and correlation_id({}) is None


@pytest.mark.parametrize(
    ("mode", "shapes"),
    [
        ("auto", {FUNCTION_URL}),
        ("stream", {FUNCTION_URL, REST}),
        ("buffered", set()),
    ],
)
def test_which_shapes_stream_under_each_response_mode(mode: str, shapes: set[str]) -> None:
    every = {ALB, ALB_MULTI_VALUE, FUNCTION_URL, HTTP_API_V1, HTTP_API_V2, REST}
    assert {shape for shape in every if streamed(shape, mode)} == shapes
    assert not streamed(None, mode)


def test_an_outcome_is_a_value() -> None:
    outcome = Outcome({"statusCode": 200}, "/ask")
    assert (outcome.response, outcome.handler, outcome.error) == (
        {"statusCode": 200},
        "/ask",
        False,
    )
    assert outcome == Outcome({"statusCode": 200}, "/ask", False)
    assert "handler='/ask'" in repr(outcome)

"""The EventBridge pattern subset (``relaykit.patterns``), against a documented-shape event."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from relaykit.patterns import pattern_matches

EVENT: dict[str, Any] = json.loads(
    (Path(__file__).parent / "events" / "eventbridge.json").read_text()
)


@pytest.mark.parametrize(
    ("pattern", "matched"),
    [
        ({"source": ["com.example.shop"]}, True),
        ({"source": [{"prefix": "com.example"}]}, True),
        ({"detail": {"channel": [{"anything-but": ["web"]}]}}, False),
        ({"detail": {"channel": [{"anything-but": {"prefix": "ap"}}]}}, True),
        ({"detail": {"channel": [{"equals-ignore-case": "WEB"}]}}, True),
        ({"detail": {"coupon": [{"exists": False}]}}, True),
        ({"detail": {"channel": [{"exists": True}]}}, True),
        ({"detail": {"amount": [{"numeric": [">=", 50]}]}}, False),
        ({"detail": {"amount": [{"numeric": [">", 40, "<=", 42.5]}]}}, True),
        ({"detail-type": [{"wildcard": "Order *"}]}, True),
        ({"detail-type": [{"wildcard": "Order?Placed"}]}, False),
        ({"detail": {"order_id": [{"suffix": "-9"}], "channel": ["app", "web"]}}, True),
        ({"detail": {"channel": ["app"]}}, False),
        ({"detail": {"missing": ["x"]}}, False),
        ({"detail": ["not-an-object"]}, False),
    ],
)
def test_pattern_subset(pattern: dict[str, Any], matched: bool) -> None:
    assert pattern_matches(pattern, EVENT) is matched


def test_array_fields_match_any_element_and_null_only_matches_null() -> None:
    event = {"detail": {"tags": ["urgent", "billing"], "owner": None}}
    assert pattern_matches({"detail": {"tags": ["billing"]}}, event)
    assert pattern_matches({"detail": {"owner": [None]}}, event)
    assert not pattern_matches({"detail": {"team": [None]}}, event)
    assert pattern_matches({"detail": {"tags": [{"wildcard": "*gent"}]}}, event)

"""EventBridge on Lambda: rules matched by pattern (the detail validated into the handler's
model), scheduled events routed by rule, and a clear error when nothing matches."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pydantic import BaseModel

from relaykit import App, UnknownEventError

Invoke = Callable[[App, dict[str, Any]], Any]
Event = Callable[[str], dict[str, Any]]


class Placed(BaseModel):
    order_id: str
    amount: float


def test_schedule_routed_by_rule(new_app: Callable[[], App], invoke: Invoke, event: Event) -> None:
    """A scheduled event goes to the on_schedule handler whose rule is in its resources."""
    app = new_app()
    ran: list[str] = []

    @app.on_schedule("rate(1 hour)")
    async def hourly(event: dict[str, Any]) -> None:
        ran.append("hourly")

    @app.on_schedule("cron(0 2 * * ? *)", rule="nightly-digest")
    async def nightly(event: dict[str, Any]) -> None:
        ran.append(event["id"])

    invoke(app, event("eventbridge_schedule"))
    assert ran == ["53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa"]


def test_eventbridge_pattern_and_detail_model(
    new_app: Callable[[], App], invoke: Invoke, event: Event
) -> None:
    """A matching pattern gets the detail validated into its annotation; the result returns."""
    app = new_app()

    @app.on_eventbridge(
        {"source": ["com.example.shop"], "detail": {"amount": [{"numeric": [">", 10]}]}}
    )
    async def placed(order: Placed) -> dict[str, Any]:
        return {"order": order.order_id}

    assert invoke(app, event("eventbridge")) == {"order": "o-9"}


def test_eventbridge_without_match_is_clear(
    new_app: Callable[[], App], invoke: Invoke, event: Event
) -> None:
    app = new_app()

    @app.on_eventbridge({"source": ["com.example.billing"]})
    async def billing(detail: dict[str, Any]) -> None:
        return None

    with pytest.raises(UnknownEventError, match=r"no @app\.on_eventbridge pattern matches"):
        invoke(app, event("eventbridge"))


def test_every_matching_rule_runs(new_app: Callable[[], App], invoke: Invoke, event: Event) -> None:
    """Like EventBridge rules, every handler whose pattern matches gets the event."""
    app = new_app()
    ran: list[str] = []

    @app.on_eventbridge({"source": ["com.example.shop"]})
    async def audit(event: dict[str, Any]) -> None:
        ran.append("audit")

    @app.on_eventbridge({"detail-type": ["Order Placed"]})
    async def thank(order: Placed) -> None:
        ran.append(order.order_id)

    assert invoke(app, event("eventbridge")) is None
    assert sorted(ran) == ["audit", "o-9"]

"""The registry of Lambda event kinds, and the lookup that picks one for an event.

``KINDS`` lists kind modules by import name, in the order they are asked. Each module follows
``relaykit.events.base``: it exposes ``create(env) -> EventKind``. The modules are imported when
the Lambda handler serves its first event, never when relaykit is imported; an event that no
kind recognises raises ``UnknownEventError`` naming the keys it saw.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Sequence
from typing import Any

from relaykit.events.base import Environment, EventKind, Outcome

__all__ = ["KINDS", "Environment", "EventKind", "Outcome", "describe_event", "load", "select"]

# Add a kind: write relaykit/events/NAME.py with create(env), then add its module name here.
KINDS: tuple[str, ...] = (
    "relaykit.events.http",
    "relaykit.events.workflow",
    "relaykit.events.sqs",
    "relaykit.events.s3",
    "relaykit.events.dynamodb",
    "relaykit.events.eventbridge",
)


def load(env: Environment, names: Iterable[str] = KINDS) -> list[EventKind]:
    """Import each kind module and build its kind for ``env``, in order."""
    kinds: list[EventKind] = []
    for name in names:
        module = importlib.import_module(name)
        kinds.append(module.create(env))
    return kinds


def describe_event(event: Any) -> str:
    """A short, safe description of an event's shape: its type and top-level keys, no values."""
    if isinstance(event, dict):
        keys = sorted(str(key) for key in event)
        shown = ", ".join(keys[:20]) + (f", ... ({len(keys)} keys)" if len(keys) > 20 else "")
        return f"a JSON object with keys [{shown}]" if keys else "an empty JSON object"
    return f"a JSON {type(event).__name__}, not an object"


def select(kinds: Sequence[EventKind], event: Any) -> EventKind:
    """The first kind that recognises ``event``; ``UnknownEventError`` names its keys otherwise."""
    if isinstance(event, dict):
        for kind in kinds:
            if kind.matches(event):
                return kind
    known = ", ".join(kind.name for kind in kinds)
    from relaykit.errors import UnknownEventError

    raise UnknownEventError(
        f"relaykit cannot handle this Lambda event: it is {describe_event(event)}, which no "
        f"event kind recognises (kinds: {known}). HTTP events come from API Gateway (REST or "
        "HTTP API), an Application Load Balancer or a Function URL; check the function's trigger."
    )

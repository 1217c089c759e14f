"""``relaykit.events.base``: the names kinds and handlers import stay where they are, and the
protocols, which only type checkers read, cost no ``typing.Protocol`` machinery at run time."""

from __future__ import annotations

import pytest

from relaykit import lambda_event
from relaykit.events import base


def test_the_contract_names_are_importable_from_base() -> None:
    names = (
        "Environment",
        "EventKind",
        "INLINE",
        "InlineKind",
        "Outcome",
        "ResponseSink",
        "SERVING",
        "StreamOpener",
        "StreamingKind",
        "invocation_of",
        "run_inline",
    )
    assert [name for name in names if not hasattr(base, name)] == []
    assert base.Outcome is lambda_event.Outcome


def test_the_protocols_are_plain_classes_at_run_time() -> None:
    """Subclassing a protocol still works; no class of them is a ``typing.Protocol``."""
    kinds = (base.Environment, base.EventKind, base.InlineKind, base.StreamingKind)
    assert not any(getattr(kind, "_is_protocol", False) for kind in kinds)
    assert base.InlineKind.__mro__[1] is base.EventKind

    class Kind(base.EventKind):
        name = "k"

    assert Kind().name == "k"


def test_run_inline_runs_work_that_never_waits_in_a_copied_context() -> None:
    async def work() -> bool:
        return base.INLINE.get()

    assert base.run_inline(work()) is True
    assert base.INLINE.get() is False


def test_run_inline_refuses_work_that_waits() -> None:
    class Waits:
        def __await__(self):  # type: ignore[no-untyped-def]
            yield "a future"

    async def work() -> None:
        await Waits()

    with pytest.raises(RuntimeError, match="relaykit bug"):
        base.run_inline(work())

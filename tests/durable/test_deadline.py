"""Deadline planning: needs from recorded durations (by profile) or estimates, plus margin."""

from __future__ import annotations

import pytest

from relaykit.durable.deadline import DeadlinePolicy, Durations, Planner, profile
from relaykit.errors import StepTooLong


def test_profiles_group_step_names() -> None:
    """`search:cats` and `search[3]` share the `search` profile."""
    assert profile("search:cats") == profile("search[3]") == profile("search") == "search"


def test_need_is_a_high_percentile_plus_margin() -> None:
    """The need of a profile is its p95 duration plus the margin; an estimate overrides it."""
    durations = Durations()
    for seconds in range(1, 101):
        durations.add(f"call:{seconds}", float(seconds))
    left = 60.0
    planner = Planner(DeadlinePolicy(margin=1.0), durations, lambda: left, 900.0)
    assert planner.need("call:x", None) == 96.0
    assert planner.need("call:x", 10.0) == 11.0
    assert planner.check("call:x", None) == "split"
    assert planner.check("call:x", 10.0) == "run"
    assert planner.need("unknown", None) == 1.0


def test_step_longer_than_any_invocation_raises() -> None:
    """A need above the whole budget is StepTooLong, whatever time is left."""
    planner = Planner(DeadlinePolicy(), Durations(), lambda: 900.0, 900.0)
    with pytest.raises(StepTooLong, match="container target"):
        planner.check("think", 1000.0)


def test_short_waits_fit_inline_only_before_the_deadline() -> None:
    """A wait sleeps in-process only if short and if it ends before the deadline."""
    left = 3.0
    planner = Planner(DeadlinePolicy(margin=1.0, inline_wait_max=5.0), Durations(), lambda: left, 9)
    assert planner.fits_inline(1.5)
    assert not planner.fits_inline(2.5)
    assert not planner.fits_inline(6.0)


def test_old_samples_are_dropped() -> None:
    """Only the most recent 200 durations of a profile count."""
    durations = Durations()
    for _ in range(200):
        durations.add("s", 100.0)
    for _ in range(200):
        durations.add("s", 1.0)
    assert durations.percentile("s", 0.95) == 1.0

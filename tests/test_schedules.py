"""Schedule expressions (``relaykit.schedules``): the rate and 6-field cron subset."""

from __future__ import annotations

from datetime import datetime

import pytest

from relaykit.schedules import Rate, parse_schedule


def test_schedule_parsing() -> None:
    """rate() and 6-field cron() compute their next run times (UTC)."""
    start = datetime(2024, 11, 28, 12, 30)
    assert parse_schedule("rate(5 minutes)").next_after(start) == datetime(2024, 11, 28, 12, 35)
    weekdays = parse_schedule("cron(0 9 ? * MON-FRI *)")
    assert weekdays.next_after(start) == datetime(2024, 11, 29, 9, 0)  # Thursday -> Friday
    assert weekdays.next_after(datetime(2024, 11, 29, 9, 0)) == datetime(2024, 12, 2, 9, 0)
    assert parse_schedule("cron(*/15 * * * ? *)").next_after(start) == datetime(
        2024, 11, 28, 12, 45
    )


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [
        ("rate(1 minute)", 60),
        ("rate(2 hours)", 7200),
        ("rate(1 day)", 86400),
        ("rate(5 seconds)", 5),
    ],
)
def test_rates(expression: str, seconds: int) -> None:
    """Rates in minutes, hours and days, and seconds (a local-only extension)."""
    assert parse_schedule(expression) == Rate(seconds)


def test_cron_lists_ranges_steps_names_and_years() -> None:
    start = datetime(2024, 12, 30, 23, 59)
    assert parse_schedule("cron(0,30 8-10 * * ? *)").next_after(start) == datetime(
        2024, 12, 31, 8, 0
    )
    assert parse_schedule("cron(15 10 1 JAN,JUL ? 2025-2026)").next_after(start) == datetime(
        2025, 1, 1, 10, 15
    )
    assert parse_schedule("cron(0 0 ? * SUN *)").next_after(start) == datetime(2025, 1, 5, 0, 0)
    every_tenth = parse_schedule("cron(0 6 1/10 * ? *)")  # days 1, 11, 21, 31
    assert every_tenth.next_after(start) == datetime(2024, 12, 31, 6, 0)
    assert every_tenth.next_after(datetime(2024, 12, 31, 6, 0)) == datetime(2025, 1, 1, 6, 0)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("rate(0 minutes)", "at least 1"),
        ("rate(5 weeks)", "is not 'rate"),
        ("cron(0 12 * * ?)", "6 fields"),
        ("cron(0 12 L * ? *)", "'L', 'W' and '#'"),
        ("cron(61 * * * ? *)", "outside 0-59"),
        ("cron(0 0 1 FOO ? *)", "not a number"),
    ],
)
def test_bad_expressions_say_why(expression: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_schedule(expression)

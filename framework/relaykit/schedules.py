"""Schedule expressions as EventBridge writes them, for ``relaykit worker`` (times are UTC).

Supported subset:

- ``rate(N minute|minutes|hour|hours|day|days)``: every N units, the first run N units after
  the worker starts. ``rate(N second|seconds)`` is a relaykit extension for local runs and
  tests: the worker runs it, but EventBridge rejects it, so do not deploy it as a rule.
- ``cron(minutes hours day-of-month month day-of-week year)``: six fields. Each field takes ``*``,
  ``?`` (same as ``*``), a number, a range ``a-b``, a list ``a,b,c`` and steps ``*/n`` or ``a/n``
  (or ``a-b/n``); months also take ``JAN``-``DEC`` and days of week ``SUN``-``SAT`` (``1`` is
  Sunday, as in EventBridge). Not supported: ``L``, ``W`` and ``#``.

Like cron, when both day-of-month and day-of-week are restricted a day matching either runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

_RATE = re.compile(r"^rate\(\s*(\d+)\s+(second|seconds|minute|minutes|hour|hours|day|days)\s*\)$")
_CRON = re.compile(r"^cron\((.*)\)$")
_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
_MONTHS = {
    m: i
    for i, m in enumerate(
        ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), 1
    )
}
_DAYS = {d: i for i, d in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"), 1)}
_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minutes", 0, 59, {}),
    ("hours", 0, 23, {}),
    ("day-of-month", 1, 31, {}),
    ("month", 1, 12, _MONTHS),
    ("day-of-week", 1, 7, _DAYS),
    ("year", 1970, 2199, {}),
)


@dataclass(frozen=True)
class Rate:
    """``rate(...)``: a fixed interval."""

    seconds: int

    def next_after(self, moment: datetime) -> datetime:
        return moment + timedelta(seconds=self.seconds)


@dataclass(frozen=True)
class Cron:
    """``cron(...)``: the allowed values of each of the six fields."""

    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    years: frozenset[int]
    any_day: bool
    any_weekday: bool

    def _day_ok(self, day: datetime) -> bool:
        if day.month not in self.months or day.year not in self.years:
            return False
        weekday = (day.isoweekday() % 7) + 1  # Sunday = 1
        dom, dow = day.day in self.days, weekday in self.weekdays
        if self.any_day and self.any_weekday:
            return True
        if self.any_day:
            return dow
        if self.any_weekday:
            return dom
        return dom or dow

    def next_after(self, moment: datetime) -> datetime:
        """The first matching minute strictly after ``moment``."""
        start = moment.replace(second=0, microsecond=0) + timedelta(minutes=1)
        day = start.replace(hour=0, minute=0)
        for _ in range(366 * 5):
            if self._day_ok(day):
                for hour in sorted(self.hours):
                    for minute in sorted(self.minutes):
                        candidate = day.replace(hour=hour, minute=minute)
                        if candidate >= start:
                            return candidate
            day += timedelta(days=1)
        raise ValueError("the cron expression has no run time in the next five years")


Schedule = Rate | Cron


def _parse_value(text: str, names: dict[str, int], low: int, high: int, what: str) -> int:
    value = names.get(text.upper()) if names else None
    if value is None:
        if not text.isdigit():
            raise ValueError(f"cron {what} value {text!r} is not a number")
        value = int(text)
    if not low <= value <= high:
        raise ValueError(f"cron {what} value {value} is outside {low}-{high}")
    return value


def _parse_field(text: str, what: str, low: int, high: int, names: dict[str, int]) -> set[int]:
    values: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text.isdigit() and int(step_text) > 0 else None
        if step_text and step is None:
            raise ValueError(f"cron {what} step {step_text!r} is not a positive number")
        if base in ("*", "?"):
            first, last = low, high
        elif "-" in base:
            a, _, b = base.partition("-")
            first = _parse_value(a, names, low, high, what)
            last = _parse_value(b, names, low, high, what)
        else:
            first = _parse_value(base, names, low, high, what)
            last = high if step else first
        values.update(range(first, last + 1, step or 1))
    if not values:
        raise ValueError(f"cron {what} field {text!r} allows no value")
    return values


def parse_schedule(expression: str) -> Schedule:
    """Parse ``rate(...)`` or ``cron(...)``; ``ValueError`` says what is not supported."""
    text = expression.strip()
    rate = _RATE.match(text)
    if rate:
        count = int(rate.group(1))
        if count < 1:
            raise ValueError(f"schedule {expression!r}: the rate must be at least 1")
        return Rate(count * _UNITS[rate.group(2).rstrip("s")])
    cron = _CRON.match(text)
    if not cron:
        raise ValueError(
            f"schedule {expression!r} is not 'rate(N minutes|hours|days)' (or seconds, locally) "
            "or 'cron(6 fields)'"
        )
    parts = cron.group(1).split()
    if len(parts) != 6:
        raise ValueError(
            f"schedule {expression!r}: cron takes 6 fields (minutes hours day-of-month month "
            f"day-of-week year), got {len(parts)}"
        )
    for part in parts:
        bare = re.sub(r"[A-Z]{3}", "", part.upper())
        if any(mark in bare for mark in ("L", "W", "#")):
            raise ValueError(f"schedule {expression!r}: 'L', 'W' and '#' are not supported")
    sets = []
    for part, (what, low, high, names) in zip(parts, _FIELDS, strict=True):
        try:
            sets.append(_parse_field(part, what, low, high, names))
        except ValueError as exc:
            raise ValueError(f"schedule {expression!r}: {exc}") from None
    return Cron(
        minutes=frozenset(sets[0]),
        hours=frozenset(sets[1]),
        days=frozenset(sets[2]),
        months=frozenset(sets[3]),
        weekdays=frozenset(sets[4]),
        years=frozenset(sets[5]),
        any_day=parts[2] in ("*", "?"),
        any_weekday=parts[4] in ("*", "?"),
    )

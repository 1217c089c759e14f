"""EventBridge event patterns: the subset ``@app.on_eventbridge`` accepts, checked at
registration and matched on every event (stdlib-only).

Supported: nested objects; a list of allowed values per field (strings, numbers, booleans,
``null``), matched against a scalar or, for an array field, against any element; and the
operators ``prefix``, ``suffix``, ``equals-ignore-case``, ``wildcard`` (``*`` only, ``\\*`` for a
literal star), ``anything-but`` (a value, a list, or another operator such as
``{"prefix": ...}``), ``exists`` and ``numeric`` (``[">", 0, "<=", 5]``). Not supported: ``$or``,
``cidr`` and matching on array positions; using them is a ``RegistrationError``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from typing import Any

from relaykit.errors import RegistrationError
from relaykit.handlers import describe

_OPERATORS = frozenset(
    {"prefix", "suffix", "anything-but", "exists", "numeric", "equals-ignore-case", "wildcard"}
)


def check_pattern(pattern: Any, fn: Callable[..., Any], path: str = "") -> Mapping[str, Any]:
    """Check an EventBridge pattern against the supported subset; ``RegistrationError`` naming
    ``fn`` and the field otherwise."""
    where = f"handler {describe(fn)}"
    if not isinstance(pattern, Mapping) or (not path and not pattern):
        raise RegistrationError(
            f"{where}: an EventBridge pattern is a non-empty JSON object, got {pattern!r}"
        )
    for key, value in pattern.items():
        at = f"{path}.{key}" if path else str(key)
        if str(key).startswith("$"):
            raise RegistrationError(
                f"{where}: pattern field {at!r}: {key} is not supported (see relaykit.patterns)"
            )
        if isinstance(value, Mapping):
            check_pattern(value, fn, at)
            continue
        if not isinstance(value, list) or not value:
            raise RegistrationError(
                f"{where}: pattern field {at!r} must be a non-empty list of values or a nested "
                f"object, got {value!r}"
            )
        for item in value:
            if isinstance(item, Mapping):
                unknown = set(item) - _OPERATORS
                if len(item) != 1 or unknown:
                    raise RegistrationError(
                        f"{where}: pattern field {at!r} uses an unsupported operator "
                        f"{sorted(map(str, item))}; supported: {', '.join(sorted(_OPERATORS))}"
                    )
    return pattern


def pattern_matches(pattern: Mapping[str, Any], event: Any) -> bool:
    """True when ``event`` matches the EventBridge ``pattern`` (the subset in the module
    docstring)."""
    if not isinstance(event, Mapping):
        return False
    for key, wanted in pattern.items():
        present = key in event
        value = event.get(key)
        if isinstance(wanted, Mapping):
            if not present or not pattern_matches(wanted, value):
                return False
            continue
        if not _field_matches(wanted, present, value):
            return False
    return True


def _field_matches(wanted: list[Any], present: bool, value: Any) -> bool:
    values = value if isinstance(value, list) else [value]
    for rule in wanted:
        if isinstance(rule, Mapping) and "exists" in rule:
            if bool(rule["exists"]) == (present and value is not None):
                return True
            continue
        if not present:
            continue
        if any(_value_matches(rule, item) for item in values):
            return True
    return False


def _value_matches(rule: Any, value: Any) -> bool:
    if not isinstance(rule, Mapping):
        return bool(rule == value) and isinstance(rule, bool) == isinstance(value, bool)
    op, arg = next(iter(rule.items()))
    if op == "prefix":
        return isinstance(value, str) and value.startswith(str(arg))
    if op == "suffix":
        return isinstance(value, str) and value.endswith(str(arg))
    if op == "equals-ignore-case":
        return isinstance(value, str) and value.casefold() == str(arg).casefold()
    if op == "wildcard":
        return isinstance(value, str) and _wildcard(str(arg)).fullmatch(value) is not None
    if op == "anything-but":
        if isinstance(arg, Mapping):
            return not _value_matches(arg, value)
        excluded = arg if isinstance(arg, list) else [arg]
        return value not in excluded
    if op == "numeric":
        return _numeric(arg, value)
    return False


_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "=": lambda a, b: a == b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _numeric(arg: Any, value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if not isinstance(arg, list) or len(arg) % 2:
        return False
    for op, bound in zip(arg[::2], arg[1::2], strict=True):
        compare = _COMPARE.get(op)
        if compare is None or not compare(float(value), float(bound)):
            return False
    return True


@functools.lru_cache(maxsize=256)
def _wildcard(text: str) -> re.Pattern[str]:
    """EventBridge's ``wildcard``: ``*`` matches any run of characters, ``\\*`` a star."""
    parts = re.split(r"(\\\*|\*)", text)
    return re.compile(
        "".join(".*" if p == "*" else re.escape("*" if p == "\\*" else p) for p in parts),
        re.DOTALL,
    )

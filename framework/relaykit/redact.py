"""Redaction of secrets from everything relaykit writes: log lines and recorded errors.

The secrets are the values of environment variables whose names say they hold one
(``*KEY*``, ``*SECRET*``, ``*TOKEN*``, ``*PASSWORD*``, ``*CREDENTIAL*``), plus anything shaped like
an Anthropic API key, whatever variable it came from. Values shorter than 8 characters are left
alone (too likely to be ordinary words).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

MARK = "[redacted]"
_NAMES = re.compile(r"KEY|SECRET|TOKEN|PASSWORD|CREDENTIAL", re.IGNORECASE)
_SHAPES = re.compile(r"sk-ant-[A-Za-z0-9_\-]{8,}")
_cache: tuple[frozenset[tuple[str, str]], tuple[str, ...]] | None = None


def secret_values(environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The secret values in ``environ`` (default: the process environment), longest first."""
    global _cache
    env = os.environ if environ is None else environ
    items = frozenset(
        (name, value) for name, value in env.items() if _NAMES.search(name) and len(value) >= 8
    )
    if _cache is not None and _cache[0] == items:
        return _cache[1]
    values = tuple(sorted({value for _, value in items}, key=len, reverse=True))
    _cache = (items, values)
    return values


def redact(text: str, environ: Mapping[str, str] | None = None) -> str:
    """``text`` with every secret value and API-key-shaped string replaced by ``[redacted]``."""
    for value in secret_values(environ):
        if value in text:
            text = text.replace(value, MARK)
    return _SHAPES.sub(MARK, text)

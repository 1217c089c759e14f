"""Parsers of the ``auth*`` settings (standard library only; ``relaykit.settings`` calls them when
a source sets one). Each raises ``ValueError(problem, accepted)``; a problem never quotes a key."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from relaykit.auth.guard import METHODS


class Secret(str):
    """A secret setting's value: a ``str`` whose ``repr`` hides it (so ``repr(settings)`` and
    tracebacks never show it)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "'[redacted]'"


def _words(value: Any, what: str) -> list[str]:
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
        raise ValueError(f"got {value!r}", f"{what}, comma-separated or a list")
    return [item.strip() for item in items if item.strip()]


def methods(value: Any) -> tuple[str, ...]:
    accepted = "none, or one or more of " + ", ".join(METHODS)
    words = [w.lower() for w in _words(value, accepted)]
    if words in ([], ["none"]):
        return ()
    unknown = [w for w in words if w not in METHODS]
    if unknown:
        raise ValueError(f"unknown method {unknown[0]!r}", accepted)
    return tuple(dict.fromkeys(words))


def api_keys(value: Any) -> Secret | None:
    from relaykit.auth.api_keys import parse_keys

    if value is None or value == "":
        return None
    parse_keys(value)  # ValueError(problem, accepted) naming the entry, never the key
    text = json.dumps(dict(value)) if isinstance(value, Mapping) else str(value)
    return Secret(text)


def secret(value: Any) -> Secret | None:
    text = "" if value is None else str(value).strip()
    return Secret(text) if text else None


def words(value: Any) -> tuple[str, ...]:
    return tuple(_words(value, "one or more values"))


def paths(value: Any) -> tuple[str, ...]:
    found = _words(value, "paths such as /healthz or /docs")
    for path in found:
        if not path.startswith("/"):
            raise ValueError(f"{path!r} does not start with /", "paths such as /healthz, /docs")
        if path == "/runs" or path.startswith("/runs/"):
            raise ValueError(
                f"{path!r}: the runs API is never public", "handler paths, /healthz, docs"
            )
    return tuple(found)


def url(value: Any) -> str | None:
    from relaykit.auth.tokens import check_url
    from relaykit.errors import ConfigError

    text = "" if value is None else str(value).strip()
    if not text:
        return None
    try:
        return check_url(text, "url")
    except ConfigError as exc:
        raise ValueError(exc.problem, exc.accepted) from None


def jwks(value: Any) -> str | None:
    if value is None or value == "":
        return None
    data = value
    if isinstance(value, str):
        try:
            data = json.loads(value)
        except ValueError:
            raise ValueError("is not valid JSON", '{"keys": [JWK, ...]}') from None
    keys = data.get("keys") if isinstance(data, Mapping) else None
    if not isinstance(keys, list) or not keys or not all(isinstance(k, Mapping) for k in keys):
        raise ValueError("is not a JWKS with keys", '{"keys": [JWK, ...]}')
    return json.dumps(data)


def scope(value: Any) -> str:
    text = str(value).strip()
    if not text or any(c.isspace() for c in text):
        raise ValueError(f"got {value!r}", "one scope name without spaces")
    return text


def header(value: Any) -> str:
    text = str(value).strip().lower()
    if not text or not all(c.isalnum() or c == "-" for c in text):
        raise ValueError(f"got {value!r}", "a header name such as x-api-key")
    return text

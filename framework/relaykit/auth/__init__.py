"""Pluggable authentication for relaykit's HTTP routes, and the owner of each run.

``App("name", auth=ApiKeyAuth(secret="prod/relaykit/keys"))`` (or the ``auth*`` settings) puts
every route behind credentials: tasks, streams, workflows, the runs API and the docs.
``@app.task("/ping", public=True)`` opens one handler; ``scopes=["reports"]`` requires scopes
(403 without them). Runs record the caller that started them; the runs API shows a caller only
its own runs, or every run with the admin scope (``relaykit:admin`` by default).
See docs/security.md.

Importing this package loads only the standard library; PyJWT and Powertools load on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from relaykit.auth.guard import Access, Guard
from relaykit.auth.types import (
    ADMIN_SCOPE,
    Authenticator,
    AuthRequest,
    AuthUnavailable,
    Forbidden,
    Principal,
    Unauthenticated,
)

if TYPE_CHECKING:
    from relaykit.auth.api_keys import ApiKeyAuth
    from relaykit.auth.aws import AwsAuth
    from relaykit.auth.tokens import JwtAuth

_LAZY = {
    "ApiKeyAuth": "relaykit.auth.api_keys",
    "AwsAuth": "relaykit.auth.aws",
    "JwtAuth": "relaykit.auth.tokens",
}

__all__ = [
    "ADMIN_SCOPE",
    "Access",
    "ApiKeyAuth",
    "AuthRequest",
    "AuthUnavailable",
    "Authenticator",
    "AwsAuth",
    "Forbidden",
    "Guard",
    "JwtAuth",
    "Principal",
    "Unauthenticated",
    "principal_of",
]


def principal_of(ctx: object) -> Principal | None:
    """The verified caller of the invocation ``ctx`` belongs to (``None``: unauthenticated app,
    public handler, or not an HTTP invocation)."""
    meta = getattr(ctx, "meta", None) or {}
    found = meta.get("principal")
    return found if isinstance(found, Principal) else None


def __getattr__(name: str) -> Any:
    # The authenticators load on first use: importing relaykit stays cheap.
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'relaykit.auth' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)

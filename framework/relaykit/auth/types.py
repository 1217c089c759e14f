"""The vocabulary of authentication: who called (``Principal``), what an authenticator sees of a
request (``AuthRequest``), the ``Authenticator`` protocol, and the errors (standard library only).

::

    RequestError (relaykit.errors)
    ├── Unauthenticated   (401)  no credentials, or credentials that do not verify
    └── Forbidden         (403)  a verified caller without a scope the route requires
    RelaykitError
    └── AuthUnavailable   (503)  credentials cannot be checked now (keys or JWKS unreachable)

An authenticator returns ``None`` when the request carries no credentials of its kind (so the
next one may try), a ``Principal`` when they verify, and raises ``Unauthenticated`` when they are
present but wrong. Messages never contain the key or token.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from relaykit.errors import AuthUnavailable, Forbidden, Unauthenticated

ADMIN_SCOPE = "relaykit:admin"
"""The default scope that lets a caller see and control every run."""
PRINCIPAL_KEY = "relaykit.principal"
"""Where the verified ``Principal`` is kept in the ASGI scope of a request."""


@dataclass(frozen=True)
class Principal:
    """A verified caller: ``subject`` (the API key's name, the token's ``sub``, the IAM ARN),
    its ``scopes``, and ``method`` (``api-key``, ``jwt``, ``aws``) that verified it."""

    subject: str
    scopes: frozenset[str] = frozenset()
    method: str = ""
    claims: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
    """The verified token's claims (JWT) or the authorizer's context (``aws``)."""

    @property
    def owner(self) -> str:
        """The owner recorded on the runs this caller starts: ``method:subject``, so an API key
        named ``alice`` and a token whose ``sub`` is ``alice`` are different callers."""
        return f"{self.method}:{self.subject}" if self.method else self.subject

    def has(self, *scopes: str) -> bool:
        """Whether the caller holds every one of ``scopes``."""
        return all(scope in self.scopes for scope in scopes)


@dataclass(frozen=True)
class AuthRequest:
    """What an authenticator sees of a request.

    ``headers`` is case-insensitive for lookups with lower-case names (Starlette's ``Headers``
    is); ``lambda_event`` is the Lambda event the request came in (``None`` outside Lambda),
    whose ``requestContext`` carries what an AWS front already verified.
    """

    headers: Mapping[str, str]
    lambda_event: Mapping[str, Any] | None = None


@runtime_checkable
class Authenticator(Protocol):
    """Verifies one kind of credential."""

    method: str
    """``api-key``, ``jwt``, ``aws``... (recorded in ``Principal.method``)."""

    def challenge(self, error: Unauthenticated | None = None) -> str:
        """The ``WWW-Authenticate`` value for a 401 (``error``: why, when credentials were
        given). Never contains the credential."""
        ...

    def security_scheme(self) -> tuple[str, dict[str, Any]]:
        """(name, OpenAPI ``securitySchemes`` entry) of this kind of credential."""
        ...

    async def authenticate(self, request: AuthRequest) -> Principal | None:
        """The caller, ``None`` without credentials of this kind; raises ``Unauthenticated``
        when they are present but do not verify, ``AuthUnavailable`` when they cannot be
        checked now."""
        ...


__all__ = [
    "PRINCIPAL_KEY",
    "AuthRequest",
    "AuthUnavailable",
    "Authenticator",
    "Forbidden",
    "Principal",
    "Unauthenticated",
]

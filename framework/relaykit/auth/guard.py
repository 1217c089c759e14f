"""``Guard``: the authenticators of one app, which paths are public, and who is an admin.

Every HTTP route relaykit adds (tasks, streams, workflows, the runs API, and the docs and health
routes of its own FastAPI app) asks the guard for the caller before doing anything else, so an
unauthenticated request never reaches a handler or has its body read. A route is open only when
its handler is registered with ``public=True`` or its path is in ``auth_public_paths``
(``/healthz`` by default); the runs API is never public.

The guard is built once per app from ``App(auth=...)`` or, without it, from the ``auth*``
settings; with neither, the app has no guard and serves everything openly, as before.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from relaykit.auth.types import (
    ADMIN_SCOPE,
    Authenticator,
    AuthRequest,
    Forbidden,
    Principal,
    Unauthenticated,
)
from relaykit.errors import ConfigError, RegistrationError

if TYPE_CHECKING:
    from relaykit.settings import Settings

DOC_PATHS = ("/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json")
OPTIONAL_PUBLIC = ("/healthz", *DOC_PATHS)
METHODS = ("api-key", "jwt", "aws")


@dataclass(frozen=True)
class Access:
    """Per-handler access: ``public`` (no credentials needed) or the ``scopes`` required."""

    public: bool = False
    scopes: tuple[str, ...] = ()


def check_access(public: bool, scopes: str | Sequence[str], where: str) -> Access:
    """A handler's ``public=``/``scopes=`` options, checked (``RegistrationError`` otherwise)."""
    items = [scopes] if isinstance(scopes, str) else list(scopes)
    if not all(isinstance(s, str) and s and not any(c.isspace() for c in s) for s in items):
        raise RegistrationError(f"{where}: scopes must be non-empty words, got {scopes!r}")
    if public and items:
        raise RegistrationError(f"{where}: a public handler cannot require scopes")
    return Access(bool(public), tuple(items))


def _matches(owner: str, pattern: str) -> bool:
    return owner.startswith(pattern[:-1]) if pattern.endswith("*") else owner == pattern


class Guard:
    """Authenticates requests with ``authenticators`` (tried in order; the first that finds its
    kind of credential decides). ``admins`` are owner ids (``api-key:ops``,
    ``aws:arn:aws:sts::123456789012:assumed-role/ops``; a trailing ``*`` matches any rest)
    granted ``admin_scope``, which lets a caller see and control every run."""

    def __init__(
        self,
        authenticators: Sequence[Authenticator],
        *,
        admin_scope: str = ADMIN_SCOPE,
        admins: Iterable[str] = (),
        public_paths: Iterable[str] = ("/healthz",),
    ) -> None:
        if not authenticators:
            raise ConfigError("auth", "no authenticator given")
        for item in authenticators:
            if not isinstance(item, Authenticator):
                raise ConfigError(
                    "auth",
                    f"{item!r} is not an authenticator",
                    "ApiKeyAuth, JwtAuth, AwsAuth or an object with method, authenticate, "
                    "challenge and security_scheme",
                )
        self.authenticators = tuple(authenticators)
        self.admin_scope = admin_scope
        self.admins = tuple(admins)
        self.public_paths = frozenset(public_paths)

    def __repr__(self) -> str:
        return f"Guard({', '.join(a.method for a in self.authenticators)})"

    def is_public(self, path: str) -> bool:
        return path in self.public_paths

    def check_paths(self, handler_paths: Iterable[str]) -> None:
        """Every public path names a handler, ``/healthz`` or a docs route."""
        known = set(handler_paths) | set(OPTIONAL_PUBLIC)
        for path in sorted(self.public_paths):
            if path not in known:
                raise ConfigError(
                    "auth_public_paths",
                    f"{path!r} is not a handler path, /healthz or a docs route (the runs API "
                    "is never public)",
                    ", ".join(sorted(known)),
                )

    def credentials_hint(self) -> str:
        words = []
        for a in self.authenticators:
            if hasattr(a, "header"):
                words.append(f"an {a.header} header")
            elif a.method == "aws":
                words.append("a request verified by AWS (AWS_IAM or an API Gateway authorizer)")
            else:
                words.append("an Authorization: Bearer token")
        return " or ".join(dict.fromkeys(words))

    async def principal(self, request: AuthRequest, scopes: Sequence[str] = ()) -> Principal:
        """The verified caller holding ``scopes``; ``Unauthenticated`` or ``Forbidden``
        otherwise (``AuthUnavailable`` when credentials cannot be checked now)."""
        found: Principal | None = None
        for authenticator in self.authenticators:
            found = await authenticator.authenticate(request)
            if found is not None:
                break
        if found is None:
            raise Unauthenticated(f"this route needs credentials: {self.credentials_hint()}")
        if self.admin_scope not in found.scopes and any(
            _matches(found.owner, p) for p in self.admins
        ):
            found = Principal(
                found.subject, found.scopes | {self.admin_scope}, found.method, found.claims
            )
        missing = tuple(s for s in scopes if s not in found.scopes)
        if missing:
            raise Forbidden(
                f"this route needs the scope{'s' if len(missing) > 1 else ''} "
                f"{', '.join(missing)}, which the caller does not have",
                scopes=missing,
            )
        return found

    def is_admin(self, principal: Principal) -> bool:
        return self.admin_scope in principal.scopes

    def challenges(self, error: Unauthenticated | None) -> list[str]:
        """One ``WWW-Authenticate`` value per authenticator."""
        return [a.challenge(error) for a in self.authenticators]

    def security_schemes(self) -> dict[str, dict[str, Any]]:
        return dict(a.security_scheme() for a in self.authenticators)

    def security(self, scopes: Sequence[str] = ()) -> list[dict[str, list[str]]]:
        """An operation's OpenAPI ``security``: any one of the schemes."""
        names = [a.security_scheme()[0] for a in self.authenticators]
        return [{name: list(scopes)} for name in dict.fromkeys(names)]


def _parse_methods(settings: Settings) -> tuple[str, ...]:
    return tuple(settings.auth or ())


def authenticators_from_settings(settings: Settings) -> list[Authenticator]:
    """The authenticators the ``auth*`` settings describe (none when ``auth`` is unset).

    A key or token setting given without its method in ``auth`` is an error: a configuration
    that looks protected must be.
    """
    methods = _parse_methods(settings)
    keys = {
        "auth_api_keys": settings.auth_api_keys,
        "auth_api_keys_secret": settings.auth_api_keys_secret,
        "auth_api_keys_parameter": settings.auth_api_keys_parameter,
    }
    jwt = {
        "auth_jwt_issuer": settings.auth_jwt_issuer,
        "auth_jwt_audience": settings.auth_jwt_audience,
        "auth_jwt_jwks_url": settings.auth_jwt_jwks_url,
        "auth_jwt_jwks": settings.auth_jwt_jwks,
        "auth_jwt_secret": settings.auth_jwt_secret,
    }
    for method, group in (("api-key", keys), ("jwt", jwt)):
        given = [name for name, value in group.items() if value]
        if given and method not in methods:
            raise ConfigError(
                given[0], f"is set but the auth setting does not include {method!r}", method
            )
    found: list[Authenticator] = []
    for method in methods:
        if method == "api-key":
            found.append(_api_key_auth(settings, keys))
        elif method == "jwt":
            found.append(_jwt_auth(settings))
        else:
            from relaykit.auth.aws import AwsAuth

            found.append(AwsAuth())
    return found


def _api_key_auth(settings: Settings, keys: dict[str, Any]) -> Authenticator:
    from relaykit.auth.api_keys import ApiKeyAuth

    given = [name for name, value in keys.items() if value]
    if len(given) != 1:
        raise ConfigError(
            "auth_api_keys",
            "auth = api-key needs exactly one source of keys"
            + (f" (given: {', '.join(given)})" if given else ""),
            ", ".join(keys),
        )
    return ApiKeyAuth(
        settings.auth_api_keys,
        secret=settings.auth_api_keys_secret,
        parameter=settings.auth_api_keys_parameter,
        header=settings.auth_api_key_header,
        max_age=settings.auth_cache_seconds,
    )


def _jwt_auth(settings: Settings) -> Authenticator:
    from relaykit.auth.tokens import JwtAuth

    for name in ("auth_jwt_issuer", "auth_jwt_audience"):
        if not getattr(settings, name):
            raise ConfigError(name, "auth = jwt needs it", "the issuer URL / the audience")
    return JwtAuth(
        issuer=settings.auth_jwt_issuer,
        audience=list(settings.auth_jwt_audience or ()),
        jwks_url=settings.auth_jwt_jwks_url,
        jwks=settings.auth_jwt_jwks,
        secret=settings.auth_jwt_secret,
        algorithms=settings.auth_jwt_algorithms or None,
        cache_seconds=settings.auth_cache_seconds,
    )


def build_guard(
    auth: Authenticator | Sequence[Authenticator] | None, settings: Settings
) -> Guard | None:
    """The app's guard: from ``App(auth=...)`` when given, else from the settings; ``None``
    when neither asks for authentication."""
    if isinstance(auth, str):
        raise ConfigError(
            "auth",
            f"App(auth=...) takes authenticator objects, got the text {auth!r}",
            "ApiKeyAuth(...), JwtAuth(...), AwsAuth(), a list of them, or the text form as the "
            "auth setting: App(settings={'auth': ...})",
        )
    if auth is None:
        authenticators = authenticators_from_settings(settings)
    elif isinstance(auth, Sequence):
        authenticators = list(auth)
    else:
        authenticators = [auth]
    if not authenticators:
        return None
    return Guard(
        authenticators,
        admin_scope=settings.auth_admin_scope,
        admins=settings.auth_admins or (),
        public_paths=settings.auth_public_paths,
    )

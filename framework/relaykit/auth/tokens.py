"""JWT bearer tokens: ``Authorization: Bearer TOKEN`` verified with PyJWT.

The signature is checked with a key from a JWKS (fetched from ``jwks_url``, or found through the
issuer's OpenID discovery document, or given as a static JWKS) or with a shared secret (HS256).
``exp`` is required; ``nbf``, ``iat``, ``iss`` and ``aud`` are checked with ``leeway`` seconds of
clock skew. The JWKS is kept ``cache_seconds`` and fetched again, at most every
``min_refresh_seconds``, when a token names a key id it does not hold (a key rotation). The
subject is the ``sub`` claim; scopes come from ``scope`` (space separated), ``scp`` or
``scopes``. PyJWT (``pip install 'relaykit[auth]'``) is imported on the first token.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from relaykit.auth.cache import Cached
from relaykit.auth.types import AuthRequest, AuthUnavailable, Principal, Unauthenticated
from relaykit.errors import ConfigError, MissingExtraError

if TYPE_CHECKING:
    from jwt import PyJWK

ASYMMETRIC: tuple[str, ...] = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")
ASYMMETRIC += ("ES256", "ES384", "ES512", "EdDSA")
SYMMETRIC = ("HS256", "HS384", "HS512")
MIN_SECRET_BYTES = 32
MAX_JWKS_BYTES = 1_000_000
SCOPE_CLAIMS = ("scope", "scp", "scopes")


def _jwt() -> Any:
    try:
        import jwt
    except ImportError:
        raise MissingExtraError("jwt", "auth", "JWT authentication") from None
    return jwt


def check_url(url: str, field: str) -> str:
    """``url`` if it is https, or http to a loopback address (tests, local identity servers)."""
    parts = urlsplit(url)
    loopback = False
    host = parts.hostname or ""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if (parts.scheme == "https" and host) or (parts.scheme == "http" and loopback):
        return url
    raise ConfigError(field, f"got {url!r}", "an https:// URL (http:// only to a loopback host)")


def _fetch_json(url: str, timeout: float) -> Any:
    import urllib.request

    request = urllib.request.Request(url, headers={"accept": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        body = response.read(MAX_JWKS_BYTES + 1)
    if len(body) > MAX_JWKS_BYTES:
        raise AuthUnavailable(f"{url} answered more than {MAX_JWKS_BYTES} bytes")
    return json.loads(body)


def _key_table(data: Any, where: str) -> dict[str | None, dict[str, Any]]:
    """The signing keys of a JWKS document by ``kid`` (``None`` for a key without one)."""
    keys = data.get("keys") if isinstance(data, Mapping) else None
    if not isinstance(keys, list) or not all(isinstance(k, Mapping) for k in keys):
        raise AuthUnavailable(f"{where} is not a JWKS document ({{'keys': [...]}})")
    table = {k.get("kid"): dict(k) for k in keys if k.get("use", "sig") == "sig"}
    if not table:
        raise AuthUnavailable(f"{where} holds no signing keys")
    return table


class JwtAuth:
    """Bearer JWTs verified against ``issuer`` and ``audience`` (a string or several; ``None``
    turns that check off).

    Keys: ``jwks_url``, or a static ``jwks`` (a JWKS mapping or JSON text), or ``secret`` for
    HS256/384/512, or none of them to discover the JWKS from
    ``{issuer}/.well-known/openid-configuration``. ``algorithms`` defaults to RS256 and ES256
    (HS256 with a secret). ``name`` is the principal's method (default ``jwt``): give two
    ``JwtAuth`` for two identity providers different names so their subjects stay apart.
    """

    def __init__(
        self,
        *,
        issuer: str | None,
        audience: str | Sequence[str] | None,
        jwks_url: str | None = None,
        jwks: Mapping[str, Any] | str | None = None,
        secret: str | bytes | None = None,
        algorithms: Sequence[str] | None = None,
        leeway: float = 30.0,
        subject_claim: str = "sub",
        scope_claims: Sequence[str] = SCOPE_CLAIMS,
        cache_seconds: float = 600.0,
        min_refresh_seconds: float = 30.0,
        timeout: float = 5.0,
        name: str = "jwt",
    ) -> None:
        if importlib.util.find_spec("jwt") is None:
            raise MissingExtraError("jwt", "auth", "JWT authentication")
        if not secret and importlib.util.find_spec("cryptography") is None:
            raise MissingExtraError("cryptography", "auth", "JWT authentication with public keys")
        sources = [n for n, v in (("jwks_url", jwks_url), ("jwks", jwks), ("secret", secret)) if v]
        if len(sources) > 1:
            raise ConfigError("JwtAuth", f"give one source of keys, got {', '.join(sources)}")
        if not sources and not (issuer and issuer.startswith(("https://", "http://"))):
            raise ConfigError(
                "auth_jwt_jwks_url",
                "JWT authentication needs keys",
                "a JWKS URL, a static JWKS, a secret, or an issuer URL to discover the JWKS from",
            )
        self.issuer = issuer or None
        if isinstance(audience, str):
            audience = [audience]
        if audience is not None and (
            not audience or not all(isinstance(a, str) and a for a in audience)
        ):
            raise ConfigError("auth_jwt_audience", f"got {audience!r}", "one or more audiences")
        self.audience = list(audience) if audience is not None else None
        self.secret = secret.encode() if isinstance(secret, str) else secret
        allowed = SYMMETRIC if self.secret else ASYMMETRIC
        chosen = (
            tuple(algorithms) if algorithms else (("HS256",) if self.secret else ("RS256", "ES256"))
        )
        wrong = [a for a in chosen if a not in allowed]
        if wrong:
            kind = "a shared secret" if self.secret else "public keys (JWKS)"
            raise ConfigError(
                "auth_jwt_algorithms",
                f"{wrong[0]!r} cannot be used with {kind}",
                ", ".join(allowed),
            )
        if self.secret is not None and len(self.secret) < MIN_SECRET_BYTES:
            raise ConfigError(
                "auth_jwt_secret",
                f"is shorter than {MIN_SECRET_BYTES} bytes",
                "a random secret of 32 bytes or more",
            )
        self.algorithms = chosen
        self.leeway = leeway
        self.subject_claim = subject_claim
        self.scope_claims = tuple(scope_claims)
        self.method = name
        self.min_refresh_seconds = min_refresh_seconds
        self._timeout = timeout
        self._static: dict[str | None, dict[str, Any]] | None = None
        self._remote: Cached[dict[str | None, dict[str, Any]]] | None = None
        self._built: dict[tuple[str | None, str], tuple[dict[str, Any], PyJWK]] = {}
        self.jwks_url: str | None = None
        if jwks is not None:
            try:
                data = json.loads(jwks) if isinstance(jwks, str) else jwks
                self._static = _key_table(data, "the static JWKS")
            except (ValueError, AuthUnavailable) as exc:
                raise ConfigError("auth_jwt_jwks", str(exc), '{"keys": [JWK, ...]}') from None
        elif not self.secret:
            url = check_url(jwks_url, "auth_jwt_jwks_url") if jwks_url else None
            if url is None:
                assert self.issuer is not None
                check_url(self.issuer, "auth_jwt_issuer")
            self.jwks_url = url
            self._remote = Cached(self._fetch_jwks, what=self._where(), max_age=cache_seconds)

    def __repr__(self) -> str:
        return f"JwtAuth(issuer={self.issuer!r}, audience={self.audience!r})"

    def _where(self) -> str:
        url = self.jwks_url
        return f"the JWKS at {url}" if url else f"the JWKS of issuer {self.issuer}"

    def _fetch_jwks(self) -> dict[str | None, dict[str, Any]]:
        url = self.jwks_url
        if url is None:
            assert self.issuer is not None
            discovery = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
            document = _fetch_json(discovery, self._timeout)
            found = document.get("jwks_uri") if isinstance(document, Mapping) else None
            if not isinstance(found, str):
                raise AuthUnavailable(f"{discovery} names no jwks_uri")
            url = check_url(found, "jwks_uri")
        return _key_table(_fetch_json(url, self._timeout), f"the JWKS at {url}")

    async def _jwk(self, kid: str | None, alg: str) -> PyJWK:
        table = self._static
        if table is None:
            assert self._remote is not None
            table = await self._remote.get()
            if kid not in table:
                table = await self._remote.refresh(self.min_refresh_seconds)
        raw = table.get(kid)
        if raw is None and kid is None and len(table) == 1:
            raw = next(iter(table.values()))
        if raw is None:
            raise Unauthenticated(
                "the token names no key this service knows" if kid else "the token has no kid",
                code="invalid_token",
            )
        if raw.get("alg") not in (None, alg):
            raise Unauthenticated(
                "the token's algorithm does not match its key", code="invalid_token"
            )
        cached = self._built.get((kid, alg))
        if cached is not None and cached[0] == raw:
            return cached[1]
        jwt = _jwt()
        try:
            built: PyJWK = jwt.PyJWK(raw, algorithm=alg)
        except jwt.PyJWTError:
            raise Unauthenticated(
                "the token's key cannot verify it", code="invalid_token"
            ) from None
        self._built[(kid, alg)] = (raw, built)
        return built

    async def authenticate(self, request: AuthRequest) -> Principal | None:
        header = request.headers.get("authorization")
        if header is None:
            return None
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "bearer":
            return None
        token = token.strip()
        if not token:
            raise Unauthenticated("the Bearer token is empty", code="invalid_request")
        jwt = _jwt()
        try:
            head = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthenticated("the Bearer token is not a JWT", code="invalid_token") from None
        alg = head.get("alg")
        if alg not in self.algorithms:
            raise Unauthenticated("the token's algorithm is not accepted", code="invalid_token")
        kid = head.get("kid")
        key: Any = (
            self.secret
            if self.secret is not None
            else await self._jwk(kid if isinstance(kid, str) else None, alg)
        )
        claims = self._decode(jwt, token, key, alg)
        subject = claims.get(self.subject_claim)
        if not isinstance(subject, str) or not subject:
            raise Unauthenticated(
                f"the token has no {self.subject_claim} claim", code="invalid_token"
            )
        return Principal(subject, _scopes(claims, self.scope_claims), self.method, claims)

    def _decode(self, jwt: Any, token: str, key: Any, alg: str) -> dict[str, Any]:
        required = ["exp", self.subject_claim]
        required += ["iss"] if self.issuer else []
        required += ["aud"] if self.audience is not None else []
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": required, "verify_aud": self.audience is not None},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("the token has expired", code="invalid_token") from None
        except jwt.ImmatureSignatureError:
            raise Unauthenticated(
                "the token is not valid yet (nbf/iat)", code="invalid_token"
            ) from None
        except jwt.InvalidAudienceError:
            raise Unauthenticated(
                "the token is not for this audience", code="invalid_token"
            ) from None
        except jwt.InvalidIssuerError:
            raise Unauthenticated(
                "the token is from another issuer", code="invalid_token"
            ) from None
        except jwt.MissingRequiredClaimError as exc:
            raise Unauthenticated(
                f"the token has no {exc.claim} claim", code="invalid_token"
            ) from None
        except jwt.InvalidSignatureError:
            raise Unauthenticated(
                "the token's signature does not verify", code="invalid_token"
            ) from None
        except jwt.PyJWTError:
            raise Unauthenticated("the token is not valid", code="invalid_token") from None
        return claims

    def challenge(self, error: Unauthenticated | None = None) -> str:
        value = 'Bearer realm="relaykit"'
        if error is not None and error.code:
            value += f', error="{error.code}", error_description="{error.message}"'
        return value

    def security_scheme(self) -> tuple[str, dict[str, Any]]:
        return "BearerJWT", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}


def _scopes(claims: Mapping[str, Any], names: Sequence[str]) -> frozenset[str]:
    found: set[str] = set()
    for name in names:
        value = claims.get(name)
        if isinstance(value, str):
            found.update(value.split())
        elif isinstance(value, list):
            found.update(str(item) for item in value if isinstance(item, str))
    return frozenset(found)

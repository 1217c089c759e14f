"""API keys: a caller sends ``x-api-key: KEY``; each key has a name (the caller's subject) and
optional scopes.

Keys come from exactly one place: given in code or in the ``auth_api_keys`` setting, an
environment variable, an AWS Secrets Manager secret, or an SSM Parameter Store parameter (read
through Powertools parameters in a worker thread, cached for ``max_age`` seconds, and read again
at most every 30 s when an unknown key arrives, so a key added to the secret works without a
restart). The value has one of two shapes:

- JSON: ``{"alice": "KEY", "ops": {"key": "KEY", "scopes": ["relaykit:admin"]}}``;
- text: ``alice:KEY,bob:KEY`` (commas or new lines between entries).

Keys are compared by their SHA-256 digest; they are never logged or put in an error message.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib.util
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from relaykit.auth.cache import Cached
from relaykit.auth.types import AuthRequest, AuthUnavailable, Principal, Unauthenticated
from relaykit.errors import ConfigError, MissingExtraError

HEADER = "x-api-key"
MIN_KEY_LENGTH = 16
UNKNOWN_KEY_REFRESH = 30.0
ACCEPTED = (
    'JSON {"NAME": "KEY", "NAME2": {"key": "KEY", "scopes": ["SCOPE"]}} or text '
    f"NAME:KEY,NAME2:KEY (keys of at least {MIN_KEY_LENGTH} characters)"
)


@dataclass(frozen=True)
class KeyEntry:
    """One key, by name; ``digest`` is the SHA-256 of the key."""

    subject: str
    digest: bytes
    scopes: frozenset[str] = frozenset()


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


def _scopes(name: str, value: Any) -> frozenset[str]:
    items = value.split() if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(
        isinstance(s, str) and s and not any(c.isspace() for c in s) for s in items
    ):
        raise ValueError(f"the scopes of {name!r} must be a list of words", ACCEPTED)
    return frozenset(items)


def _entry(name: Any, value: Any) -> KeyEntry:
    if not isinstance(name, str) or not name.strip() or any(c in name for c in ":,\n"):
        raise ValueError(f"key name {name!r} is not a non-empty name without ':' or ','", ACCEPTED)
    name = name.strip()
    scopes: frozenset[str] = frozenset()
    if isinstance(value, Mapping):
        unknown = set(value) - {"key", "scopes"}
        if unknown:
            raise ValueError(
                f"the entry of {name!r} has unknown fields {sorted(unknown)}", ACCEPTED
            )
        scopes = _scopes(name, value.get("scopes", []))
        value = value.get("key")
    if not isinstance(value, str) or len(value.strip()) < MIN_KEY_LENGTH:
        raise ValueError(
            f"the key of {name!r} is missing or shorter than {MIN_KEY_LENGTH} characters", ACCEPTED
        )
    return KeyEntry(name, _digest(value.strip()), scopes)


def parse_keys(value: Any) -> dict[bytes, KeyEntry]:
    """Named keys from a mapping, JSON text or ``NAME:KEY`` text, by digest.

    Raises ``ValueError(problem, accepted)``; neither part ever contains a key.
    """
    data = value
    if isinstance(value, bytes):
        data = value.decode("utf-8")
    if isinstance(data, str):
        text = data.strip()
        if text.startswith("{"):
            try:
                data = json.loads(text)
            except ValueError:
                raise ValueError("is not valid JSON", ACCEPTED) from None
        else:
            pairs = [part.strip() for part in text.replace("\n", ",").split(",") if part.strip()]
            if not all(":" in pair for pair in pairs):
                raise ValueError("an entry has no ':' between the name and the key", ACCEPTED)
            data = dict(pair.split(":", 1) for pair in pairs)
            if len(data) != len(pairs):
                raise ValueError("a key name appears twice", ACCEPTED)
    if not isinstance(data, Mapping) or not data:
        raise ValueError("holds no keys", ACCEPTED)
    entries: dict[bytes, KeyEntry] = {}
    for name, item in data.items():
        entry = _entry(name, item)
        if entry.digest in entries:
            raise ValueError(
                f"{entries[entry.digest].subject!r} and {entry.subject!r} have the same key",
                ACCEPTED,
            )
        entries[entry.digest] = entry
    return entries


def _checked(value: Any, where: str) -> dict[bytes, KeyEntry]:
    try:
        return parse_keys(value)
    except ValueError as exc:
        problem = exc.args[0] if exc.args else str(exc)
        raise AuthUnavailable(f"the API keys in {where} are not usable: {problem}") from None


class ApiKeyAuth:
    """API keys in a header (``x-api-key`` by default).

    Give exactly one of ``keys`` (a mapping ``{name: key}`` or ``{name: {"key", "scopes"}}``,
    or the same as text), ``env`` (an environment variable holding them), ``secret`` (a Secrets
    Manager secret name or ARN) or ``parameter`` (an SSM parameter name, SecureString
    decrypted). ``client`` is the boto3 ``secretsmanager`` or ``ssm`` client to use (default:
    one from the environment). Keys read from AWS are kept ``max_age`` seconds, and read again
    when an unknown key arrives if the last read is older than ``min_refresh_seconds``.
    """

    method = "api-key"

    def __init__(
        self,
        keys: Mapping[str, Any] | str | None = None,
        *,
        env: str | None = None,
        secret: str | None = None,
        parameter: str | None = None,
        header: str = HEADER,
        max_age: float = 300.0,
        client: Any = None,
        min_refresh_seconds: float = UNKNOWN_KEY_REFRESH,
    ) -> None:
        given = {
            "keys": keys is not None,
            "env": bool(env),
            "secret": bool(secret),
            "parameter": bool(parameter),
        }
        if sum(given.values()) != 1:
            named = ", ".join(k for k, v in given.items() if v) or "none"
            raise ConfigError(
                "ApiKeyAuth",
                f"give exactly one source of keys (given: {named})",
                "keys=, env=, secret=, parameter=",
            )
        if not header or not all(c.isalnum() or c == "-" for c in header):
            raise ConfigError("ApiKeyAuth.header", f"got {header!r}", "a header name")
        self.header = header.lower()
        self.source = next(k for k, v in given.items() if v)
        self._static: dict[bytes, KeyEntry] | None = None
        self._remote: Cached[dict[bytes, KeyEntry]] | None = None
        self._env = env
        self.min_refresh_seconds = min_refresh_seconds
        if keys is not None:
            try:
                self._static = parse_keys(keys)
            except ValueError as exc:
                problem, accepted = exc.args if len(exc.args) == 2 else (str(exc), ACCEPTED)
                raise ConfigError("auth_api_keys", problem, accepted) from None
        elif secret or parameter:
            if importlib.util.find_spec("aws_lambda_powertools") is None:
                raise MissingExtraError(
                    "aws_lambda_powertools", "lambda", "Reading API keys from AWS"
                )
            kind, name = ("secret", secret) if secret else ("parameter", parameter)
            assert name is not None
            where = f"the API key {kind} {name!r}"
            self._aws = (kind, name, client)
            self._provider: Any = None
            self._remote = Cached(
                lambda: _checked(self._read_aws(), where), what=where, max_age=max_age
            )

    def __repr__(self) -> str:
        return f"ApiKeyAuth(source={self.source!r}, header={self.header!r})"

    async def _keys(self, refresh: bool = False) -> dict[bytes, KeyEntry]:
        if self._static is not None:
            return self._static
        if self._remote is not None:
            if refresh:
                return await self._remote.refresh(self.min_refresh_seconds)
            return await self._remote.get()
        assert self._env is not None
        text = os.environ.get(self._env)
        if text is None:
            raise AuthUnavailable(
                f"the environment variable {self._env} holding the API keys is unset"
            )
        return _checked(text, f"the environment variable {self._env}")

    async def authenticate(self, request: AuthRequest) -> Principal | None:
        given = request.headers.get(self.header)
        if given is None:
            return None
        given = given.strip()
        if not given:
            raise Unauthenticated(f"the {self.header} header is empty", code="invalid_request")
        digest = _digest(given)
        keys = await self._keys()
        entry = keys.get(digest)
        if entry is None and self._remote is not None:
            entry = (await self._keys(refresh=True)).get(digest)
        if entry is None or not hmac.compare_digest(entry.digest, digest):
            raise Unauthenticated("the API key is not valid", code="invalid_token")
        return Principal(entry.subject, entry.scopes, self.method)

    def challenge(self, error: Unauthenticated | None = None) -> str:
        return f'ApiKey realm="relaykit", header="{self.header}"'

    def security_scheme(self) -> tuple[str, dict[str, Any]]:
        return "ApiKey", {"type": "apiKey", "in": "header", "name": self.header}

    def _read_aws(self) -> Any:
        """The secret's or parameter's value through Powertools parameters (fetched every
        time: ``Cached`` keeps it)."""
        from aws_lambda_powertools.utilities import parameters

        kind, name, client = self._aws
        if self._provider is None:
            cls = parameters.SecretsProvider if kind == "secret" else parameters.SSMProvider
            self._provider = cls(boto3_client=client) if client is not None else cls()
        try:
            if kind == "secret":
                return self._provider.get(name, force_fetch=True)
            return self._provider.get(name, decrypt=True, force_fetch=True)
        except Exception as exc:
            permission = "secretsmanager:GetSecretValue" if kind == "secret" else "ssm:GetParameter"
            raise AuthUnavailable(
                f"could not read the API key {kind} {name!r}: {type(exc).__name__}: {exc}. "
                f"Check its name, its region and that the role may read it ({permission})"
            ) from None

"""Provider API keys kept in AWS: Secrets Manager or SSM Parameter Store, via Powertools.

A key is read through Powertools parameters (``SecretsProvider`` / ``SSMProvider``, whose cache
keeps it for ``MAX_AGE`` seconds) in a worker thread, so the event loop never blocks on AWS, and
kept here for the same time, so warm invocations pay nothing. A secret's value is the key
itself, or a JSON object with an ``ANTHROPIC_API_KEY`` or ``api_key`` field. Errors name the
secret or parameter, never the value.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from typing import Any

from relaykit.errors import MissingExtraError
from relaykit.llm.retry import ProviderError

MAX_AGE = 300
KEY_FIELDS = ("ANTHROPIC_API_KEY", "api_key")
_CACHE: dict[tuple[str, str, int], tuple[str, float]] = {}
_PROVIDERS: dict[tuple[str, int], Any] = {}


def _provider(kind: str, client: Any) -> Any:
    try:
        from aws_lambda_powertools.utilities import parameters
    except ImportError:
        raise MissingExtraError(
            "aws_lambda_powertools", "lambda", "Reading an API key from AWS"
        ) from None
    key = (kind, id(client))
    provider = _PROVIDERS.get(key)
    if provider is None:
        cls = parameters.SecretsProvider if kind == "secret" else parameters.SSMProvider
        provider = _PROVIDERS[key] = cls(boto3_client=client) if client is not None else cls()
    return provider


def _unwrap(value: Any, where: str) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8")
    text = str(value).strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, dict):
            for field in KEY_FIELDS:
                if isinstance(data.get(field), str):
                    return str(data[field]).strip()
            raise ProviderError(
                f"{where} holds JSON without an {' or '.join(KEY_FIELDS)} field",
                kind="auth",
                retryable=False,
            )
    if not text:
        raise ProviderError(f"{where} is empty", kind="auth", retryable=False)
    return text


def _fetch(kind: str, name: str, client: Any) -> str:
    provider = _provider(kind, client)
    where = f"the API key {'secret' if kind == 'secret' else 'parameter'} {name!r}"
    try:
        if kind == "secret":
            value = provider.get(name, max_age=MAX_AGE)
        else:
            value = provider.get(name, decrypt=True, max_age=MAX_AGE)
    except Exception as exc:
        raise ProviderError(
            f"could not read {where}: {type(exc).__name__}: {exc}. Check its name, its region "
            "and that the function's role may read it "
            f"({'secretsmanager:GetSecretValue' if kind == 'secret' else 'ssm:GetParameter'})",
            kind="auth",
            retryable=False,
        ) from None
    return _unwrap(value, where)


async def read_key(kind: str, name: str, client: Any = None) -> str:
    """The API key in secret (``kind="secret"``) or parameter (``"parameter"``) ``name``."""
    cache_key = (kind, name, id(client))
    hit = _CACHE.get(cache_key)
    now = time.monotonic()
    if hit is not None and hit[1] > now:
        return hit[0]
    value = await asyncio.to_thread(_fetch, kind, name, client)
    _CACHE[cache_key] = (value, now + MAX_AGE)
    return value


async def anthropic_key(
    secret: str | None, parameter: str | None, clients: tuple[Any, Any] = (None, None)
) -> str | None:
    """The Anthropic key: from ``secret``, else ``parameter``, else ``ANTHROPIC_API_KEY``."""
    if secret:
        return await read_key("secret", secret, clients[0])
    if parameter:
        return await read_key("parameter", parameter, clients[1])
    return os.environ.get("ANTHROPIC_API_KEY")

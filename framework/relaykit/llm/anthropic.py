"""Anthropic through the official ``anthropic`` SDK (``AsyncAnthropic``).

``anthropic`` costs ~0.9 s of import, so it is imported by the first call, not with this module.
One client per execution environment (cached per event loop, API key and base URL), reused by
warm invocations; its own retries are off (``max_retries=0``): ``relaykit.llm.retry`` does them.

API key, first found: ``api_key=``, the ``anthropic_api_key_secret`` setting (Secrets Manager),
the ``anthropic_api_key_parameter`` setting (SSM Parameter Store), ``ANTHROPIC_API_KEY``.
Options the SDK's ``messages.create`` names (``cache_control``, ``tool_choice``, ``metadata``,
``thinking``, ``stop_sequences``, ``extra_headers``...) are passed to it as they are; any other
option (``temperature``, ``top_p``...) goes into the request body.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import weakref
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

from relaykit.errors import MissingExtraError, ModelError
from relaykit.llm.retry import (
    ProviderError,
    RetryPolicy,
    call_with_retries,
    kind_of_status,
    note_partial_usage,
    parse_retry_after,
    stream_with_retries,
)
from relaykit.llm.secrets import anthropic_key
from relaykit.llm.streams import ModelStream, ReplyBuilder
from relaykit.llm.tools import to_tools
from relaykit.model import Message, Reply, StreamEvent, TextDelta, ToolCall, ToolSpec, Usage

DEFAULT_MODEL = "claude-sonnet-4-6"
_CLIENTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, str], Any]] = (
    weakref.WeakKeyDictionary()
)
_CREATE_PARAMS: frozenset[str] | None = None
_HINTS = {
    "auth": "; check the API key (ANTHROPIC_API_KEY or the configured secret/parameter)",
    "permission": "; the API key may not use this model or feature",
    "bad_request": "; the request was refused, fix it before trying again",
}


def _sdk() -> Any:
    try:
        import anthropic
    except ImportError:
        raise MissingExtraError("anthropic", "anthropic", "The Anthropic model provider") from None
    return anthropic


def shared_client(api_key: str | None, base_url: str | None) -> Any:
    """The ``AsyncAnthropic`` client of this event loop for this configuration (made once)."""
    loop = asyncio.get_running_loop()
    clients = _CLIENTS.setdefault(loop, {})
    key = (hashlib.sha256((api_key or "").encode()).hexdigest(), base_url or "")
    client = clients.get(key)
    if client is None:
        sdk = _sdk()
        auth = {"api_key": api_key} if api_key else {}
        client = clients[key] = sdk.AsyncAnthropic(**auth, base_url=base_url, max_retries=0)
    return client


def _create_params(client: Any) -> frozenset[str]:
    global _CREATE_PARAMS
    if _CREATE_PARAMS is None:
        _CREATE_PARAMS = frozenset(inspect.signature(client.messages.create).parameters)
    return _CREATE_PARAMS


def _redact(text: str, secret: str | None) -> str:
    return text.replace(secret, "[redacted]") if secret and len(secret) >= 8 else text


def classify(exc: BaseException, secret: str | None = None) -> ProviderError | None:
    """A ``ProviderError`` for an SDK or transport failure; ``None`` for anything else."""
    sdk = _sdk()
    try:  # anthropic 2.x runs on httpx2, older releases on httpx
        from httpx2 import TransportError
    except ImportError:
        from httpx import TransportError  # type: ignore[assignment]

    if isinstance(exc, sdk.APIStatusError):
        kind, retryable = kind_of_status(exc.status_code)
        headers = exc.response.headers
        wait = parse_retry_after(headers.get("retry-after-ms"))
        wait = wait / 1000 if wait is not None else parse_retry_after(headers.get("retry-after"))
        detail = f"{exc.api_message or exc.type}{_HINTS.get(kind, '')}"
        message = f"Anthropic API {exc.status_code} ({kind}): {detail} [request {exc.request_id}]"
        error = ProviderError(
            _redact(message, secret),
            kind=kind,
            retryable=retryable,
            status=exc.status_code,
            retry_after=wait,
        )
        error.__suppress_context__ = True
        return error
    if isinstance(exc, sdk.APITimeoutError):
        return ProviderError("Anthropic API timed out", kind="timeout", retryable=True)
    if isinstance(exc, sdk.APIConnectionError | TransportError | OSError):
        message = _redact(f"{type(exc).__name__}: {exc}", secret)
        return ProviderError(
            f"Anthropic API connection failed: {message}", kind="connection", retryable=True
        )
    return None


def to_reply(message: Any) -> Reply:
    """A ``Reply`` from an SDK ``Message``."""
    texts: list[str] = []
    calls: list[ToolCall] = []
    for block in message.content:
        if block.type == "text":
            texts.append(block.text)
        elif block.type == "tool_use":
            calls.append(ToolCall(block.id, block.name, dict(block.input or {})))
    return Reply(
        text="".join(texts),
        model=message.model,
        stop_reason=message.stop_reason or "end_turn",
        tool_calls=tuple(calls),
        usage=_usage(message.usage, Usage()),
    )


def _usage(raw: Any, before: Usage) -> Usage:
    def pick(name: str, old: int) -> int:
        value = getattr(raw, name, None)
        return old if value is None else int(value)

    return Usage(
        pick("input_tokens", before.input_tokens),
        pick("output_tokens", before.output_tokens),
        pick("cache_read_input_tokens", before.cache_read_tokens),
        pick("cache_creation_input_tokens", before.cache_write_tokens),
    )


class AnthropicModel:
    """Claude through the Messages API; see the module docstring."""

    def __init__(
        self,
        model_id: str = "",
        *,
        settings: Any = None,
        api_key: str | None = None,
        base_url: str | None = None,
        retry: RetryPolicy | None = None,
        secrets_client: Any = None,
        ssm_client: Any = None,
    ) -> None:
        self.model_id = model_id or DEFAULT_MODEL
        self.name = f"anthropic:{self.model_id}"
        self._api_key = api_key
        self._base_url = base_url
        self._secret = getattr(settings, "anthropic_api_key_secret", None)
        self._parameter = getattr(settings, "anthropic_api_key_parameter", None)
        self._aws = (secrets_client, ssm_client)
        self.max_tokens: int = getattr(settings, "model_max_tokens", 4096)
        self.retry = retry or RetryPolicy(
            max_retries=getattr(settings, "model_max_retries", 2),
            timeout=getattr(settings, "model_timeout", 120.0),
        )

    async def prepare(self) -> None:
        """Import the SDK and build the client now (Lambda init: ~0.9 s of import that would
        otherwise come out of the first invocation's time). Reads the key from AWS if set so."""
        await self._client()

    async def _client(self) -> tuple[Any, str | None]:
        key = self._api_key or await anthropic_key(self._secret, self._parameter, self._aws)
        return shared_client(key, self._base_url), key

    def _request(
        self,
        client: Any,
        messages: Sequence[Message],
        system: str | Sequence[Mapping[str, Any]] | None,
        tools: Sequence[ToolSpec] | None,
        max_tokens: int | None,
        temperature: float | None,
        options: dict[str, Any],
    ) -> dict[str, Any]:
        request: dict[str, Any] = {
            "model": self.model_id,
            "max_tokens": max_tokens or self.max_tokens,
            "messages": list(messages),
        }
        if system is not None:
            request["system"] = system if isinstance(system, str) else list(system)
        if tools:
            request["tools"] = [
                {
                    "name": t.name,
                    "description": t.description,
                    "input_schema": dict(t.input_schema),
                    **t.options,
                }
                for t in to_tools(tools)
            ]
        known = _create_params(client)
        extra = dict(options.pop("extra_body", None) or {})
        if temperature is not None:
            extra["temperature"] = temperature
        for name, value in options.items():
            if name in known:
                request[name] = value
            else:
                extra[name] = value
        if extra:
            request["extra_body"] = extra
        return request

    async def complete(
        self,
        messages: Sequence[Message],
        *,
        system: str | Sequence[Mapping[str, Any]] | None = None,
        tools: Sequence[ToolSpec] | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        remaining_seconds: Callable[[], float] | None = None,
        **options: Any,
    ) -> Reply:
        client, key = await self._client()
        request = self._request(client, messages, system, tools, max_tokens, temperature, options)

        async def attempt(limit: float) -> Any:
            return await client.messages.create(**request, timeout=limit)

        message = await call_with_retries(
            attempt,
            policy=self.retry,
            classify=lambda exc: classify(exc, key),
            remaining=remaining_seconds,
            what=f"anthropic {self.model_id}",
        )
        return to_reply(message)

    def stream(
        self,
        messages: Sequence[Message],
        *,
        system: str | Sequence[Mapping[str, Any]] | None = None,
        tools: Sequence[ToolSpec] | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        remaining_seconds: Callable[[], float] | None = None,
        **options: Any,
    ) -> ModelStream:
        args = (messages, system, tools, max_tokens, temperature, options)
        return ModelStream(self._stream(args, remaining_seconds))

    async def _stream(
        self, args: tuple[Any, ...], remaining: Callable[[], float] | None
    ) -> AsyncIterator[StreamEvent]:
        client, key = await self._client()
        request = self._request(client, *args)
        events = stream_with_retries(
            lambda limit: self._attempt(client, request, limit),
            policy=self.retry,
            classify=lambda exc: classify(exc, key),
            remaining=remaining,
            what=f"anthropic {self.model_id}",
        )
        async for event in events:
            yield event

    async def _attempt(
        self, client: Any, request: dict[str, Any], limit: float
    ) -> AsyncIterator[StreamEvent]:
        stream = await client.messages.create(**request, stream=True, timeout=limit)
        reply = ReplyBuilder(self.model_id)
        async with stream:
            try:
                async for event in stream:
                    kind = event.type
                    if kind == "content_block_delta":
                        delta = event.delta
                        if delta.type == "text_delta":
                            reply.text.append(delta.text)
                            yield TextDelta(delta.text)
                        elif delta.type == "input_json_delta":
                            yield reply.call_delta(event.index, delta.partial_json)
                    elif kind == "content_block_start":
                        block = event.content_block
                        if block.type == "tool_use":
                            yield reply.start_call(event.index, block.id, block.name)
                    elif kind == "message_start":
                        reply.model = event.message.model
                        reply.usage = _usage(event.message.usage, reply.usage)
                    elif kind == "message_delta":
                        reply.stop_reason = event.delta.stop_reason or reply.stop_reason
                        reply.usage = _usage(event.usage, reply.usage)
                    elif kind == "message_stop":
                        yield reply.build()
                        return
            except ModelError:
                raise
            except Exception as exc:  # the connection broke: keep what was billed so far
                note_partial_usage(exc, reply.usage)
                raise
        message = "the Anthropic stream ended before message_stop: the reply is incomplete"
        raise ProviderError(message, kind="stream_cut", retryable=True, usage=reply.usage)

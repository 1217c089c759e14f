"""Amazon Bedrock through boto3 ``bedrock-runtime`` Converse and ConverseStream.

One interface for Anthropic (``anthropic.claude-...``, ``us.anthropic.claude-...`` inference
profiles), Meta (``meta.llama...``) and Amazon (``amazon.nova-...``) models: the model id comes
from the ``model`` setting (``bedrock:MODEL_ID``), the region from ``bedrock_region`` (else the
environment's). boto3 is imported on the first call; one client per region and endpoint is kept
for the execution environment. botocore's retries are off (``total_max_attempts=1``):
``relaykit.llm.retry`` does them. boto3 is synchronous, so calls run in a worker thread and a
stream's events are handed to the event loop as they are decoded.

Options are Converse parameters passed as they are (``additionalModelRequestFields``,
``guardrailConfig``, ``performanceConfig``, ``requestMetadata``...), plus ``top_p``,
``stop_sequences`` and ``tool_choice`` (Anthropic's shape), which are translated.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

from relaykit.errors import MissingExtraError
from relaykit.llm import converse
from relaykit.llm.retry import (
    ProviderError,
    RetryPolicy,
    call_with_retries,
    kind_of_status,
    parse_retry_after,
    stream_with_retries,
)
from relaykit.llm.streams import ModelStream, ReplyBuilder
from relaykit.llm.tools import to_tools
from relaykit.model import Message, Reply, StreamEvent, TextDelta, ToolSpec

DEFAULT_MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
_CLIENTS: dict[tuple[str | None, str | None, float], Any] = {}
_LOCK = threading.Lock()
_END = object()
_STATUS = {
    "throttlingexception": 429,
    "modelnotreadyexception": 429,
    "servicequotaexceededexception": 429,
    "serviceunavailableexception": 503,
    "internalserverexception": 500,
    "modelstreamerrorexception": 500,
    "modeltimeoutexception": 408,
    "validationexception": 400,
    "unrecognizedclientexception": 401,
    "accessdeniedexception": 403,
    "resourcenotfoundexception": 404,
}
_HINTS = {
    "auth": "; check the AWS credentials",
    "permission": "; check that the role may call bedrock:InvokeModel (and "
    "bedrock:InvokeModelWithResponseStream) on this model and that model access is enabled",
    "not_found": "; check the model id and that the model is offered in this region",
    "bad_request": "; the request was refused, fix it before trying again",
}


def shared_client(region: str | None, endpoint_url: str | None, read_timeout: float) -> Any:
    """The ``bedrock-runtime`` client for this region and endpoint (made once)."""
    key = (region, endpoint_url, read_timeout)
    client = _CLIENTS.get(key)
    if client is None:
        try:
            import boto3
            from botocore.config import Config
        except ImportError:
            raise MissingExtraError("boto3", "bedrock", "The Bedrock model provider") from None
        config = Config(
            retries={"total_max_attempts": 1, "mode": "standard"},
            read_timeout=read_timeout,
            connect_timeout=min(10.0, read_timeout),
            tcp_keepalive=True,
        )
        with _LOCK:
            session = boto3.session.Session()
            client = session.client(
                "bedrock-runtime", region_name=region, endpoint_url=endpoint_url, config=config
            )
            _CLIENTS[key] = client
    return client


def classify(exc: BaseException) -> ProviderError | None:
    """A ``ProviderError`` for a botocore failure; ``None`` for anything else."""
    from botocore import exceptions as bx

    if isinstance(exc, bx.ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "Unknown"))
        meta = exc.response.get("ResponseMetadata", {})
        status = int(meta.get("HTTPStatusCode") or _STATUS.get(code.lower(), 500))
        kind, retryable = kind_of_status(status)
        wait = parse_retry_after(meta.get("HTTPHeaders", {}).get("retry-after"))
        message = error.get("Message") or "no message"
        return ProviderError(
            f"Bedrock {code} ({status}, {kind}): {message}{_HINTS.get(kind, '')}",
            kind=kind,
            retryable=retryable,
            status=status,
            retry_after=wait,
        )
    if isinstance(exc, bx.NoCredentialsError | bx.PartialCredentialsError):
        return ProviderError(f"Bedrock: {exc}", kind="auth", retryable=False)
    if isinstance(exc, bx.ParamValidationError):
        return ProviderError(f"Bedrock request: {exc}", kind="bad_request", retryable=False)
    if isinstance(exc, bx.ReadTimeoutError | bx.ConnectTimeoutError):
        return ProviderError(f"Bedrock timed out: {exc}", kind="timeout", retryable=True)
    from urllib3.exceptions import HTTPError as Urllib3Error  # a stream read cut mid-way

    if isinstance(exc, bx.HTTPClientError | bx.EndpointConnectionError | ConnectionError):
        return ProviderError(f"Bedrock connection failed: {exc}", kind="connection", retryable=True)
    if isinstance(exc, Urllib3Error):
        return ProviderError(f"Bedrock connection failed: {exc}", kind="connection", retryable=True)
    return None


class BedrockModel:
    """A Bedrock model through Converse; see the module docstring."""

    def __init__(
        self,
        model_id: str = "",
        *,
        settings: Any = None,
        region: str | None = None,
        endpoint_url: str | None = None,
        client: Any = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.model_id = model_id or DEFAULT_MODEL
        self.name = f"bedrock:{self.model_id}"
        self.region = region or getattr(settings, "bedrock_region", None)
        self.endpoint_url = endpoint_url
        self.max_tokens: int = getattr(settings, "model_max_tokens", 4096)
        self.retry = retry or RetryPolicy(
            max_retries=getattr(settings, "model_max_retries", 2),
            timeout=getattr(settings, "model_timeout", 120.0),
        )
        self._client = client

    async def prepare(self) -> None:
        """Import boto3 and build the client now (Lambda init) instead of on the first call."""
        self.client()

    def client(self) -> Any:
        if self._client is None:
            self._client = shared_client(self.region, self.endpoint_url, self.retry.timeout)
        return self._client

    def _request(
        self,
        messages: Sequence[Message],
        system: str | Sequence[Mapping[str, Any]] | None,
        tools: Sequence[ToolSpec] | None,
        max_tokens: int | None,
        temperature: float | None,
        options: dict[str, Any],
    ) -> dict[str, Any]:
        inference: dict[str, Any] = {"maxTokens": max_tokens or self.max_tokens}
        if temperature is not None:
            inference["temperature"] = temperature
        if "top_p" in options:
            inference["topP"] = options.pop("top_p")
        if "stop_sequences" in options:
            inference["stopSequences"] = list(options.pop("stop_sequences"))
        inference.update(options.pop("inferenceConfig", {}))
        request: dict[str, Any] = {
            "modelId": self.model_id,
            "messages": converse.to_messages(messages),
            "inferenceConfig": inference,
        }
        if system is not None:
            request["system"] = converse.to_system(system)
        tool_choice = options.pop("tool_choice", None)
        if tools:
            request["toolConfig"] = converse.to_tool_config(to_tools(tools), tool_choice)
        request.update(options)
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
        request = self._request(messages, system, tools, max_tokens, temperature, options)
        client = await asyncio.to_thread(self.client)

        async def attempt(limit: float) -> Any:
            return await asyncio.to_thread(client.converse, **request)

        response = await call_with_retries(
            attempt,
            policy=self.retry,
            classify=classify,
            remaining=remaining_seconds,
            what=f"bedrock {self.model_id}",
        )
        return converse.to_reply(response, self.model_id)

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
        request = self._request(messages, system, tools, max_tokens, temperature, options)
        return ModelStream(self._stream(request, remaining_seconds))

    async def _stream(
        self, request: dict[str, Any], remaining: Callable[[], float] | None
    ) -> AsyncIterator[StreamEvent]:
        client = await asyncio.to_thread(self.client)
        events = stream_with_retries(
            lambda limit: self._attempt(client, request),
            policy=self.retry,
            classify=classify,
            remaining=remaining,
            what=f"bedrock {self.model_id}",
        )
        async for event in events:
            yield event

    async def _attempt(self, client: Any, request: dict[str, Any]) -> AsyncIterator[StreamEvent]:
        response = await asyncio.to_thread(client.converse_stream, **request)
        stream = response["stream"]
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()

        def pump() -> None:
            try:
                for item in stream:
                    loop.call_soon_threadsafe(queue.put_nowait, item)
                loop.call_soon_threadsafe(queue.put_nowait, _END)
            except RuntimeError:  # the event loop closed under us: nobody is listening
                return
            except Exception as exc:
                try:
                    loop.call_soon_threadsafe(queue.put_nowait, exc)
                except RuntimeError:
                    return

        threading.Thread(target=pump, name="relaykit-bedrock-stream", daemon=True).start()
        reply = ReplyBuilder(self.model_id)
        stopped = False
        try:
            while (item := await queue.get()) is not _END:
                if isinstance(item, Exception):
                    raise item
                if "contentBlockDelta" in item:
                    body = item["contentBlockDelta"]
                    delta = body["delta"]
                    if "text" in delta:
                        reply.text.append(delta["text"])
                        yield TextDelta(delta["text"])
                    elif "toolUse" in delta:
                        yield reply.call_delta(body["contentBlockIndex"], delta["toolUse"]["input"])
                elif "contentBlockStart" in item:
                    body = item["contentBlockStart"]
                    use = body.get("start", {}).get("toolUse")
                    if use is not None:
                        yield reply.start_call(
                            body["contentBlockIndex"], use["toolUseId"], use["name"]
                        )
                elif "messageStop" in item:
                    reply.stop_reason = item["messageStop"]["stopReason"]
                    stopped = True
                elif "metadata" in item:
                    reply.usage = converse.to_usage(item["metadata"].get("usage"))
        finally:
            stream.close()
        if not stopped:
            raise ProviderError(
                "the Bedrock stream ended before messageStop; the reply is incomplete, call the "
                "model again (this error is retryable)",
                kind="stream_cut",
                retryable=True,
            )
        yield reply.build()

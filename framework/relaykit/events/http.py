"""The HTTP event kind: API Gateway REST (v1), HTTP API (payload 1.0 and 2.0), ALB, Function URLs.

Recognising an event is plain dictionary inspection, following the discriminators Mangum uses
(``requestContext.elb`` for ALB, ``version`` for HTTP API and Function URL payloads, ``resource``
plus ``httpMethod`` for REST), made a little stricter so that an event source's event is never
taken for HTTP. Serving it goes through ``relaykit.targets.lambda_http``, which translates the
event for the app's ASGI application (``relaykit.targets.lambda_http_shapes``); that module and
FastAPI load on the first HTTP event.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from relaykit.events.base import Environment, Outcome, StreamOpener

if TYPE_CHECKING:
    from relaykit.targets.lambda_http import HttpBridge

ALB = "alb"
ALB_MULTI_VALUE = "alb-multi-value"
HTTP_API_V2 = "http-api-v2"
FUNCTION_URL = "function-url"
HTTP_API_V1 = "http-api-v1"
REST = "rest"


def http_shape(event: Mapping[str, Any]) -> str | None:
    """Which HTTP event shape ``event`` is, or ``None`` when it is not an HTTP event."""
    context = event.get("requestContext")
    if context is None or not isinstance(context, Mapping):  # None: no ABC check (every event)
        return None
    if isinstance(context.get("elb"), Mapping) and "httpMethod" in event:
        return ALB_MULTI_VALUE if "multiValueHeaders" in event else ALB
    version = event.get("version")
    if version == "2.0" and isinstance(context.get("http"), Mapping):
        domain = str(context.get("domainName", ""))
        return FUNCTION_URL if ".lambda-url." in domain else HTTP_API_V2
    if version == "1.0" and "httpMethod" in event:
        return HTTP_API_V1
    if version is None and "resource" in event and "httpMethod" in event:
        return REST
    return None


class HttpEvents:
    """Serves HTTP events through the app's ASGI application (buffered responses)."""

    name = "http"

    def __init__(self, env: Environment) -> None:
        self.env = env
        self._bridge: HttpBridge | None = None

    def matches(self, event: Mapping[str, Any]) -> bool:
        return http_shape(event) is not None

    def correlation_id(self, event: Mapping[str, Any]) -> str | None:
        context = event.get("requestContext")
        if isinstance(context, Mapping) and context.get("requestId"):
            return str(context["requestId"])
        headers = event.get("headers")
        if isinstance(headers, Mapping):
            trace = headers.get("x-amzn-trace-id") or headers.get("X-Amzn-Trace-Id")
            return str(trace) if trace else None
        return None

    async def bridge(self) -> HttpBridge:
        """The HTTP bridge, built and started on first use (this imports FastAPI)."""
        if self._bridge is None:
            from relaykit.targets.lambda_http import HttpBridge

            bridge = HttpBridge(self.env.app)
            await bridge.start()
            self._bridge = bridge
        return self._bridge

    async def prepare(self) -> None:
        await self.bridge()

    async def handle(self, event: dict[str, Any], context: Any) -> Outcome:
        return await (await self.bridge()).serve(event, context)

    def wants_stream(self, event: Mapping[str, Any]) -> bool:
        """Stream Function URL events (``auto``), every streamable shape (``stream``), or none."""
        mode = self.env.app.settings.lambda_response_mode
        shape = http_shape(event)
        if mode == "buffered" or shape is None:
            return False
        if mode == "stream":
            return shape in (FUNCTION_URL, REST)
        return shape == FUNCTION_URL

    async def stream(
        self, event: dict[str, Any], context: Any, open_stream: StreamOpener
    ) -> Outcome:
        return await (await self.bridge()).stream(event, context, open_stream)

    async def close(self) -> None:
        if self._bridge is not None:
            await self._bridge.close()
            self._bridge = None


def create(env: Environment) -> HttpEvents:
    """The HTTP kind for ``env`` (the registry calls this)."""
    return HttpEvents(env)

"""The HTTP event kind: API Gateway REST (v1), HTTP API (payload 1.0 and 2.0), ALB, Function URLs.

Recognising an event is ``relaykit.lambda_event.http_shape``, plain dictionary inspection.
Serving it goes through ``relaykit.targets.lambda_http``, which translates the
event for the app's ASGI application (``relaykit.targets.lambda_http_shapes``); that module and
FastAPI load on the first HTTP event.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from relaykit.lambda_event import correlation_id, http_shape, streamed

if TYPE_CHECKING:
    from relaykit.events.base import Environment, Outcome, StreamOpener
    from relaykit.targets.lambda_http import HttpBridge


class HttpEvents:
    """Serves HTTP events through the app's ASGI application (buffered responses)."""

    name = "http"

    def __init__(self, env: Environment) -> None:
        self.env = env
        self._bridge: HttpBridge | None = None

    def matches(self, event: Mapping[str, Any]) -> bool:
        return http_shape(event) is not None

    def correlation_id(self, event: Mapping[str, Any]) -> str | None:
        return correlation_id(event)

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
        return streamed(http_shape(event), self.env.app.settings.lambda_response_mode)

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

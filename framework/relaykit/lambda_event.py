"""One Lambda event as both Lambda handlers see it before any event kind is loaded.

Which HTTP shape an event is (``http_shape``: API Gateway REST, HTTP API payload 1.0 and 2.0,
ALB, Function URL, or not HTTP at all), its correlation id, whether its response is streamed, and
the ``Outcome`` of serving it. ``relaykit.app``'s handler reaches these through its event kinds
(``relaykit.events``); ``relaykit.asgi_lambda_handler`` serves HTTP events of a plain ASGI app
with this module alone, which is why it is one small stdlib-only module: every import is paid on
each cold start.

Recognising an event is plain dictionary inspection, following the discriminators Mangum uses
(``requestContext.elb`` for ALB, ``version`` for HTTP API and Function URL payloads, ``resource``
plus ``httpMethod`` for REST), made a little stricter so that an event source's event is never
taken for HTTP.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeGuard

ALB = "alb"
ALB_MULTI_VALUE = "alb-multi-value"
HTTP_API_V2 = "http-api-v2"
FUNCTION_URL = "function-url"
HTTP_API_V1 = "http-api-v1"
REST = "rest"


def http_shape(event: Mapping[str, Any]) -> str | None:
    """Which HTTP event shape ``event`` is, or ``None`` when it is not an HTTP event."""
    context = event.get("requestContext")
    if context is None or not _mapping(context):
        return None
    if _mapping(context.get("elb")) and "httpMethod" in event:
        return ALB_MULTI_VALUE if "multiValueHeaders" in event else ALB
    version = event.get("version")
    if version == "2.0" and _mapping(context.get("http")):
        domain = str(context.get("domainName", ""))
        return FUNCTION_URL if ".lambda-url." in domain else HTTP_API_V2
    if version == "1.0" and "httpMethod" in event:
        return HTTP_API_V1
    if version is None and "resource" in event and "httpMethod" in event:
        return REST
    return None


def _mapping(value: Any) -> TypeGuard[Mapping[str, Any]]:
    """``isinstance(value, Mapping)``, with parsed JSON's ``dict`` and a missing key (``None``)
    answered first: the ABC check costs ~55 µs the first time it runs for a type, and every
    cold start's first event would pay it (``requestContext.elb`` is missing from most)."""
    return type(value) is dict or (value is not None and isinstance(value, Mapping))


def correlation_id(event: Mapping[str, Any]) -> str | None:
    """The id that ties an HTTP event's log lines to its caller's request: API Gateway's request
    id, else the X-Ray trace header."""
    context = event.get("requestContext")
    if _mapping(context) and context.get("requestId"):
        return str(context["requestId"])
    headers = event.get("headers")
    if _mapping(headers):
        trace = headers.get("x-amzn-trace-id") or headers.get("X-Amzn-Trace-Id")
        return str(trace) if trace else None
    return None


def streamed(shape: str | None, mode: str) -> bool:
    """Whether an HTTP event of ``shape`` is answered as a stream under the
    ``lambda_response_mode`` setting ``mode``: Function URL events (``auto``), every shape that
    can stream (``stream``: Function URLs and REST APIs), or none (``buffered``)."""
    if mode == "buffered" or shape is None:
        return False
    if mode == "stream":
        return shape in (FUNCTION_URL, REST)
    return shape == FUNCTION_URL


class Outcome(tuple[Any, str, bool]):
    """What handling one event produced: ``Outcome(response, handler, error=False)``.

    ``response`` is returned to Lambda as is. ``handler`` names the relaykit handler that served
    the event (the metrics dimension; ``other`` when none did) and ``error`` says whether the
    invocation counts as an error in the metrics (a server-side failure, not a caller mistake).

    An immutable value (a tuple of the three; a dataclass costs half a millisecond to define,
    which every cold start would pay).
    """

    __slots__ = ()

    def __new__(cls, response: Any, handler: str, error: bool = False) -> Outcome:
        return tuple.__new__(cls, (response, handler, error))

    @property
    def response(self) -> Any:
        return self[0]

    @property
    def handler(self) -> str:
        return self[1]

    @property
    def error(self) -> bool:
        return self[2]

    def __repr__(self) -> str:
        return f"Outcome(response={self[0]!r}, handler={self[1]!r}, error={self[2]!r})"

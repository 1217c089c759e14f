"""Lambda HTTP events in as ASGI requests, ASGI responses out as the dict each event source wants.

One class per event shape, all with one small contract (Mangum's): built from the event, it gives
the ASGI ``scope`` and the request ``body``, and called with a buffered response (``status``,
``headers`` as byte pairs, ``body`` bytes) it returns what Lambda hands back to the caller:

- ``RestEvent``: API Gateway REST APIs and HTTP API payload 1.0 (``headers`` and
  ``multiValueHeaders`` in, both out; repeated response headers in ``multiValueHeaders``);
- ``HttpApiEvent``: HTTP API payload 2.0 and Function URLs (``cookies`` both ways, repeated
  headers joined with commas);
- ``AlbEvent``: Application Load Balancer, in whichever header mode the target group uses
  (``multiValueHeaders`` or ``headers``, repeated names then spelled in different letter cases).

The translation is that of Mangum 0.22, which relaykit used before, so responses are the same
byte for byte: text bodies (``text/*``, JSON, JavaScript, XML) go out as text, others as base64;
the ``api_gateway_base_path`` is stripped from API Gateway paths; the scope carries the event and
the context under ``aws.event`` and ``aws.context``. Standard library only, so serving an ASGI
application on Lambda imports no adapter package.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator, Mapping, MutableMapping
from itertools import islice
from typing import Any
from urllib.parse import unquote, unquote_plus, urlencode

Scope = MutableMapping[str, Any]
Response = Mapping[str, Any]
"""A buffered ASGI response: ``status`` (int), ``headers`` (byte pairs), ``body`` (bytes)."""

ASGI_VERSION = {"version": "3.0", "spec_version": "2.0"}
TEXT_TYPES = (
    "text/",
    "application/json",
    "application/javascript",
    "application/xml",
    "application/vnd.api+json",
    "application/vnd.oai.openapi",
)
"""Content types answered as text; any other body goes out base64-encoded."""


def for_event(event: Mapping[str, Any], context: Any, base_path: str) -> HttpShape:
    """The translation for an HTTP event (one that ``relaykit.lambda_event.http_shape`` knows)."""
    request_context = event["requestContext"]
    if "elb" in request_context:
        return AlbEvent(event, context)
    if event.get("version") == "2.0":
        return HttpApiEvent(event, context, base_path)
    return RestEvent(event, context, base_path)


class HttpShape:
    """One HTTP event: the ASGI request it carries, and the response shaped for its source.
    Each subclass gives ``scope`` and ``__call__`` (a plain base class, not an ``abc.ABC``:
    those cost more to create, on every cold start)."""

    def __init__(self, event: Mapping[str, Any], context: Any, base_path: str = "/") -> None:
        self.event = event
        self.context = context
        self.base_path = base_path
        """The API Gateway stage or custom-domain path that is not the app's (``/``: none)."""

    @property
    def scope(self) -> Scope:
        """The ASGI HTTP scope of the request (raises on fields of the wrong type or shape)."""
        raise NotImplementedError

    @property
    def body(self) -> bytes:
        """The request body, decoded from base64 when ``isBase64Encoded`` says so."""
        body = self.event.get("body", b"") or b""
        if self.event.get("isBase64Encoded", False):
            return base64.b64decode(body)
        return body if isinstance(body, bytes) else body.encode()

    def __call__(self, response: Response) -> dict[str, Any]:
        """The Lambda result answering this event with ``response``."""
        raise NotImplementedError

    def _http_scope(
        self,
        method: Any,
        headers: list[list[bytes]],
        path: str,
        scheme: Any,
        query: bytes,
        server: tuple[str, int],
        client: tuple[Any, int],
    ) -> Scope:
        return {
            "type": "http",
            "http_version": "1.1",
            "method": method,
            "headers": headers,
            "path": path,
            "raw_path": None,
            "root_path": "",
            "scheme": scheme,
            "query_string": query,
            "server": server,
            "client": client,
            "asgi": ASGI_VERSION.copy(),
            "aws.event": self.event,
            "aws.context": self.context,
        }


class RestEvent(HttpShape):
    """API Gateway REST API events and HTTP API payload 1.0 events."""

    @property
    def scope(self) -> Scope:
        event = self.event
        headers = {key.lower(): value for key, value in (event.get("headers", {}) or {}).items()}
        if event.get("multiValueHeaders"):
            for key, values in event.get("multiValueHeaders", {}).items():
                headers[key.lower()] = ", ".join(values) if isinstance(values, list) else ""
        method = event["httpMethod"]
        pairs = [[key.encode(), value.encode()] for key, value in headers.items()]
        path = strip_base_path(event["path"], self.base_path)
        query = _rest_query(event)
        server = server_of(headers)
        client = (event["requestContext"].get("identity", {}).get("sourceIp"), 0)
        scheme = headers.get("x-forwarded-proto", "https")
        return self._http_scope(method, pairs, path, scheme, query, server, client)

    def __call__(self, response: Response) -> dict[str, Any]:
        headers, repeated = split_repeated(response["headers"])
        body, encoded = encode_body(response["body"], headers)
        return {
            "statusCode": response["status"],
            "headers": headers,
            "multiValueHeaders": repeated,
            "body": body,
            "isBase64Encoded": encoded,
        }


class HttpApiEvent(HttpShape):
    """HTTP API payload 2.0 events and Function URL events."""

    @property
    def scope(self) -> Scope:
        event = self.event
        request_context = event["requestContext"]
        headers = {key.lower(): value for key, value in event.get("headers", {}).items()}
        http = request_context["http"]
        source_ip = http["sourceIp"]
        path = http["path"]
        method = http["method"]
        query = event.get("rawQueryString", "").encode()
        if event.get("cookies"):
            headers["cookie"] = "; ".join(event.get("cookies", []))
        path = strip_base_path(path, self.base_path)
        server = server_of(headers)
        pairs = [[key.encode(), value.encode()] for key, value in headers.items()]
        scheme = headers.get("x-forwarded-proto", "https")
        return self._http_scope(method, pairs, path, scheme, query, server, (source_ip, 0))

    def __call__(self, response: Response) -> dict[str, Any]:
        headers: dict[str, str] = {}
        cookies: list[str] = []
        for raw_name, raw_value in response["headers"]:
            name, value = raw_name.decode().lower(), raw_value.decode()
            if name == "set-cookie":
                cookies.append(value)
            elif name in headers:
                headers[name] = f"{headers[name]},{value}"
            else:
                headers[name] = value
        if "content-type" not in headers and response["body"] is not None:
            headers["content-type"] = "application/json"
        body, encoded = encode_body(response["body"], headers)
        out: dict[str, Any] = {"statusCode": response["status"], "body": body}
        if headers:
            out["headers"] = headers
        if cookies:
            out["cookies"] = cookies
        out["isBase64Encoded"] = encoded
        return out


class AlbEvent(HttpShape):
    """Application Load Balancer events (the base path is not stripped: an ALB has none)."""

    @property
    def scope(self) -> Scope:
        event = self.event
        pairs: list[list[bytes]] = []
        if "multiValueHeaders" in event:
            for key, values in event["multiValueHeaders"].items():
                for value in values:
                    pairs.append([key.lower().encode(), value.encode()])
        else:
            for key, value in event["headers"].items():
                pairs.append([key.lower().encode(), value.encode()])
        last = {key.decode(): value.decode() for key, value in pairs}  # the last of repeats
        path = unquote(event["path"]) if event["path"] else "/"
        method = event["httpMethod"]
        params = event.get(
            "multiValueQueryStringParameters", event.get("queryStringParameters", {})
        )
        query = _alb_query(params) if params else b""
        server = server_of(last)
        client = (last.get("x-forwarded-for", ""), 0)
        scheme = last.get("x-forwarded-proto", "https")
        return self._http_scope(method, pairs, path, scheme, query, server, client)

    def __call__(self, response: Response) -> dict[str, Any]:
        repeated: dict[str, list[str]] = {}
        for raw_name, raw_value in response["headers"]:
            repeated.setdefault(raw_name.decode().lower(), []).append(raw_value.decode())
        headers = case_spelled(repeated)
        body, encoded = encode_body(response["body"], headers)
        out: dict[str, Any] = {
            "statusCode": response["status"],
            "body": body,
            "isBase64Encoded": encoded,
        }
        if "multiValueHeaders" in self.event:
            out["multiValueHeaders"] = repeated
        else:
            out["headers"] = headers
        return out


def strip_base_path(path: str, base_path: str) -> str:
    """``path`` without the API Gateway base path (stage or custom-domain mapping), unquoted."""
    if not path:
        return "/"
    if base_path and base_path != "/":
        prefix = base_path if base_path.startswith("/") else f"/{base_path}"
        if path.startswith(prefix):
            path = path[len(prefix) :]
    return unquote(path)


def server_of(headers: Mapping[str, Any]) -> tuple[str, int]:
    """The ASGI ``server`` pair from the ``host`` and ``x-forwarded-port`` headers."""
    name = headers.get("host", "mangum")  # Mangum's placeholder, kept for the same scope
    if ":" not in name:
        port = headers.get("x-forwarded-port", 80)
    else:
        name, port = name.split(":")
    return name, int(port)


def split_repeated(
    raw_headers: list[list[bytes]] | list[tuple[bytes, bytes]],
) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Response headers as API Gateway 1.0 takes them: names seen once in ``headers``, names
    seen more than once (``set-cookie``...) with all their values in ``multiValueHeaders``."""
    single: dict[str, str] = {}
    repeated: dict[str, list[str]] = {}
    for raw_name, raw_value in raw_headers:
        name, value = raw_name.decode().lower(), raw_value.decode()
        if name in repeated:
            repeated[name].append(value)
        elif name in single:
            repeated[name] = [single.pop(name), value]
        else:
            single[name] = value
    return single, repeated


def encode_body(body: bytes, headers: Mapping[str, str]) -> tuple[str, bool]:
    """The response body as Lambda carries it: text for text types, base64 otherwise."""
    if body == b"":
        return "", False
    content_type = headers.get("content-type", "")
    if any(kind in content_type for kind in TEXT_TYPES):
        try:
            return body.decode(), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(body).decode(), True


def case_spelled(repeated: Mapping[str, list[str]]) -> dict[str, str]:
    """One header per value for an ALB without multi-value headers: a repeated name is spelled
    in a different letter case for each value (``set-cookie``, ``Set-cookie``...)."""
    headers: dict[str, str] = {}
    for name, values in repeated.items():
        for value, spelled in zip(values, islice(_casings(name), len(values)), strict=False):
            headers[spelled] = value
    return headers


def _casings(text: str) -> Iterator[str]:
    if not text:
        yield ""
        return
    first = text[:1]
    for rest in _casings(text[1:]):
        if first.lower() == first.upper():
            yield first + rest
        else:
            yield first.lower() + rest
            yield first.upper() + rest


def _rest_query(event: Mapping[str, Any]) -> bytes:
    params = event.get("multiValueQueryStringParameters", {})
    if not params:
        params = event.get("queryStringParameters", {})
    if not params:
        return b""
    return urlencode(params, doseq=True).encode()


def _alb_query(params: Mapping[str, Any]) -> bytes:
    # An ALB passes the query as sent (still URL-encoded): decode, then encode once.
    decoded = {
        unquote_plus(key): (
            unquote_plus(value)
            if isinstance(value, str)
            else tuple(unquote_plus(item) for item in value)
        )
        for key, value in params.items()
    }
    return urlencode(decoded, doseq=True).encode()

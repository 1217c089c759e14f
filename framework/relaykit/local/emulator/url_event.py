"""The payload format 2.0 event a Lambda Function URL builds from an HTTP request.

Shape per the Lambda Developer Guide (``urls-invocation``): ``version`` 2.0, ``routeKey`` and
``stage`` ``$default``, lower-cased ``headers`` with repeated values comma-joined, the ``Cookie``
header moved to a ``cookies`` array, ``queryStringParameters`` with repeated values
comma-joined, ``requestContext.accountId`` ``anonymous`` (auth type NONE), and a body that is
base64-encoded unless its content type is textual.
"""

from __future__ import annotations

import base64
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from .config import DEFAULT_REGION

_TEXT_TYPES = ("application/json", "application/javascript", "application/xml")
_TEXT_SUFFIXES = ("+json", "+xml")


def is_text_content_type(content_type: str | None) -> bool:
    """Whether a body of this type travels as text rather than base64 (UNCONFIRMED list)."""
    if not content_type:
        return False
    main = content_type.split(";")[0].strip().lower()
    return main.startswith("text/") or main in _TEXT_TYPES or main.endswith(_TEXT_SUFFIXES)


@dataclass(frozen=True)
class UrlIdentity:
    """The ids of one Function URL: ``https://<url_id>.lambda-url.<region>.on.aws``."""

    url_id: str = field(default_factory=lambda: secrets.token_hex(16))
    region: str = DEFAULT_REGION

    @property
    def domain_name(self) -> str:
        return f"{self.url_id}.lambda-url.{self.region}.on.aws"


@dataclass(frozen=True)
class HttpRequest:
    """What the front read off the wire."""

    method: str
    path: str
    query: str
    headers: list[tuple[str, str]]
    body: bytes
    source_ip: str = "127.0.0.1"
    protocol: str = "HTTP/1.1"


def build_event(request: HttpRequest, identity: UrlIdentity, request_id: str) -> dict[str, Any]:
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in request.headers:
        key = name.lower()
        if key == "cookie":
            cookies += [c.strip() for c in value.split(";") if c.strip()]
            continue
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    headers.setdefault("x-forwarded-for", request.source_ip)
    headers.setdefault("x-forwarded-proto", "http")
    now = time.time()
    stamp = datetime.fromtimestamp(now, UTC)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": request.path,
        "rawQueryString": request.query,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = headers
    if request.query:
        params: dict[str, str] = {}
        for key, value in parse_qsl(request.query, keep_blank_values=True):
            params[key] = f"{params[key]},{value}" if key in params else value
        event["queryStringParameters"] = params
    event["requestContext"] = {
        "accountId": "anonymous",
        "apiId": identity.url_id,
        "domainName": identity.domain_name,
        "domainPrefix": identity.url_id,
        "http": {
            "method": request.method,
            "path": request.path,
            "protocol": request.protocol,
            "sourceIp": request.source_ip,
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": request_id,
        "routeKey": "$default",
        "stage": "$default",
        "time": stamp.strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "timeEpoch": int(now * 1000),
    }
    if request.body:
        if is_text_content_type(headers.get("content-type")):
            try:
                event["body"] = request.body.decode("utf-8")
                event["isBase64Encoded"] = False
            except UnicodeDecodeError:
                event["body"] = base64.b64encode(request.body).decode("ascii")
                event["isBase64Encoded"] = True
        else:
            event["body"] = base64.b64encode(request.body).decode("ascii")
            event["isBase64Encoded"] = True
    else:
        event["isBase64Encoded"] = False
    return event

"""The HTTP integration prelude of a streamed response.

With ``Content-Type: application/vnd.awslambda.http-integration-response`` the body starts with
a JSON object (``statusCode``, ``headers``, ``cookies``) followed by exactly 8 NUL bytes; the
rest is the HTTP body. JSON text cannot contain a raw NUL, so the first 8-NUL run ends it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

HTTP_INTEGRATION_CONTENT_TYPE = "application/vnd.awslambda.http-integration-response"
DELIMITER = b"\x00" * 8
MAX_PRELUDE_BYTES = 64 * 1024


class PreludeError(ValueError):
    """The stream declared a prelude but did not deliver a valid one."""


@dataclass
class Prelude:
    """The parsed prelude, with the service's defaults (status 200, no headers, no cookies)."""

    status_code: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    cookies: list[str] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, data: bytes) -> Prelude:
        try:
            doc = json.loads(data) if data.strip() else {}
        except ValueError as exc:
            raise PreludeError(f"prelude is not JSON: {exc}") from exc
        if not isinstance(doc, dict):
            raise PreludeError("prelude must be a JSON object")
        status = doc.get("statusCode", 200)
        headers = doc.get("headers") or {}
        cookies = doc.get("cookies") or []
        if not isinstance(status, int) or not isinstance(headers, dict):
            raise PreludeError("prelude statusCode must be an int and headers an object")
        return cls(
            status_code=status,
            headers={str(k): str(v) for k, v in headers.items()},
            cookies=[str(c) for c in cookies],
            raw=doc,
        )


class PreludeSplitter:
    """Feed raw chunks; get the prelude once it is complete, then body chunks unchanged."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.prelude: Prelude | None = None

    def feed(self, chunk: bytes) -> bytes:
        """Return the body bytes in ``chunk`` (empty while the prelude is incomplete)."""
        if self.prelude is not None:
            return chunk
        self._buffer += chunk
        end = self._buffer.find(DELIMITER)
        if end < 0:
            if len(self._buffer) > MAX_PRELUDE_BYTES:
                raise PreludeError(f"no prelude delimiter in the first {MAX_PRELUDE_BYTES} bytes")
            return b""
        self.prelude = Prelude.parse(bytes(self._buffer[:end]))
        rest = bytes(self._buffer[end + len(DELIMITER) :])
        self._buffer.clear()
        return rest

    @property
    def complete(self) -> bool:
        return self.prelude is not None


async def split_stream(
    chunks: AsyncIterator[bytes],
) -> tuple[Prelude | None, AsyncIterator[bytes]]:
    """Read ``chunks`` up to the end of the prelude; return it and an iterator over the body.

    Returns ``(None, ...)`` if the stream ends before the delimiter.
    """
    splitter = PreludeSplitter()
    first = b""
    async for chunk in chunks:
        first = splitter.feed(chunk)
        if splitter.complete:
            break

    async def body() -> AsyncIterator[bytes]:
        if first:
            yield first
        if splitter.complete:
            async for chunk in chunks:
                yield chunk

    return splitter.prelude, body()


def parse_buffered(data: bytes) -> tuple[Prelude | None, bytes]:
    """Split a complete body (prelude + body), or return ``(None, data)`` without delimiter."""
    end = data.find(DELIMITER)
    if end < 0:
        return None, data
    return Prelude.parse(data[:end]), data[end + len(DELIMITER) :]

"""The AWS event stream binary framing (``application/vnd.amazon.eventstream``).

Standalone: it imports only the standard library, so the InvokeWithResponseStream front and a
future Bedrock ConverseStream stub can both use it. One message on the wire::

    total length   u32 big-endian   (whole message, including both CRCs)
    headers length u32 big-endian
    prelude CRC32  u32              (of the 8 bytes above)
    headers        name-len u8, name, type u8, value   (repeated)
    payload        bytes
    message CRC32  u32              (of everything before it)

Header value types: 0 true, 1 false, 2 byte, 3 short, 4 int, 5 long, 6 bytes (u16 length),
7 string (u16 length, UTF-8), 8 timestamp (i64 ms since the epoch), 9 uuid (16 bytes).
Python ``int`` encodes as int32 when it fits, else int64; :class:`Int8`, :class:`Int16` and
:class:`Int64` force a width.
"""

from __future__ import annotations

import binascii
import struct
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

MAX_MESSAGE_BYTES = 16 * 1024 * 1024
_PRELUDE = struct.Struct(">III")


class Int8(int):
    """An int header value encoded as one byte (type 2)."""


class Int16(int):
    """An int header value encoded as two bytes (type 3)."""


class Int64(int):
    """An int header value encoded as eight bytes (type 5)."""


HeaderValue = bool | int | bytes | str | datetime | uuid.UUID


class EventStreamError(ValueError):
    """A frame is malformed: bad length, bad CRC, or an unknown header type."""


@dataclass(frozen=True)
class Message:
    """One decoded frame."""

    headers: dict[str, HeaderValue] = field(default_factory=dict)
    payload: bytes = b""


def _encode_header(name: str, value: HeaderValue) -> bytes:
    raw_name = name.encode("utf-8")
    out = struct.pack(">B", len(raw_name)) + raw_name
    if isinstance(value, bool):
        return out + struct.pack(">B", 0 if value else 1)
    if isinstance(value, Int8):
        return out + struct.pack(">Bb", 2, value)
    if isinstance(value, Int16):
        return out + struct.pack(">Bh", 3, value)
    if isinstance(value, int):
        if not isinstance(value, Int64) and -(2**31) <= value < 2**31:
            return out + struct.pack(">Bi", 4, value)
        return out + struct.pack(">Bq", 5, value)
    if isinstance(value, bytes):
        return out + struct.pack(">BH", 6, len(value)) + value
    if isinstance(value, str):
        raw = value.encode("utf-8")
        return out + struct.pack(">BH", 7, len(raw)) + raw
    if isinstance(value, datetime):
        millis = int(value.timestamp() * 1000)
        return out + struct.pack(">Bq", 8, millis)
    if isinstance(value, uuid.UUID):
        return out + struct.pack(">B", 9) + value.bytes
    raise TypeError(f"unsupported event stream header value for {name!r}: {type(value)!r}")


def encode_message(headers: Mapping[str, HeaderValue], payload: bytes = b"") -> bytes:
    """One complete frame, CRCs included."""
    raw_headers = b"".join(_encode_header(k, v) for k, v in headers.items())
    total = _PRELUDE.size + len(raw_headers) + len(payload) + 4
    head = struct.pack(">II", total, len(raw_headers))
    prelude = head + struct.pack(">I", binascii.crc32(head))
    body = prelude + raw_headers + payload
    return body + struct.pack(">I", binascii.crc32(body))


def encode_event(event_type: str, payload: bytes, content_type: str | None = None) -> bytes:
    """A ``:message-type: event`` frame, as AWS services send them."""
    headers: dict[str, HeaderValue] = {":event-type": event_type}
    if content_type is not None:
        headers[":content-type"] = content_type
    headers[":message-type"] = "event"
    return encode_message(headers, payload)


def encode_exception(exception_type: str, payload: bytes) -> bytes:
    """A modelled error frame (``:message-type: exception``)."""
    return encode_message(
        {
            ":exception-type": exception_type,
            ":content-type": "application/json",
            ":message-type": "exception",
        },
        payload,
    )


def _decode_headers(raw: bytes) -> dict[str, HeaderValue]:
    headers: dict[str, HeaderValue] = {}
    pos = 0
    while pos < len(raw):
        name_len = raw[pos]
        name = raw[pos + 1 : pos + 1 + name_len].decode("utf-8")
        pos += 1 + name_len
        kind = raw[pos]
        pos += 1
        value: HeaderValue
        if kind in (0, 1):
            value = kind == 0
        elif kind == 2:
            value, pos = Int8(struct.unpack_from(">b", raw, pos)[0]), pos + 1
        elif kind == 3:
            value, pos = Int16(struct.unpack_from(">h", raw, pos)[0]), pos + 2
        elif kind == 4:
            value, pos = int(struct.unpack_from(">i", raw, pos)[0]), pos + 4
        elif kind == 5:
            value, pos = Int64(struct.unpack_from(">q", raw, pos)[0]), pos + 8
        elif kind in (6, 7):
            (length,) = struct.unpack_from(">H", raw, pos)
            data = raw[pos + 2 : pos + 2 + length]
            value = data if kind == 6 else data.decode("utf-8")
            pos += 2 + length
        elif kind == 8:
            (millis,) = struct.unpack_from(">q", raw, pos)
            value, pos = datetime.fromtimestamp(millis / 1000, tz=UTC), pos + 8
        elif kind == 9:
            value, pos = uuid.UUID(bytes=raw[pos : pos + 16]), pos + 16
        else:
            raise EventStreamError(f"unknown header value type {kind} for {name!r}")
        headers[name] = value
    return headers


class EventStreamDecoder:
    """Incremental decoder: :meth:`feed` bytes as they arrive, get back complete messages."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[Message]:
        self._buffer += data
        messages: list[Message] = []
        while len(self._buffer) >= _PRELUDE.size:
            total, headers_len, prelude_crc = _PRELUDE.unpack_from(self._buffer)
            if binascii.crc32(bytes(self._buffer[:8])) != prelude_crc:
                raise EventStreamError("prelude CRC mismatch")
            if total > MAX_MESSAGE_BYTES or total < _PRELUDE.size + headers_len + 4:
                raise EventStreamError(f"bad message length {total}")
            if len(self._buffer) < total:
                break
            frame = bytes(self._buffer[:total])
            del self._buffer[:total]
            (message_crc,) = struct.unpack_from(">I", frame, total - 4)
            if binascii.crc32(frame[:-4]) != message_crc:
                raise EventStreamError("message CRC mismatch")
            start = _PRELUDE.size
            headers = _decode_headers(frame[start : start + headers_len])
            messages.append(Message(headers, frame[start + headers_len : total - 4]))
        return messages

    @property
    def pending(self) -> int:
        """Bytes received that do not yet form a complete message."""
        return len(self._buffer)


def decode_all(data: bytes) -> list[Message]:
    """Decode a complete byte string; trailing partial data is an error."""
    decoder = EventStreamDecoder()
    messages = decoder.feed(data)
    if decoder.pending:
        raise EventStreamError(f"{decoder.pending} trailing bytes do not form a message")
    return messages

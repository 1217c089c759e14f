"""The event stream codec, checked against itself and against botocore's own parser."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from botocore.eventstream import EventStreamBuffer

from relaykit.local.emulator.eventstream import (
    EventStreamDecoder,
    EventStreamError,
    HeaderValue,
    Int8,
    Int16,
    Int64,
    decode_all,
    encode_event,
    encode_message,
)


def test_round_trip_every_header_type() -> None:
    """Every header value type encodes and decodes to the same value."""
    when = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    ident = uuid.uuid4()
    headers: dict[str, HeaderValue] = {
        "t": True, "f": False, "b": Int8(-3), "s": Int16(300), "i": 70000, "l": Int64(2**40),
        "raw": b"\x00\x01", "str": "héllo", "ts": when, "id": ident,
    }
    [message] = decode_all(encode_message(headers, b"payload"))
    assert message.headers == headers
    assert message.payload == b"payload"


def test_botocore_parses_our_frames() -> None:
    """botocore's EventStreamBuffer (an independent implementation) reads our frames."""
    buffer = EventStreamBuffer()
    buffer.add_data(encode_event("PayloadChunk", b"abc", "application/octet-stream"))
    buffer.add_data(encode_event("InvokeComplete", b"{}", "application/json"))
    messages = list(buffer)
    assert [m.headers[":event-type"] for m in messages] == ["PayloadChunk", "InvokeComplete"]
    assert messages[0].headers[":message-type"] == "event"
    assert messages[0].payload == b"abc"


def test_incremental_decoding_byte_by_byte() -> None:
    """Frames fed one byte at a time come out whole, in order, once complete."""
    data = encode_event("A", b"1") + encode_event("B", b"22")
    decoder = EventStreamDecoder()
    out = []
    for i in range(len(data)):
        out += decoder.feed(data[i : i + 1])
    assert [(m.headers[":event-type"], m.payload) for m in out] == [("A", b"1"), ("B", b"22")]
    assert decoder.pending == 0


@pytest.mark.parametrize("position", [5, 20, -1])
def test_corruption_is_detected(position: int) -> None:
    """A flipped bit in the prelude, the body or the message CRC is an error."""
    frame = bytearray(encode_event("PayloadChunk", b"hello"))
    frame[position] ^= 0x01
    with pytest.raises(EventStreamError):
        decode_all(bytes(frame))


def test_truncated_frame_is_an_error() -> None:
    """decode_all refuses trailing bytes that do not form a message."""
    with pytest.raises(EventStreamError):
        decode_all(encode_event("A", b"x")[:-2])

"""The SSE wire format of stream chunks."""

from __future__ import annotations

from relaykit.dispatch import Chunk
from relaykit.targets.sse import chunk_event, format_event


def test_text_chunk_keeps_leading_space_and_splits_lines() -> None:
    """Text keeps its leading space after 'data: ' and each line becomes its own data line."""
    assert chunk_event(3, Chunk("text", " hello\nworld\r\n!")) == (
        b"id: 3\ndata:  hello\ndata: world\ndata: !\n\n"
    )


def test_json_chunk_is_a_json_event() -> None:
    """JSON chunks are sent as `event: json` with the compact JSON as data."""
    assert chunk_event(1, Chunk("json", '{"a":1}')) == b'id: 1\nevent: json\ndata: {"a":1}\n\n'


def test_end_event_has_no_id() -> None:
    """Control events carry no id, so Last-Event-ID only ever counts chunks."""
    assert format_event(None, "end", '{"chunks":0}') == b'event: end\ndata: {"chunks":0}\n\n'

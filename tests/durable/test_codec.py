"""Step values: JSON types, pydantic models and dataclasses, restored as the declared type."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

import pytest
from pydantic import BaseModel

from relaykit.durable import codec
from relaykit.errors import SerializationError


class Answer(BaseModel):
    text: str
    at: dt.datetime


@dataclasses.dataclass
class Hit:
    url: str
    score: float


def answer() -> Answer:
    return Answer(text="hi", at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))


async def hits() -> list[Hit]:
    return [Hit("a", 1.0)]


def test_declared_type_is_the_return_annotation() -> None:
    """A step function's return annotation (sync or async) is the type values restore as."""
    assert codec.declared_type(answer) is Answer
    assert codec.declared_type(hits) == list[Hit]
    assert codec.declared_type(lambda: 1) is Any


def test_describe_gives_the_declared_type_and_whether_the_body_is_async() -> None:
    """The per-step lookup: the return annotation and the coroutine flag, in one (cached) call."""
    assert codec.describe(answer) == (Answer, False)
    assert codec.describe(hits) == (list[Hit], True)
    assert codec.describe(hits) == (list[Hit], True)  # a second lookup: from the cache


def test_plain_values_store_the_same_text_as_json() -> None:
    """Ints, bools and strings skip the encoder but store exactly what ``json.dumps`` writes."""
    for value in (0, -7, 10**30, True, False, 'a "quoted" é'):
        text, restored = codec.round_trip(value)
        assert (text, restored) == (json.dumps(value), value)
        assert codec.decode(text) == value


def test_models_and_dataclasses_round_trip_as_their_type() -> None:
    """pydantic models and dataclasses are stored as JSON and come back as instances."""
    text = codec.encode(answer(), Answer)
    assert codec.decode(text, Answer) == answer()
    restored = codec.decode(codec.encode([Hit("a", 1.0)], list[Hit]), list[Hit])
    assert restored == [Hit("a", 1.0)] and isinstance(restored[0], Hit)


def test_undeclared_values_come_back_as_json_data() -> None:
    """Without a declared type a model is stored as its JSON and restored as plain data."""
    assert codec.round_trip(Hit("b", 2.0)) == (
        '{"url":"b","score":2.0}',
        {"url": "b", "score": 2.0},
    )
    assert codec.round_trip("x") == ('"x"', "x")


def test_unserialisable_values_fail_clearly() -> None:
    """A value that is not JSON-able raises SerializationError naming what to return."""
    with pytest.raises(SerializationError, match="pydantic models or dataclasses"):
        codec.encode(object())
    with pytest.raises(SerializationError, match="cannot be restored"):
        codec.decode('{"text": 1}', Answer)

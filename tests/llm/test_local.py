"""The local model: deterministic replies, scripted conversations, streaming by word."""

from __future__ import annotations

import pytest

from relaykit import ModelError, Reply, ToolCall
from relaykit.llm.local import LocalModel
from relaykit.model import ToolCallDelta


async def test_reply_is_derived_from_the_last_user_message() -> None:
    """Unscripted, the reply repeats the prompt, and the same prompt gives the same reply."""
    model = LocalModel(delay=0)
    messages = [
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": [{"type": "text", "text": "second question"}]},
    ]
    first = await model.complete(messages)  # type: ignore[arg-type]
    again = await model.complete(messages)  # type: ignore[arg-type]
    assert first == again
    assert first.text == "Local model reply to: second question"
    assert first.usage.input_tokens == 2 and first.usage.output_tokens == 6


async def test_stream_yields_words_that_join_to_the_reply() -> None:
    """Streaming yields word pieces whose concatenation is the full reply, then sets .reply."""
    stream = LocalModel(delay=0).stream([{"role": "user", "content": "a  b"}])
    pieces = [piece async for piece in stream]
    assert len(pieces) > 3
    assert stream.reply is not None
    assert "".join(pieces) == stream.reply.text


async def test_script_is_followed_in_order_then_exhausts_clearly() -> None:
    """A scripted model returns its replies in order, tool calls included, then says it ran out."""
    call = ToolCall(id="t1", name="search", input={"q": "x"})
    model = LocalModel(
        delay=0,
        script=["one", Reply(text="", model="local", stop_reason="tool_use", tool_calls=(call,))],
    )
    assert (await model.complete([{"role": "user", "content": "?"}])).text == "one"
    second = await model.complete([{"role": "user", "content": "?"}])
    assert second.stop_reason == "tool_use" and second.tool_calls == (call,)
    with pytest.raises(ModelError, match="script has 2 replies"):
        await model.complete([{"role": "user", "content": "?"}])


async def test_max_tokens_truncates_with_stop_reason() -> None:
    """max_tokens cuts the reply at that many words and reports stop_reason max_tokens."""
    reply = await LocalModel(delay=0).complete(
        [{"role": "user", "content": "one two three four"}], max_tokens=3
    )
    assert reply.text == "Local model reply"
    assert reply.stop_reason == "max_tokens"


async def test_scripted_tool_calls_stream_as_deltas_then_the_reply() -> None:
    """A scripted ToolCall plays as tool_use: ToolCallDelta events stream, then the Reply."""
    call = ToolCall(id="t1", name="search", input={"q": "lambda limits"})
    model = LocalModel(delay=0, script=[call, "done"])
    stream = model.stream([{"role": "user", "content": "?"}], tools=[{"name": "search"}])
    events = [event async for event in stream.events()]
    deltas = [e for e in events if isinstance(e, ToolCallDelta)]
    assert deltas[0] == ToolCallDelta(0, "t1", "search", "")
    assert "".join(d.input_json for d in deltas) == '{"q": "lambda limits"}'
    assert events[-1] == stream.reply
    assert stream.reply is not None and stream.reply.stop_reason == "tool_use"
    assert stream.reply.tool_calls == (call,)
    assert (await model.complete([{"role": "user", "content": "?"}])).text == "done"


async def test_a_stream_is_iterated_once() -> None:
    """A second iteration of the same stream is a clear error, not an empty stream."""
    stream = LocalModel(delay=0).stream([{"role": "user", "content": "x"}])
    assert await stream.final() == stream.reply
    with pytest.raises(RuntimeError, match="iterated once"):
        [text async for text in stream]

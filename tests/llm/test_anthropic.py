"""The Anthropic provider: the real ``anthropic`` SDK against a local Messages API stub."""

from __future__ import annotations

import json

import pytest

from relaykit import ModelError, ToolCall
from relaykit.llm.anthropic import AnthropicModel, shared_client
from relaykit.llm.retry import ProviderError
from relaykit.model import Reply, TextDelta, ToolCallDelta, Usage, tool_result
from stubs.anthropic_api import AnthropicStub, Turn, error
from stubs.recording import Collect, Sleeps, policy
from support import SENTINEL_KEY

KEY = SENTINEL_KEY
ASK = [{"role": "user", "content": "hello"}]


def model(stub: AnthropicStub, sleeps: Sleeps | None = None, **kw: float) -> AnthropicModel:
    retry = policy(sleeps or Sleeps(), **kw)
    return AnthropicModel("claude-sonnet-4-6", api_key=KEY, base_url=stub.url, retry=retry)


async def test_complete_returns_text_usage_and_stop_reason(anthropic_api: AnthropicStub) -> None:
    """A JSON reply becomes a Reply with text, model, stop reason and usage incl. cache tokens."""
    usage = {
        "input_tokens": 20,
        "output_tokens": 4,
        "cache_read_input_tokens": 100,
        "cache_creation_input_tokens": 50,
    }
    anthropic_api.push(Turn(text="Hi there", usage=usage))
    reply = await model(anthropic_api).complete(ASK, system="Be brief.", max_tokens=64)  # type: ignore[arg-type]
    assert reply == Reply("Hi there", "claude-sonnet-4-6", "end_turn", (), Usage(20, 4, 100, 50))
    body = anthropic_api.requests[0].json()
    assert body["system"] == "Be brief." and body["max_tokens"] == 64
    assert anthropic_api.requests[0].headers["x-stainless-retry-count"] == "0"


async def test_tools_and_tool_results_round_trip(anthropic_api: AnthropicStub) -> None:
    """Tools from a typed function reach the API as JSON schema; tool_use comes back as calls."""

    def get_weather(city: str, unit: str = "c") -> str:
        """Current weather in a city."""
        return "sunny"

    anthropic_api.push(Turn(text="", tool_calls=[("toolu_1", "get_weather", {"city": "Oslo"})]))
    anthropic_api.push(Turn(text="It is sunny."))
    llm = model(anthropic_api)
    first = await llm.complete(ASK, tools=[get_weather], tool_choice={"type": "auto"})  # type: ignore[arg-type]
    assert first.stop_reason == "tool_use"
    assert first.tool_calls == (ToolCall("toolu_1", "get_weather", {"city": "Oslo"}),)
    sent = anthropic_api.requests[0].json()
    assert sent["tool_choice"] == {"type": "auto"}
    assert sent["tools"] == [
        {
            "name": "get_weather",
            "description": "Current weather in a city.",
            "input_schema": {
                "type": "object",
                "required": ["city"],
                "properties": {
                    "city": {"type": "string"},
                    "unit": {"type": "string", "default": "c"},
                },
            },
        }
    ]
    history = [
        *ASK,
        first.to_message(),
        {"role": "user", "content": [tool_result(first.tool_calls[0], "sunny")]},
    ]
    second = await llm.complete(history, tools=[get_weather])  # type: ignore[arg-type]
    assert second.text == "It is sunny."
    assert anthropic_api.requests[1].json()["messages"][2]["content"] == [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"}
    ]


async def test_options_and_prompt_caching_pass_through(anthropic_api: AnthropicStub) -> None:
    """cache_control (top level, system blocks, tools), temperature and unknown options arrive."""
    system = [{"type": "text", "text": "long prompt", "cache_control": {"type": "ephemeral"}}]
    tool = {
        "name": "search",
        "description": "Search.",
        "input_schema": {"type": "object"},
        "cache_control": {"type": "ephemeral"},
    }
    await model(anthropic_api).complete(
        ASK,
        system=system,
        tools=[tool],
        temperature=0.2,
        top_k=5,  # type: ignore[arg-type]
        cache_control={"type": "ephemeral"},
        metadata={"user_id": "u1"},
    )
    body = anthropic_api.requests[0].json()
    assert body["system"] == system and body["tools"] == [tool]
    assert body["cache_control"] == {"type": "ephemeral"} and body["metadata"] == {"user_id": "u1"}
    assert body["temperature"] == 0.2 and body["top_k"] == 5


async def test_stream_yields_text_and_tool_call_deltas_then_the_reply(
    anthropic_api: AnthropicStub,
) -> None:
    """The SSE sequence becomes TextDelta and ToolCallDelta events, then the final Reply."""
    anthropic_api.push(
        Turn(
            text="Let me look",
            tool_calls=[("toolu_9", "search", {"q": "x y"})],
            usage={"input_tokens": 30, "output_tokens": 12},
        )
    )
    stream = model(anthropic_api).stream(ASK)  # type: ignore[arg-type]
    events = [event async for event in stream.events()]
    assert [e for e in events if isinstance(e, TextDelta)] == [
        TextDelta("Let"),
        TextDelta(" me"),
        TextDelta(" look"),
    ]
    calls = [e for e in events if isinstance(e, ToolCallDelta)]
    assert calls[0] == ToolCallDelta(1, "toolu_9", "search", "")
    assert "".join(c.input_json for c in calls) == '{"q": "x y"}'
    assert events[-1] == stream.reply
    assert stream.reply == Reply(
        "Let me look",
        "claude-sonnet-4-6",
        "tool_use",
        (ToolCall("toolu_9", "search", {"q": "x y"}),),
        Usage(30, 12),
    )
    assert anthropic_api.requests[0].json()["stream"] is True


async def test_text_iteration_still_works(anthropic_api: AnthropicStub) -> None:
    """`async for text in model.stream(...)` yields only text and sets .reply at the end."""
    stream = model(anthropic_api).stream(ASK, max_tokens=4)  # type: ignore[arg-type]
    assert [text async for text in stream] == ["w0", " w1", " w2", " w3"]
    assert stream.reply is not None and stream.reply.usage.output_tokens == 4


@pytest.mark.parametrize(("status", "kind"), [(429, "rate_limit_error"), (529, "overloaded_error")])
async def test_rate_limit_and_overload_are_retried_after_retry_after(
    anthropic_api: AnthropicStub, status: int, kind: str
) -> None:
    """429 and 529 with retry-after are retried after exactly that wait, then succeed."""
    sleeps = Sleeps()
    anthropic_api.push(error(status, kind, "slow down", retry_after="3"), Turn(text="done"))
    reply = await model(anthropic_api, sleeps).complete(ASK)  # type: ignore[arg-type]
    assert reply.text == "done" and sleeps.waits == [3.0] and len(anthropic_api.requests) == 2


async def test_server_errors_back_off_and_give_up(anthropic_api: AnthropicStub) -> None:
    """Three 500s with max_retries=2: backoff 0.5 then 1.0, then a retryable ModelError."""
    sleeps = Sleeps()
    anthropic_api.push(*[error(500, "api_error", "boom")] * 3)
    with pytest.raises(ModelError, match=r"500 \(server\).*gave up after 3 attempts") as caught:
        await model(anthropic_api, sleeps).complete(ASK)  # type: ignore[arg-type]
    assert caught.value.retryable and sleeps.waits == [0.5, 1.0]


@pytest.mark.parametrize(
    ("status", "kind", "cause"),
    [
        (400, "invalid_request_error", "bad_request"),
        (401, "authentication_error", "auth"),
        (403, "permission_error", "permission"),
    ],
)
async def test_terminal_errors_name_the_cause_without_the_key(
    anthropic_api: AnthropicStub, logs: Collect, status: int, kind: str, cause: str
) -> None:
    """400/401/403 are not retried; the error names the cause; the key is in no message or log."""
    sleeps = Sleeps()
    anthropic_api.push(error(status, kind, f"refused ({kind})"))
    with pytest.raises(ProviderError) as caught:
        await model(anthropic_api, sleeps).complete(ASK)  # type: ignore[arg-type]
    assert caught.value.kind == cause and not caught.value.retryable
    assert f"Anthropic API {status} ({cause})" in str(caught.value)
    assert sleeps.waits == [] and len(anthropic_api.requests) == 1
    assert anthropic_api.requests[0].headers["authorization"] == f"Bearer {KEY}"
    assert KEY not in str(caught.value) and KEY not in repr(caught.value)
    assert logs.records and all(KEY not in line for line in logs.lines)


async def test_a_stream_cut_mid_way_raises_a_retryable_error(anthropic_api: AnthropicStub) -> None:
    """A connection reset after some text deltas: the tokens came, then a clear retryable error."""
    anthropic_api.push(Turn(text="one two three four five", cut_after=5))
    stream = model(anthropic_api).stream(ASK)  # type: ignore[arg-type]
    seen: list[str] = []
    with pytest.raises(ModelError, match="stream was cut after 2 events") as caught:
        async for text in stream:
            seen.append(text)
    assert seen == ["one", " two"] and caught.value.retryable
    assert stream.reply is None and len(anthropic_api.requests) == 1
    # message_start had reported the prompt's tokens: billed, so the error carries them
    assert caught.value.usage == Usage(input_tokens=11, output_tokens=1)


async def test_a_stream_cut_before_any_token_is_retried(anthropic_api: AnthropicStub) -> None:
    """A cut before the first delta hands nothing out, so the stream is simply retried."""
    sleeps = Sleeps()
    anthropic_api.push(Turn(text="lost", cut_after=2), Turn(text="second try"))
    stream = model(anthropic_api, sleeps).stream(ASK)  # type: ignore[arg-type]
    assert "".join([text async for text in stream]) == "second try"
    assert len(anthropic_api.requests) == 2 and sleeps.waits == [0.5]


async def test_the_attempt_timeout_follows_the_deadline(anthropic_api: AnthropicStub) -> None:
    """With 8 s left, the SDK is given an 7.75 s timeout (8 minus the 0.25 s reserve)."""
    await model(anthropic_api).complete(ASK, remaining_seconds=lambda: 8.0)  # type: ignore[arg-type]
    assert anthropic_api.requests[0].headers["x-stainless-timeout"] == "7.75"


async def test_a_deadline_that_cannot_fit_the_retry_fails_fast(
    anthropic_api: AnthropicStub,
) -> None:
    """A 429 asking for 20 s with 6 s left: one request, no sleep, an error naming the deadline."""
    sleeps = Sleeps()
    anthropic_api.push(error(429, "rate_limit_error", "slow down", retry_after="20"))
    with pytest.raises(ProviderError, match="before the invocation's deadline") as caught:
        await model(anthropic_api, sleeps).complete(ASK, remaining_seconds=lambda: 6.0)  # type: ignore[arg-type]
    assert caught.value.kind == "deadline" and sleeps.waits == []
    assert len(anthropic_api.requests) == 1


async def test_one_client_per_event_loop_and_configuration(anthropic_api: AnthropicStub) -> None:
    """Models with the same key and base URL share one AsyncAnthropic client, retries off."""
    first = shared_client(KEY, anthropic_api.url)
    assert shared_client(KEY, anthropic_api.url) is first
    assert shared_client("other-key-000000", anthropic_api.url) is not first
    assert first.max_retries == 0


async def test_unknown_model_errors_are_not_json_dumped(anthropic_api: AnthropicStub) -> None:
    """A 404 from the API is terminal and keeps the server's message."""
    anthropic_api.push(error(404, "not_found_error", "model: claude-nope"))
    with pytest.raises(ProviderError, match="claude-nope") as caught:
        await model(anthropic_api).complete(ASK)  # type: ignore[arg-type]
    assert caught.value.kind == "not_found"
    assert json.dumps(caught.value.args)

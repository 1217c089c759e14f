"""The Bedrock provider: real boto3 ``bedrock-runtime`` against a local Converse stub."""

from __future__ import annotations

import pytest

from relaykit import ModelError, ToolCall
from relaykit.llm.bedrock import BedrockModel
from relaykit.llm.retry import ProviderError
from relaykit.model import Reply, TextDelta, ToolCallDelta, Usage, tool_result
from stubs.bedrock_api import BedrockStub, Turn, error
from stubs.recording import Sleeps, policy

ASK = [{"role": "user", "content": "hello"}]
MODELS = [
    "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
    "meta.llama3-1-70b-instruct-v1:0",
    "amazon.nova-pro-v1:0",
]


def model(
    stub: BedrockStub, model_id: str = MODELS[0], sleeps: Sleeps | None = None
) -> BedrockModel:
    return BedrockModel(
        model_id, region="us-east-1", endpoint_url=stub.url, retry=policy(sleeps or Sleeps())
    )


@pytest.mark.parametrize("model_id", MODELS)
async def test_converse_for_anthropic_meta_and_amazon_ids(
    bedrock_api: BedrockStub, model_id: str
) -> None:
    """Converse answers for each vendor's model id; the id travels in the URL, usage comes back."""
    bedrock_api.push(
        Turn(text="Hi", usage={"inputTokens": 12, "outputTokens": 2, "cacheReadInputTokens": 40})
    )
    reply = await model(bedrock_api, model_id).complete(
        ASK, system="Be brief.", max_tokens=50, temperature=0.1, top_p=0.9
    )  # type: ignore[arg-type]
    assert reply == Reply("Hi", model_id, "end_turn", (), Usage(12, 2, 40, 0))
    sent_id, body, headers = bedrock_api.requests[0]
    assert sent_id == model_id
    assert body["system"] == [{"text": "Be brief."}]
    assert body["inferenceConfig"] == {"maxTokens": 50, "temperature": 0.1, "topP": 0.9}
    assert headers["amz-sdk-request"] == "attempt=1; max=1"  # botocore's retries are off


async def test_tools_and_tool_results_translate_to_converse(bedrock_api: BedrockStub) -> None:
    """Tools become toolSpec entries; tool_use and tool_result blocks become toolUse/toolResult."""
    bedrock_api.push(Turn(text="", tool_calls=[("t1", "lookup", {"id": 7})]), Turn(text="Found."))
    lookup = {
        "name": "lookup",
        "description": "Find a record.",
        "input_schema": {"type": "object", "properties": {"id": {"type": "integer"}}},
    }
    llm = model(bedrock_api)
    first = await llm.complete(ASK, tools=[lookup], tool_choice={"type": "any"})  # type: ignore[arg-type]
    assert first.stop_reason == "tool_use"
    assert first.tool_calls == (ToolCall("t1", "lookup", {"id": 7}),)
    assert bedrock_api.requests[0][1]["toolConfig"] == {
        "tools": [
            {
                "toolSpec": {
                    "name": "lookup",
                    "description": "Find a record.",
                    "inputSchema": {"json": lookup["input_schema"]},
                }
            }
        ],
        "toolChoice": {"any": {}},
    }
    history = [
        *ASK,
        first.to_message(),
        {
            "role": "user",
            "content": [tool_result(first.tool_calls[0], {"name": "Ada"}, is_error=False)],
        },
    ]
    await llm.complete(history, tools=[lookup])  # type: ignore[arg-type]
    sent = bedrock_api.requests[1][1]["messages"]
    assert sent[1] == {
        "role": "assistant",
        "content": [{"toolUse": {"toolUseId": "t1", "name": "lookup", "input": {"id": 7}}}],
    }
    assert sent[2]["content"] == [
        {
            "toolResult": {
                "toolUseId": "t1",
                "content": [{"text": '{"name": "Ada"}'}],
                "status": "success",
            }
        }
    ]


async def test_converse_stream_decodes_event_stream_frames(bedrock_api: BedrockStub) -> None:
    """ConverseStream's binary frames become text and tool-call deltas, then the final reply."""
    bedrock_api.push(
        Turn(
            text="Checking now",
            tool_calls=[("t2", "lookup", {"id": 1})],
            usage={"inputTokens": 8, "outputTokens": 6},
        )
    )
    stream = model(bedrock_api, MODELS[2]).stream(ASK)  # type: ignore[arg-type]
    events = [event async for event in stream.events()]
    assert events[:2] == [TextDelta("Checking"), TextDelta(" now")]
    assert events[2] == ToolCallDelta(1, "t2", "lookup", "")
    assert "".join(e.input_json for e in events if isinstance(e, ToolCallDelta)) == '{"id": 1}'
    assert (
        events[-1]
        == stream.reply
        == Reply(
            "Checking now",
            MODELS[2],
            "tool_use",
            (ToolCall("t2", "lookup", {"id": 1}),),
            Usage(8, 6),
        )
    )


async def test_throttling_is_retried_and_access_denied_is_not(bedrock_api: BedrockStub) -> None:
    """ThrottlingException (429) is retried with backoff; AccessDeniedException fails at once."""
    sleeps = Sleeps()
    bedrock_api.push(error(429, "ThrottlingException", "Too many requests"), Turn(text="ok"))
    assert (await model(bedrock_api, sleeps=sleeps).complete(ASK)).text == "ok"  # type: ignore[arg-type]
    assert sleeps.waits == [0.5]
    bedrock_api.push(error(403, "AccessDeniedException", "not authorized"))
    with pytest.raises(
        ProviderError, match=r"AccessDeniedException .*bedrock:InvokeModel"
    ) as caught:
        await model(bedrock_api, sleeps=sleeps).complete(ASK)  # type: ignore[arg-type]
    assert caught.value.kind == "permission" and not caught.value.retryable
    assert sleeps.waits == [0.5] and len(bedrock_api.requests) == 3


async def test_an_exception_frame_mid_stream_is_a_retryable_cut(bedrock_api: BedrockStub) -> None:
    """A throttlingException frame after some text: the text came, then a retryable error."""
    bedrock_api.push(Turn(text="partial answer", stream_exception="throttlingException"))
    stream = model(bedrock_api).stream(ASK)  # type: ignore[arg-type]
    seen: list[str] = []
    with pytest.raises(ModelError, match=r"cut after 2 events.*throttlingException") as caught:
        async for text in stream:
            seen.append(text)
    assert seen == ["partial", " answer"] and caught.value.retryable


async def test_a_connection_cut_mid_stream_is_a_retryable_cut(bedrock_api: BedrockStub) -> None:
    """The connection reset after two frames of text: a retryable stream_cut ModelError."""
    bedrock_api.push(Turn(text="one two three", cut_after=3))
    stream = model(bedrock_api).stream(ASK)  # type: ignore[arg-type]
    with pytest.raises(ProviderError) as caught:
        [text async for text in stream]
    assert caught.value.kind == "stream_cut" and caught.value.retryable


async def test_region_and_model_come_from_settings(bedrock_api: BedrockStub) -> None:
    """An App with model=bedrock:ID and bedrock_region builds a BedrockModel with both."""
    from relaykit import App

    app = App(
        "b",
        settings={
            "model": f"bedrock:{MODELS[1]}",
            "bedrock_region": "eu-west-1",
            "store": "memory://",
        },
    )
    llm = app.model
    assert isinstance(llm, BedrockModel)
    assert (llm.model_id, llm.region, llm.name) == (MODELS[1], "eu-west-1", f"bedrock:{MODELS[1]}")

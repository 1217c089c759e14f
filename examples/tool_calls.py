"""Tools, tool results and streamed events on the scripted local model, fully offline.

The same code runs on Anthropic or Bedrock: only the ``model`` setting changes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from pydantic import Field

from relaykit import App, Context, ToolCall
from relaykit.llm.local import LocalModel
from relaykit.model import Message, Reply, TextDelta, ToolCallDelta, tool_result


# [docs:tool]
def get_weather(
    city: Annotated[str, Field(description="City name, e.g. Oslo")],
    unit: str = "celsius",
) -> dict[str, object]:
    """Current weather in a city."""
    return {"city": city, "temperature": 21, "unit": unit}


# [/docs:tool]

app = App(
    "tools",
    model=LocalModel(
        delay=0,
        script=[
            ToolCall(id="call_1", name="get_weather", input={"city": "Oslo"}),
            "It is 21 degrees in Oslo.",
            "Streaming works the same way.",
        ],
    ),
)


# [docs:loop]
@app.task("/weather")
async def weather(question: str, ctx: Context) -> str:
    """Ask; run the tools the model asks for; send their results back; return the answer."""
    messages: list[Message] = [{"role": "user", "content": question}]
    reply = await ctx.llm.complete(messages, system="Answer briefly.", tools=[get_weather])
    while reply.tool_calls:
        results = [tool_result(call, get_weather(**call.input)) for call in reply.tool_calls]
        messages += [reply.to_message(), {"role": "user", "content": results}]
        reply = await ctx.llm.complete(messages, tools=[get_weather])
    return reply.text


# [/docs:loop]


# [docs:events]
@app.stream("/events")
async def events(question: str, ctx: Context) -> AsyncIterator[dict[str, object]]:
    """Every stream event: text deltas, tool-call deltas, then the final reply."""
    stream = ctx.llm.stream([{"role": "user", "content": question}], tools=[get_weather])
    async for event in stream.events():
        if isinstance(event, TextDelta):
            yield {"text": event.text}
        elif isinstance(event, ToolCallDelta):
            yield {"tool": event.name, "input_json": event.input_json}
        elif isinstance(event, Reply):
            yield {"stop_reason": event.stop_reason, "output_tokens": event.usage.output_tokens}


# [/docs:events]

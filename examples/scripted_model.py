"""A scripted local model: play a fixed conversation, tool calls included, fully offline."""

from __future__ import annotations

from relaykit import App, Context, Reply, ToolCall

# [docs:scripted]
from relaykit.llm.local import LocalModel

model = LocalModel(
    delay=0,
    script=[
        Reply(
            text="",
            model="local",
            stop_reason="tool_use",
            tool_calls=(ToolCall(id="t1", name="search", input={"q": "lambda limits"}),),
        ),
        "Lambda functions run for at most 15 minutes.",
    ],
)
app = App("scripted", model=model)


@app.task("/research")
async def research(question: str, ctx: Context) -> dict[str, object]:
    """Ask once; if the model wants a tool, 'run' it and ask again."""
    first = await ctx.llm.complete([{"role": "user", "content": question}])
    calls = [call.name for call in first.tool_calls]
    second = await ctx.llm.complete([{"role": "user", "content": f"results for {calls}"}])
    return {"tools": calls, "answer": second.text}


# [/docs:scripted]

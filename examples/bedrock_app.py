"""An app on Amazon Bedrock (Converse): Anthropic, Meta or Amazon models by id.

Import-only offline: boto3 is imported by the first model call, not here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from relaykit import App, Context

# [docs:app]
app = App(
    "bedrock-demo",
    settings={
        "model": "bedrock:us.anthropic.claude-sonnet-4-5-20250929-v1:0",
        "bedrock_region": "us-east-1",
    },
)
# [/docs:app]


# [docs:stream]
@app.stream("/chat")
async def chat(question: str, ctx: Context) -> AsyncIterator[str]:
    """ConverseStream, token by token; Converse options pass through unchanged."""
    stream = ctx.llm.stream(
        [{"role": "user", "content": question}],
        system="Answer in one paragraph.",
        max_tokens=400,
        top_p=0.9,
        additionalModelRequestFields={"top_k": 50},
    )
    async for token in stream:
        yield token


# [/docs:stream]

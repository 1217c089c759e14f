"""relaykit.agents: a durable tool-calling agent loop on top of ``ctx.llm_step`` and ``ctx.step``.

::

    agent = Agent(system="You answer from the notes.", max_turns=8, token_budget=50_000)

    @agent.tool
    def search(query: str, limit: int = 3) -> list[str]:
        ...  # the docstring's first paragraph is the tool's description

    @app.workflow("/ask")
    async def ask(question: str, ctx: WorkflowContext) -> str:
        return (await agent.run(ctx, question)).text

Every model turn (``turn:N``) and every tool call (``tool:N:NAME``) is its own durable step; see
``relaykit.agents.loop``. Importing this package loads only the standard library and relaykit.
"""

from __future__ import annotations

from relaykit.agents.loop import (
    Agent,
    AgentError,
    AgentResult,
    TokenBudgetExceeded,
    TurnLimitExceeded,
    total_tokens,
)
from relaykit.agents.scripted import ScriptedAgentModel
from relaykit.agents.tools import AgentTool, ToolError, ToolInputError

__all__ = [
    "Agent",
    "AgentError",
    "AgentResult",
    "AgentTool",
    "ScriptedAgentModel",
    "TokenBudgetExceeded",
    "ToolError",
    "ToolInputError",
    "TurnLimitExceeded",
    "total_tokens",
]

"""The agent loop on the scripted local model: tools, tool errors, limits, replay."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest

from durable.harness import FakeClock, RecordingContinuation, drive
from relaykit import App, RegistrationError, ToolCall
from relaykit.agents import Agent, AgentResult, ScriptedAgentModel, ToolError
from relaykit.durable import Engine, RetryPolicy, Store, WorkflowContext
from relaykit.llm.local import ScriptItem
from test_import import heavy_in, modules_after


def make_engine(store: Store, clock: FakeClock, script: list[ScriptItem]) -> Engine:
    """An engine whose contexts come from an app with the scripted agent model as ``ctx.llm``."""
    app = App("agent-tests", model=ScriptedAgentModel(script), settings={"store": "memory://"})
    return Engine(
        store,
        RecordingContinuation(),
        clock=clock,
        context_factory=lambda run: app.new_context(None, request_id=run.run_id),
    )


def workflow(agent: Agent) -> Any:
    async def run_agent(question: str, ctx: WorkflowContext) -> AgentResult:
        return await agent.run(ctx, question)

    return run_agent


async def run(
    store: Store, clock: FakeClock, agent: Agent, script: list[ScriptItem], mode: str = "straight"
) -> tuple[Any, list[dict[str, Any]], int]:
    engine = make_engine(store, clock, script)
    run_id = await engine.start("agent", workflow(agent), "what about tides?")
    driven = await drive(engine, run_id, clock, mode=mode)
    return driven.outcome, (await engine.get(run_id)).steps, driven.invocations


def tool_results(result: dict[str, Any], turn: int) -> list[dict[str, Any]]:
    """The tool_result blocks sent back after ``turn`` (messages: prompt, then turn pairs)."""
    blocks: list[dict[str, Any]] = result["messages"][2 * turn]["content"]
    return blocks


async def test_tool_calls_then_a_final_answer(store: Store, clock: FakeClock, mode: str) -> None:
    """Sync and async tools, two calls in one turn, validated (coerced) input: every turn and
    every tool call is a step named turn:N / tool:N:NAME, and each tool ran exactly once even
    when the run is replayed after every step."""
    ran: Counter[str] = Counter()
    agent = Agent(system="Be brief.", max_turns=5)

    @agent.tool
    def search(query: str, limit: int = 2) -> list[str]:
        """Search the notes."""
        ran[f"search:{query}"] += 1
        return [f"{query} {n}" for n in range(1, limit + 1)]

    @agent.tool
    async def lookup(id: int) -> dict[str, Any]:
        """A note by id."""
        await asyncio.sleep(0)
        ran[f"lookup:{id}"] += 1
        return {"id": id, "text": "the moon pulls"}

    script: list[ScriptItem] = [
        ToolCall("c1", "search", {"query": "tides"}),
        [ToolCall("c2", "lookup", {"id": "2"}), ToolCall("c3", "search", {"query": "moon"})],
        "Tides follow the moon.",
    ]
    outcome, steps, invocations = await run(store, clock, agent, script, mode)
    assert outcome.status == "completed", outcome.error
    result = outcome.result
    assert (result["text"], result["turns"], result["tool_calls"]) == (
        "Tides follow the moon.",
        3,
        3,
    )
    assert result["stop_reason"] == "end_turn"
    assert [s["name"] for s in steps] == [
        "turn:1",
        "tool:1:search",
        "turn:2",
        "tool:2:lookup",
        "tool:2:search",
        "turn:3",
    ]
    assert ran == {"search:tides": 1, "lookup:2": 1, "search:moon": 1}
    assert tool_results(result, 1) == [
        {"type": "tool_result", "tool_use_id": "c1", "content": '["tides 1","tides 2"]'}
    ]
    assert [b["content"] for b in tool_results(result, 2)] == [
        '{"id":2,"text":"the moon pulls"}',
        '["moon 1","moon 2"]',
    ]
    assert result["usage"]["output_tokens"] > 0
    if mode == "replay":
        assert invocations >= len(steps)


async def test_tool_errors_go_back_to_the_model(store: Store, clock: FakeClock, mode: str) -> None:
    """Invalid input, an exception, an unknown tool and a ToolError each become an is_error
    tool result (the same text on replay); the model then answers and the run completes."""
    agent = Agent()

    @agent.tool
    def search(query: str, limit: int = 2) -> list[str]:
        """Search."""
        return [query] * limit

    @agent.tool
    def explode() -> str:
        """Always fails."""
        raise RuntimeError("boom")

    @agent.tool
    async def fetch(url: str) -> str:
        """Read a page."""
        raise ToolError(f"no page at {url}")

    script: list[ScriptItem] = [
        [
            ToolCall("c1", "search", {"limit": "many"}),
            ToolCall("c2", "explode", {}),
            ToolCall("c3", "nosuch", {}),
            ToolCall("c4", "fetch", {"url": "x://y"}),
        ],
        "Sorry, the tools failed.",
    ]
    outcome, steps, _ = await run(store, clock, agent, script, mode)
    assert outcome.status == "completed", outcome.error
    assert outcome.result["text"] == "Sorry, the tools failed."
    results = tool_results(outcome.result, 1)
    assert all(block["is_error"] is True for block in results)
    assert [block["content"] for block in results] == [
        "invalid input for tool 'search': query: Field required; limit: Input should be a "
        "valid integer, unable to parse string as an integer",
        "RuntimeError: boom",
        "there is no tool named 'nosuch'; the tools are: explode, fetch, search",
        "no page at x://y",
    ]
    assert [(s["name"], s["status"], s["attempts"]) for s in steps[1:5]] == [
        ("tool:1:search", "failed", 1),
        ("tool:1:explode", "failed", 1),
        ("tool:1:nosuch", "failed", 1),
        ("tool:1:fetch", "failed", 1),
    ]


async def test_a_tool_retry_policy_retries_before_reporting(store: Store, clock: FakeClock) -> None:
    """A tool declared with a retry policy is retried by its step; only success reaches the
    model when a later attempt works."""
    attempts: list[int] = []
    agent = Agent()

    @agent.tool(retry=RetryPolicy(max_attempts=3, initial_delay=0.0))
    def flaky() -> str:
        """Works on the third try."""
        attempts.append(1)
        if len(attempts) < 3:
            raise ConnectionError("try again")
        return "ok"

    script: list[ScriptItem] = [ToolCall("c1", "flaky", {}), "done"]
    outcome, steps, _ = await run(store, clock, agent, script)
    assert outcome.status == "completed"
    assert tool_results(outcome.result, 1)[0]["content"] == "ok"
    assert steps[1]["attempts"] == 3 and len(attempts) == 3


async def test_turn_limit_is_a_clear_terminal_error(store: Store, clock: FakeClock) -> None:
    """A model that keeps asking for tools fails the run at max_turns with TurnLimitExceeded;
    the tools of the last turn are not run."""
    ran: list[int] = []
    agent = Agent(max_turns=2)

    @agent.tool
    def step(n: int) -> int:
        """One more step."""
        ran.append(n)
        return n

    script: list[ScriptItem] = [ToolCall(f"c{n}", "step", {"n": n}) for n in range(1, 6)]
    outcome, steps, _ = await run(store, clock, agent, script)
    assert outcome.status == "failed"
    assert outcome.error is not None
    assert outcome.error["type"] == "relaykit.agents.loop.TurnLimitExceeded"
    assert "turn limit (2 turns)" in outcome.error["message"]
    assert "raise max_turns=" in outcome.error["message"]
    assert ran == [1]
    assert [s["name"] for s in steps] == ["turn:1", "tool:1:step", "turn:2"]


async def test_token_budget_stops_a_loop_that_asks_for_more(store: Store, clock: FakeClock) -> None:
    """When the tokens used reach token_budget and the model asks for tools, the run fails
    with TokenBudgetExceeded before the tools run; a final answer over budget is returned."""
    ran: list[str] = []
    agent = Agent(token_budget=5)

    @agent.tool
    def search(query: str) -> str:
        """Search."""
        ran.append(query)
        return query

    long_call: list[ScriptItem] = [ToolCall("c1", "search", {"query": "a b c d e f"})]
    outcome, _, _ = await run(store, clock, agent, long_call)
    assert outcome.status == "failed" and outcome.error is not None
    assert outcome.error["type"] == "relaykit.agents.loop.TokenBudgetExceeded"
    assert "token budget of 5" in outcome.error["message"]
    assert ran == []

    final: list[ScriptItem] = ["one two three four five six seven"]
    answered, _, _ = await run(store, clock, agent, final)
    assert answered.status == "completed"
    assert answered.result["usage"]["output_tokens"] == 7


async def test_tools_receive_the_workflow_context_and_keep_it_out_of_the_schema(
    store: Store, clock: FakeClock
) -> None:
    """A ``ctx`` parameter gets the workflow context (``ctx.step_id`` is the tool step's
    idempotency key) and is not part of the schema the model sees."""
    agent = Agent()

    @agent.tool(name="key", description="The idempotency key of this call.")
    def idempotency_key(label: str, ctx: WorkflowContext) -> str:
        return f"{label}={ctx.step_id}"

    spec = agent.tools["key"].spec
    assert spec.description == "The idempotency key of this call."
    assert list(spec.input_schema["properties"]) == ["label"]
    script: list[ScriptItem] = [ToolCall("c1", "key", {"label": "k"}), "done"]
    outcome, _, _ = await run(store, clock, agent, script)
    content = tool_results(outcome.result, 1)[0]["content"]
    assert content.startswith("k=") and content.endswith(":1")  # RUN_ID:POSITION


def test_tool_registration_returns_the_function_and_refuses_duplicates() -> None:
    """``@agent.tool`` returns the function unchanged; two tools may not share a name."""
    agent = Agent()

    def search(query: str) -> str:
        """Search."""
        return query

    assert agent.tool(search) is search
    with pytest.raises(RegistrationError, match="already has a tool named 'search'"):
        agent.add_tool(search)
    with pytest.raises(RegistrationError, match="max_turns"):
        Agent(max_turns=0)


def test_importing_relaykit_agents_stays_light() -> None:
    """``import relaykit.agents`` and declaring tools load no pydantic, FastAPI or SDK."""
    code = """
from relaykit.agents import Agent
agent = Agent(max_turns=3)
@agent.tool
def search(query: str) -> str:
    return query
"""
    assert heavy_in(modules_after(code)) == []

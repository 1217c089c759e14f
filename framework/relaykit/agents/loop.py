"""``Agent``: a tool-calling loop in which every model turn and every tool call is a durable step.

Turn ``n`` is ``ctx.llm_step("turn:n", ...)``; each tool call it asks for is
``ctx.step("tool:n:NAME", ...)``, run in the order the model listed them. Step names and
positions depend only on the committed replies, so a replay walks the same path and a run that
was suspended (deadline), killed or moved to another invocation resumes at the first step that
has no committed result: no committed model turn or tool call runs again. The engine's
deadline check runs before every step, so a long agent spans as many invocations as it needs.

Limits end the run with a clear error: ``TurnLimitExceeded`` when the model still asks for tools
on turn ``max_turns`` (its tools are not run), ``TokenBudgetExceeded`` when the tokens used so
far (input, output and cache, summed over turns) reach ``token_budget`` and the model asks for
another turn. A final answer is always returned, even when its turn crossed the budget.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast, overload

from relaykit.agents.tools import AgentTool, ToolError, ToolInputError
from relaykit.durable.context import WorkflowContext
from relaykit.durable.retry import NO_RETRY
from relaykit.errors import RegistrationError, RelaykitError, StepFailed
from relaykit.model import Message, Model, ToolCall, Usage, tool_result
from relaykit.redact import redact

F = TypeVar("F", bound=Callable[..., Any])
_TOOL_ERRORS = {f"{cls.__module__}.{cls.__qualname__}" for cls in (ToolError, ToolInputError)}


class AgentError(RelaykitError):
    """Base of the errors that stop an agent loop."""


class TurnLimitExceeded(AgentError):
    """The model still asked for tools on the last turn ``max_turns`` allows."""

    def __init__(self, max_turns: int, tools: Sequence[str]) -> None:
        self.max_turns = max_turns
        super().__init__(
            f"the agent reached its turn limit ({max_turns} turns) and the model still asked "
            f"for tools ({', '.join(tools)}); raise max_turns= or make the task smaller"
        )


class TokenBudgetExceeded(AgentError):
    """The tokens used so far reached ``token_budget`` before the model gave a final answer."""

    def __init__(self, used: int, budget: int, turns: int) -> None:
        self.used = used
        self.budget = budget
        super().__init__(
            f"the agent used {used} tokens in {turns} turns, reaching its token budget of "
            f"{budget}, and the model asked for another turn; raise token_budget= or shorten "
            "the conversation (tool results are resent on every turn)"
        )


def total_tokens(usage: Usage) -> int:
    """What counts against ``token_budget``: input, output and cache tokens."""
    return (
        usage.input_tokens
        + usage.output_tokens
        + usage.cache_read_tokens
        + usage.cache_write_tokens
    )


@dataclass(frozen=True)
class AgentResult:
    """The final answer and how the agent got there."""

    text: str
    messages: list[dict[str, Any]]
    """The transcript (``Message`` dicts): the prompt, every assistant turn and every batch of
    tool results; append to it to continue the conversation."""
    turns: int
    tool_calls: int
    usage: Usage
    stop_reason: str


class Agent:
    """A model with tools, run as durable steps by ``await agent.run(ctx, prompt)``.

    ``model`` defaults to ``ctx.llm``; ``system``, ``max_tokens``, ``temperature`` and
    ``options`` go to every turn; ``stream`` forwards each turn's tokens to the run's progress
    stream. The agent holds configuration only: one instance serves any number of runs.
    """

    def __init__(
        self,
        *,
        system: str | None = None,
        tools: Sequence[Callable[..., Any] | AgentTool] = (),
        model: Model | None = None,
        max_turns: int = 10,
        token_budget: int | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        stream: bool = True,
        **options: Any,
    ) -> None:
        if max_turns < 1:
            raise RegistrationError("Agent(max_turns=...) must be 1 or more")
        self.system = system
        self.model = model
        self.max_turns = max_turns
        self.token_budget = token_budget
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.stream = stream
        self.options = options
        self.tools: dict[str, AgentTool] = {}
        for entry in tools:
            self.add_tool(entry)

    def add_tool(self, fn: Callable[..., Any] | AgentTool, **settings: Any) -> AgentTool:
        """Offer ``fn`` to the model (``settings``: see ``AgentTool``); names must be unique."""
        made = fn if isinstance(fn, AgentTool) else AgentTool(fn, **settings)
        if made.name in self.tools:
            raise RegistrationError(f"the agent already has a tool named {made.name!r}")
        self.tools[made.name] = made
        return made

    @overload
    def tool(self, fn: F, /) -> F: ...

    @overload
    def tool(self, /, **settings: Any) -> Callable[[F], F]: ...

    def tool(self, fn: Any = None, /, **settings: Any) -> Any:
        """Decorator form of ``add_tool`` (``@agent.tool`` or ``@agent.tool(retry=...)``);
        returns the function unchanged."""

        def register(target: F) -> F:
            self.add_tool(target, **settings)
            return target

        return register(fn) if fn is not None else register

    async def run(
        self, ctx: WorkflowContext, prompt: str | Sequence[Mapping[str, Any]]
    ) -> AgentResult:
        """Run the loop to a final answer; see the module docstring for steps and limits.

        ``prompt`` is the user's text, or messages (an earlier ``AgentResult.messages`` plus a
        new user message continues a conversation).
        """
        messages: list[Message] = (
            [{"role": "user", "content": prompt}]
            if isinstance(prompt, str)
            else [cast(Message, dict(m)) for m in prompt]
        )
        specs = [t.spec for t in self.tools.values()] or None
        used, calls = Usage(), 0
        for turn in range(1, self.max_turns + 1):
            reply = await ctx.llm_step(
                f"turn:{turn}",
                messages,
                system=self.system,
                tools=specs,
                max_tokens=self.max_tokens,
                temperature=self.temperature,
                model=self.model,
                stream=self.stream,
                **self.options,
            )
            used = used + reply.usage
            messages.append(reply.to_message())
            if not reply.tool_calls:
                transcript = [dict(m) for m in messages]
                return AgentResult(reply.text, transcript, turn, calls, used, reply.stop_reason)
            if turn == self.max_turns:
                raise TurnLimitExceeded(self.max_turns, [c.name for c in reply.tool_calls])
            if self.token_budget is not None and total_tokens(used) >= self.token_budget:
                raise TokenBudgetExceeded(total_tokens(used), self.token_budget, turn)
            results = [await self._call(ctx, turn, call) for call in reply.tool_calls]
            calls += len(results)
            messages.append({"role": "user", "content": results})
        raise AssertionError("unreachable: the last turn returns or raises")

    async def _call(self, ctx: WorkflowContext, turn: int, call: ToolCall) -> dict[str, Any]:
        """One tool call as the step ``tool:TURN:NAME``; any failure is an ``is_error`` result."""
        found = self.tools.get(call.name)
        try:
            content: str = await ctx.step(
                f"tool:{turn}:{call.name}",
                self._invoke,
                call.name,
                call.input,
                ctx,
                retry=found.retry if found else NO_RETRY,
                estimate=found.estimate if found else None,
                type=str,
            )
        except StepFailed as failure:
            return tool_result(call, _error_text(failure), is_error=True)
        return tool_result(call, content)

    async def _invoke(self, name: str, input: Mapping[str, Any], ctx: WorkflowContext) -> str:
        found = self.tools.get(name)
        if found is None:
            known = ", ".join(sorted(self.tools)) or "none"
            raise ToolInputError(f"there is no tool named {name!r}; the tools are: {known}")
        return await found.invoke(input, ctx)


def _error_text(failure: StepFailed) -> str:
    """What the model reads about a failed tool call (the same on first run and on replay)."""
    if failure.error_type in _TOOL_ERRORS:
        return redact(failure.error_message)
    kind = failure.error_type.rsplit(".", 1)[-1]
    return redact(f"{kind}: {failure.error_message}")

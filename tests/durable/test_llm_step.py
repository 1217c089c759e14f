"""``ctx.llm_step``: a model call as a durable step, its tokens in the run's progress stream."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from durable.harness import FakeClock, RecordingContinuation, drive
from relaykit import App, ModelError, Reply
from relaykit.context import Context
from relaykit.durable import Engine, RetryPolicy, Store, WorkflowContext, open_store
from relaykit.durable.llm_step import TokenBatcher
from relaykit.durable.store import RunRecord, StepRecord
from relaykit.llm.local import LocalModel, LocalReplyStream
from relaykit.llm.streams import ModelStream
from relaykit.model import Message, StreamEvent, TextDelta, ToolSpec, Usage

LONG = " ".join(f"w{i}" for i in range(40))


class CountingLocalModel(LocalModel):
    """A scripted ``LocalModel`` that counts the calls it serves."""

    calls = 0

    async def complete(self, messages: Sequence[Message], **kwargs: Any) -> Reply:
        self.calls += 1
        return await super().complete(messages, **kwargs)

    def stream(self, messages: Sequence[Message], **kwargs: Any) -> LocalReplyStream:
        self.calls += 1
        return super().stream(messages, **kwargs)


def app_contexts(model: Any, **settings: Any) -> Callable[[RunRecord], Context]:
    """Contexts built the production way: ``ctx.llm`` is the app's model, bound and metered."""
    app = App("llm-step-tests", model=model, settings={"store": "memory://", **settings})
    return lambda run: app.new_context(None, request_id=run.run_id)


def make_engine(store: Store, clock: FakeClock, model: Any, **settings: Any) -> Engine:
    return Engine(
        store,
        RecordingContinuation(),
        clock=clock,
        lease_seconds=30.0,
        context_factory=app_contexts(model, **settings),
    )


async def three_calls(ctx: WorkflowContext) -> list[str]:
    replies = [
        await ctx.llm_step(name, [{"role": "user", "content": f"say {name}"}])
        for name in ("a", "b", "c")
    ]
    return [f"{type(reply).__name__}:{reply.text}" for reply in replies]


async def test_replay_returns_the_stored_reply_without_calling_the_model(
    store: Store, clock: FakeClock, mode: str
) -> None:
    """Three llm steps, replayed (in ``replay`` mode after every step): each reply comes back
    as a ``Reply`` and the model is called exactly three times in all."""
    model = CountingLocalModel(delay=0, script=["alpha beta", "gamma", "delta epsilon zeta"])
    engine = make_engine(store, clock, model)
    run_id = await engine.start("three", three_calls)
    driven = await drive(engine, run_id, clock, mode=mode)
    assert driven.outcome.status == "completed"
    assert driven.outcome.result == ["Reply:alpha beta", "Reply:gamma", "Reply:delta epsilon zeta"]
    assert model.calls == 3
    if mode == "replay":
        assert driven.invocations >= 3


async def test_usage_and_cost_per_step_reach_the_run_record(store: Store, clock: FakeClock) -> None:
    """Each llm step records its tokens and cost (from the price table); the run view lists
    them per step and sums them."""
    prices = {"local": {"input": 1_000_000, "output": 2_000_000}}  # $1 / $2 per token
    model = LocalModel(delay=0, script=["one two", "three four five"])

    async def two(ctx: WorkflowContext) -> None:
        await ctx.llm_step("first", [{"role": "user", "content": "x y z"}])
        await ctx.step("plain", lambda: 1)
        await ctx.llm_step("second", [{"role": "user", "content": "q"}])

    engine = make_engine(store, clock, model, price_table=prices)
    run_id = await engine.start("two", two)
    assert (await drive(engine, run_id, clock)).outcome.status == "completed"
    view = (await engine.get(run_id)).to_dict()
    usage = {step["name"]: step.get("usage") for step in view["steps"]}
    assert usage["plain"] is None
    assert usage["first"] == {
        "model": "local",
        "input_tokens": 3,
        "output_tokens": 2,
        "cache_read_tokens": 0,
        "cache_write_tokens": 0,
        "cost_usd": 7.0,
        "calls": 1,
        "failed_calls": 0,
    }
    assert usage["second"]["output_tokens"] == 3 and usage["second"]["cost_usd"] == 7.0
    assert view["usage"] == {
        "input_tokens": 4,
        "output_tokens": 5,
        "cache_read_tokens": 0,
        "cache_write_tokens": 0,
        "cost_usd": 14.0,
        "model_steps": 2,
        "model_calls": 2,
        "failed_calls": 0,
    }


def tokens_of(entries: Sequence[Any]) -> list[dict[str, Any]]:
    return [json.loads(e.data) for e in entries if e.kind == "token"]


async def test_tokens_reach_the_progress_stream_in_batches_and_in_order(
    store: Store, clock: FakeClock
) -> None:
    """40 words with ``flush_tokens=8``: five ``token`` entries of eight words, in order, all
    before the step's commit; replaying the finished run adds none."""
    model = LocalModel(delay=0, script=[LONG])

    async def one(ctx: WorkflowContext) -> str:
        reply = await ctx.llm_step("speak", [{"role": "user", "content": "go"}], flush_tokens=8)
        return reply.text

    engine = make_engine(store, clock, model)
    run_id = await engine.start("one", one)
    assert (await drive(engine, run_id, clock)).outcome.result == LONG
    entries = await engine.progress(run_id)
    assert [e.id for e in entries] == list(range(1, len(entries) + 1))
    kinds = [e.kind for e in entries]
    assert kinds == ["created", "invocation", *["token"] * 5, "step", "completed"]
    tokens = tokens_of(entries)
    assert all(t["step_id"] == "0" and t["name"] == "speak" and t["attempt"] == 1 for t in tokens)
    assert [len(t["text"].split()) for t in tokens] == [8] * 5
    assert "".join(t["text"] for t in tokens) == LONG


async def test_last_event_id_resumes_tokens_across_invocations_without_gap_or_duplicate(
    store: Store, clock: FakeClock
) -> None:
    """Two streamed steps in separate invocations (replay mode): a reader that stops after
    any progress id and reconnects from it reads every entry exactly once, and the tokens of
    each step join to its reply."""
    model = LocalModel(delay=0, script=[LONG, "short answer here"])

    async def two(ctx: WorkflowContext) -> list[str]:
        first = await ctx.llm_step("one", [{"role": "user", "content": "a"}], flush_tokens=6)
        second = await ctx.llm_step("two", [{"role": "user", "content": "b"}], flush_tokens=2)
        return [first.text, second.text]

    engine = make_engine(store, clock, model)
    run_id = await engine.start("two", two)
    driven = await drive(engine, run_id, clock, mode="replay")
    assert driven.outcome.status == "completed" and driven.invocations >= 2
    everything = await engine.progress(run_id)
    assert [e.id for e in everything] == list(range(1, len(everything) + 1))
    for cut in range(len(everything) + 1):
        head = await engine.progress(run_id, limit=cut) if cut else []
        after = head[-1].id if head else 0
        tail = await engine.progress(run_id, after_id=after)
        assert [e.id for e in head + tail] == [e.id for e in everything]
    by_step: dict[str, str] = {}
    for token in tokens_of(everything):
        by_step[token["name"]] = by_step.get(token["name"], "") + token["text"]
    assert by_step == {"one": LONG, "two": "short answer here"}
    assert "suspended" in [e.kind for e in everything]  # the steps ran in two invocations


class CutOnceModel:
    """Streams two words and then fails (retryable) on its first call; succeeds after."""

    name = "cut-once"

    def __init__(self, billed: Usage | None = None) -> None:
        self.calls = 0
        self.billed = billed  # what the provider reported before the cut

    async def complete(self, messages: Sequence[Message], **kwargs: Any) -> Reply:
        raise AssertionError("llm_step streams by default")

    def stream(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolSpec] | None = None,
        system: str | Sequence[Mapping[str, Any]] | None = None,
        **kwargs: Any,
    ) -> ModelStream:
        self.calls += 1
        return ModelStream(self._events(self.calls))

    async def _events(self, call: int) -> AsyncIterator[StreamEvent]:
        yield TextDelta("Hello")
        yield TextDelta(" there")
        if call == 1:
            raise ModelError("the stream was cut", retryable=True, usage=self.billed)
        yield TextDelta(" friend")
        yield Reply(text="Hello there friend", model=self.name, usage=Usage(10, 3))


async def test_a_retried_stream_starts_its_tokens_over_under_the_next_attempt(
    store: Store, clock: FakeClock
) -> None:
    """A stream cut mid-way is retried by the step's policy; the tokens of each attempt carry
    its number, and only the complete reply is committed."""
    model = CutOnceModel()

    async def one(ctx: WorkflowContext) -> str:
        retry = RetryPolicy(max_attempts=2, initial_delay=0.0)
        messages: list[Message] = [{"role": "user", "content": "hi"}]
        reply = await ctx.llm_step("greet", messages, retry=retry, flush_tokens=1)
        return reply.text

    engine = make_engine(store, clock, model)
    run_id = await engine.start("one", one)
    assert (await drive(engine, run_id, clock)).outcome.result == "Hello there friend"
    tokens = tokens_of(await engine.progress(run_id))
    assert [(t["attempt"], t["text"]) for t in tokens] == [
        (1, "Hello"),
        (1, " there"),
        (2, "Hello"),
        (2, " there"),
        (2, " friend"),
    ]
    steps = (await engine.get(run_id)).steps
    assert [(s["name"], s["status"], s["attempts"]) for s in steps] == [("greet", "completed", 2)]


@pytest.mark.parametrize("delay", [0.0, 600.0], ids=["inline-retry", "retry-next-invocation"])
async def test_failed_attempts_are_counted_and_priced_in_the_run_record(
    store: Store, clock: FakeClock, delay: float
) -> None:
    """A stream cut after the provider reported 10 input and 1 output tokens, then a good
    attempt: the step's usage adds both attempts (tokens, cost, ``calls`` 2, ``failed_calls``
    1), whether the retry ran in the same invocation or after a suspension, and the run's
    total counts the failed call."""
    model = CutOnceModel(billed=Usage(10, 1))
    prices = {"cut-once": {"input": 1_000_000, "output": 2_000_000}}  # $1 / $2 per token

    async def one(ctx: WorkflowContext) -> str:
        retry = RetryPolicy(max_attempts=2, initial_delay=delay, jitter=0.0)
        reply = await ctx.llm_step("greet", [{"role": "user", "content": "hi"}], retry=retry)
        return reply.text

    engine = make_engine(store, clock, model, price_table=prices)
    run_id = await engine.start("one", one)
    driven = await drive(engine, run_id, clock)
    assert driven.outcome.result == "Hello there friend"
    assert driven.invocations == (1 if delay == 0.0 else 2)
    view = (await engine.get(run_id)).to_dict()
    (step,) = view["steps"]
    assert step["usage"] == {
        "model": "cut-once",
        "input_tokens": 20,
        "output_tokens": 4,
        "cache_read_tokens": 0,
        "cache_write_tokens": 0,
        "cost_usd": 12.0 + 16.0,
        "calls": 2,
        "failed_calls": 1,
    }
    assert view["usage"]["model_calls"] == 2 and view["usage"]["failed_calls"] == 1
    assert view["usage"]["cost_usd"] == 28.0


async def test_a_step_that_fails_for_good_keeps_the_usage_of_its_attempts(
    store: Store, clock: FakeClock
) -> None:
    """A model that fails every attempt: the failed step still records what each attempt
    consumed, so the run record shows the cost of a failure."""

    class AlwaysCut(CutOnceModel):
        async def _events(self, call: int) -> AsyncIterator[StreamEvent]:
            yield TextDelta("Hi")
            raise ModelError("cut again", retryable=True, usage=self.billed)

    model = AlwaysCut(billed=Usage(7, 1))

    async def one(ctx: WorkflowContext) -> str:
        retry = RetryPolicy(max_attempts=3, initial_delay=0.0)
        reply = await ctx.llm_step("greet", [{"role": "user", "content": "hi"}], retry=retry)
        return reply.text

    engine = make_engine(store, clock, model)
    run_id = await engine.start("one", one)
    assert (await drive(engine, run_id, clock)).outcome.status == "failed"
    (step,) = (await engine.get(run_id)).to_dict()["steps"]
    assert step["status"] == "failed" and step["attempts"] == 3
    usage = step["usage"]
    assert (usage["input_tokens"], usage["output_tokens"]) == (21, 3)
    assert (usage["calls"], usage["failed_calls"], usage["cost_usd"]) == (3, 3, None)


async def test_usage_of_a_failed_attempt_survives_a_split_for_lack_of_time(
    store: Store, clock: FakeClock
) -> None:
    """Attempt 1 is cut after using tokens (late in the invocation); the retry's call is
    refused unsent (``out_of_time``), so the run splits without counting an attempt; the next
    invocation succeeds. The step's usage keeps the cut attempt's tokens and no refused call."""

    class LateModel(CutOnceModel):
        async def _events(self, call: int) -> AsyncIterator[StreamEvent]:
            if call == 1:
                clock.advance(8.0)  # the first attempt takes most of the invocation
                yield TextDelta("Hel")
                raise ModelError("cut", retryable=True, usage=Usage(10, 1))
            if call == 2:
                raise ModelError("not started", retryable=True, out_of_time=True)
            yield TextDelta("Hello")
            yield Reply(text="Hello", model=self.name, usage=Usage(10, 2))

    model = LateModel()

    async def one(ctx: WorkflowContext) -> str:
        retry = RetryPolicy(max_attempts=3, initial_delay=0.0)
        reply = await ctx.llm_step("greet", [{"role": "user", "content": "hi"}], retry=retry)
        return reply.text

    engine = make_engine(store, clock, model)
    run_id = await engine.start("one", one)
    driven = await drive(engine, run_id, clock, budget=10.0)
    assert driven.outcome.result == "Hello" and driven.invocations == 2
    (step,) = (await engine.get(run_id)).to_dict()["steps"]
    assert step["attempts"] == 2  # the cut one and the good one; the refusal is not an attempt
    usage = step["usage"]
    assert (usage["input_tokens"], usage["output_tokens"]) == (20, 3)
    assert (usage["calls"], usage["failed_calls"]) == (2, 1)


async def test_complete_mode_and_a_model_given_per_call(store: Store, clock: FakeClock) -> None:
    """``stream=False`` calls ``complete`` and writes no tokens; ``model=`` overrides
    ``ctx.llm`` for one step and is metered like it (its usage is recorded)."""
    default = CountingLocalModel(delay=0, script=["from ctx.llm"])
    other = CountingLocalModel(delay=0, script=["from the other model"])

    async def two(ctx: WorkflowContext) -> list[str]:
        messages: list[Message] = [{"role": "user", "content": "hi"}]
        first = await ctx.llm_step("default", messages, stream=False)
        second = await ctx.llm_step("other", messages, model=other)
        return [first.text, second.text]

    engine = make_engine(store, clock, default)
    run_id = await engine.start("two", two)
    assert (await drive(engine, run_id, clock)).outcome.result == [
        "from ctx.llm",
        "from the other model",
    ]
    assert (default.calls, other.calls) == (1, 1)
    entries = await engine.progress(run_id)
    assert [t["name"] for t in tokens_of(entries)] == ["other"]
    steps = (await engine.get(run_id)).steps
    assert [s["usage"]["cost_usd"] for s in steps] == [0.0, 0.0]  # both priced: both bound


class FakeExecution:
    """What ``TokenBatcher`` needs of an execution: a clock and ``append_progress``."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.appended: list[dict[str, Any]] = []

    async def append_progress(self, kind: str, data: dict[str, Any]) -> int:
        self.appended.append(data)
        return len(self.appended)


async def test_token_batches_flush_by_count_and_by_age(clock: FakeClock) -> None:
    """A batch is written when ``flush_tokens`` deltas wait, or when the oldest waiting delta
    is ``flush_seconds`` old as the next one arrives, and by ``flush()`` at the end."""
    execution = FakeExecution(clock)
    batcher = TokenBatcher(execution, {"step_id": "0"}, flush_tokens=3, flush_seconds=1.0)  # type: ignore[arg-type]
    for piece in ("a", "b", "c", "d"):
        await batcher.add(piece)
    assert [d["text"] for d in execution.appended] == ["abc"]
    clock.advance(1.5)
    await batcher.add("e")  # "d" has waited 1.5 s
    assert [d["text"] for d in execution.appended] == ["abc", "de"]
    await batcher.add("f")
    await batcher.flush()
    await batcher.flush()  # nothing waiting: no write
    assert [d["text"] for d in execution.appended] == ["abc", "de", "f"]
    assert all(d["step_id"] == "0" for d in execution.appended)


def test_a_sqlite_file_from_before_step_usage_gains_the_column(tmp_path: Path) -> None:
    """Opening a database whose steps table predates the ``usage`` column adds it."""
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TABLE steps (run_id TEXT NOT NULL, step_id TEXT NOT NULL, name TEXT NOT NULL, "
        "status TEXT NOT NULL, value TEXT, error TEXT, attempts INTEGER NOT NULL, "
        "started_at REAL NOT NULL, duration REAL, wake_at REAL, commit_seq INTEGER NOT NULL, "
        "PRIMARY KEY (run_id, step_id)) WITHOUT ROWID"
    )
    db.close()
    store = open_store(f"sqlite:///{path}")
    store.create_run("r1", "wf", "null", now=1.0)
    lease = store.acquire("r1", "a", now=1.0, lease_seconds=30).lease
    assert lease is not None
    step = StepRecord("0", "s", "completed", value="1", usage='{"input_tokens":1}')
    store.commit_step(lease, step, now=1.0, lease_seconds=30)
    loaded = store.load("r1")
    assert loaded is not None and loaded[1][0].usage == '{"input_tokens":1}'
    store.close()

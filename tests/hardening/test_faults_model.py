"""Fault suite, model provider: durable ``llm_step`` workflows on the real ``anthropic`` SDK
against the Messages API stub while it answers 429, 529, 500 and 503 and cuts SSE streams
mid-reply, in random storms.

Counted, never timed: every run completes with the result of a calm run; the run record's usage
counts every call the stub served (``model_calls``) and every failed one (``failed_calls``);
each step's attempts match its calls; the text a client rebuilds from the progress stream (the
last attempt's tokens) is the committed reply. The in-suite size is bounded (``FAULT_RUNS`` //
10 runs per variant, at least 8).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from durable.harness import FakeClock, RecordingContinuation, drive
from hardening.conftest import report
from relaykit import App
from relaykit.context import Context
from relaykit.durable import Engine, RetryPolicy, WorkflowContext, open_store
from relaykit.durable.store import RunRecord
from relaykit.llm.anthropic import AnthropicModel
from relaykit.llm.retry import RetryPolicy as ModelRetryPolicy
from stubs.anthropic_api import AnthropicStub, Turn, error
from support import SENTINEL_KEY

RUNS = max(8, int(os.environ.get("FAULT_RUNS", "100")) // 10)
KEY = SENTINEL_KEY  # failed calls are logged: the suite's hook fails a test that prints it
FAULTS = ("429", "529", "500", "503", "cut")


class Storm:
    """The stub's responder: an echo of the prompt, or (with probability ``rate``, seeded) a
    fault. Counts what it served."""

    def __init__(self, seed: int, rate: float) -> None:
        self.rng = random.Random(seed)
        self.rate = rate
        self.served: Counter[str] = Counter()

    async def __call__(self, body: dict[str, Any]) -> Turn:
        prompt = str(body["messages"][-1]["content"])
        words = prompt.split()
        echo = Turn(
            text=" ".join(["echo", *words]),
            usage={"input_tokens": len(words), "output_tokens": len(words) + 1},
        )
        kinds = FAULTS if body.get("stream") else FAULTS[:-1]
        if self.rng.random() >= self.rate:
            self.served["ok"] += 1
            return echo
        kind = self.rng.choice(kinds)
        self.served[kind] += 1
        if kind == "cut":  # after message_start, ping and a few deltas at most
            echo.cut_after = self.rng.randint(0, 4)
            return echo
        if kind == "429":
            return error(429, "rate_limit_error", "Rate limited", retry_after="0")
        if kind == "529":
            return error(529, "overloaded_error", "Overloaded", retry_after="0")
        return error(int(kind), "api_error", "Internal server error")


@pytest.fixture(scope="module")
def stub() -> Iterator[AnthropicStub]:
    with AnthropicStub() as started:
        yield started


def contexts(stub: AnthropicStub, provider_retries: int) -> Callable[[RunRecord], Context]:
    """Contexts built the production way: ``ctx.llm`` is the app's Anthropic model, bound and
    metered. ``provider_retries=0``: every failed HTTP call reaches the step's retry policy."""
    model = AnthropicModel(
        "claude-sonnet-4-6",
        api_key=KEY,
        base_url=stub.url,
        retry=ModelRetryPolicy(max_retries=provider_retries, base_delay=0.0),
    )
    app = App("fault-model", model=model, settings={"store": "memory://"})
    return lambda run: app.new_context(None, request_id=run.run_id)


def chatty(retry: RetryPolicy) -> Any:
    async def workflow(topic: str, ctx: WorkflowContext) -> list[str]:
        texts = []
        for i in range(3):
            ask = [{"role": "user", "content": f"{topic} part {i}"}]
            texts.append((await ctx.llm_step(f"ask:{i}", ask, max_tokens=32, retry=retry)).text)
        summary = [{"role": "user", "content": " / ".join(texts)}]
        done = await ctx.llm_step("summary", summary, stream=False, max_tokens=64, retry=retry)
        return [*texts, done.text]

    return workflow


def run_all(
    stub: AnthropicStub, storm: Storm, retry: RetryPolicy, provider_retries: int
) -> tuple[list[dict[str, Any]], list[int], list[Counter[str]]]:
    """Each run in turn under ``storm``: its view, the requests it made, what was served."""
    stub.script.clear()
    stub.responder = storm
    clock = FakeClock()
    engine = Engine(
        open_store("memory://"),
        RecordingContinuation(),
        clock=clock,
        lease_seconds=30.0,
        context_factory=contexts(stub, provider_retries),
    )
    engine.register("chatty", chatty(retry))

    async def main() -> tuple[list[dict[str, Any]], list[int], list[Counter[str]]]:
        views, requests, served = [], [], []
        for i in range(RUNS):
            before, served_before = len(stub.requests), Counter(storm.served)
            run_id = await engine.start("chatty", input=f"topic {i}", run_id=f"run{i:03d}")
            driven = await drive(engine, run_id, clock, max_invocations=2_000)
            assert driven.outcome.status == "completed", driven.outcome
            view = (await engine.get(run_id)).to_dict()
            view["tokens"] = [json.loads(p.data) for p in await engine.progress(run_id)]
            views.append(view)
            requests.append(len(stub.requests) - before)
            served.append(storm.served - served_before)
        return views, requests, served

    return asyncio.run(main())


def last_attempt_text(tokens: list[dict[str, Any]], step: str) -> str:
    """What a client following the progress stream shows for ``step``: the text of its last
    attempt (a new attempt number starts the text over)."""
    entries = [t for t in tokens if t.get("name") == step and "text" in t]
    last = max(t["attempt"] for t in entries)
    return "".join(t["text"] for t in entries if t["attempt"] == last)


@pytest.mark.parametrize(
    ("variant", "retry"),
    [
        ("inline", RetryPolicy(max_attempts=60, initial_delay=0.0, jitter=0.0)),
        ("suspended", RetryPolicy(max_attempts=60, initial_delay=600.0, backoff=1.0, jitter=0.0)),
    ],
)
def test_model_storms_and_cut_streams_change_no_result_and_every_failed_call_is_counted(
    stub: AnthropicStub, variant: str, retry: RetryPolicy
) -> None:
    """Four llm steps per run (three streamed, one not) while 45% of the stub's answers are a
    429, 529, 500, 503 or a stream cut mid-reply, with the SDK's and relaykit's own provider
    retries off, so every failure reaches the durable step: retried in the same invocation
    (``inline``) or after a suspension (``suspended``). Every run returns what a calm run
    returns; its usage counts every request as a call and every failure as a failed call; each
    step's attempts equal its calls; the progress stream's last attempt spells the reply."""
    calm, _, _ = run_all(stub, Storm(1, 0.0), retry, provider_retries=0)
    views, requests, served = run_all(stub, Storm(20261128, 0.45), retry, provider_retries=0)
    totals: Counter[str] = Counter()
    for calm_view, view, made, faults in zip(calm, views, requests, served, strict=True):
        assert view["result"] == calm_view["result"]
        failed = sum(n for kind, n in faults.items() if kind != "ok")
        usage = view["usage"]
        assert (usage["model_calls"], usage["failed_calls"]) == (made, failed), (usage, faults)
        assert failed == made - 4
        for step in view["steps"]:
            assert step["attempts"] == step["usage"]["calls"], step
            if step["name"] != "summary":
                assert last_attempt_text(view["tokens"], step["name"]) == step_reply(view, step)
        totals.update(faults)
        totals["runs"] += 1
        totals["requests"] += made
        totals["failed_calls_recorded"] += usage["failed_calls"]
    report(f"model_storm_{variant}", dict(totals))
    assert sum(totals[k] for k in FAULTS) == totals["failed_calls_recorded"] > RUNS
    assert totals["cut"] > 0 and totals["529"] > 0 and totals["429"] > 0


def step_reply(view: dict[str, Any], step: dict[str, Any]) -> str:
    index = [s["name"] for s in view["steps"]].index(step["name"])
    return str(view["result"][index])


def test_with_provider_retries_on_a_storm_still_changes_no_result(stub: AnthropicStub) -> None:
    """The same storm with the provider's own retries on (2 per call, ``retry-after: 0``):
    results as in a calm run, and the record counts at most as many failed calls as the stub
    served failures (a provider retry that succeeds hides its failed attempt in one call)."""
    retry = RetryPolicy(max_attempts=60, initial_delay=0.0, jitter=0.0)
    calm, _, _ = run_all(stub, Storm(1, 0.0), retry, provider_retries=2)
    views, requests, served = run_all(stub, Storm(7, 0.45), retry, provider_retries=2)
    for calm_view, view, made, faults in zip(calm, views, requests, served, strict=True):
        assert view["result"] == calm_view["result"]
        failed = sum(n for kind, n in faults.items() if kind != "ok")
        assert view["usage"]["failed_calls"] <= failed and made == failed + 4

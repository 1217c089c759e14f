"""Usage and cost: the dated price table, overrides, and BoundModel's per-invocation meter."""

from __future__ import annotations

import json
import math

import pytest

from relaykit import App, ConfigError, ModelError
from relaykit.llm.bound import BoundModel
from relaykit.llm.local import LocalModel
from relaykit.llm.usage import CallRecord, default_prices, price_table
from relaykit.model import Usage
from stubs.anthropic_api import AnthropicStub, Turn
from stubs.recording import Collect


def test_dated_and_profile_ids_find_their_price() -> None:
    """Dated Anthropic ids and Bedrock profile ids find their family; new versions do not."""
    table = default_prices()
    assert table.as_of == "2025-11-01"
    sonnet = table.lookup("claude-sonnet-4-5")
    assert sonnet is not None and (sonnet.input, sonnet.output) == (3.0, 15.0)
    assert table.lookup("claude-sonnet-4-5-20250929") == sonnet
    assert table.lookup("us.anthropic.claude-sonnet-4-5-20250929-v1:0") == sonnet
    assert table.lookup("meta.llama3-1-70b-instruct-v1:0") is not None
    assert table.lookup("amazon.nova-pro-v1:0") is not None
    assert table.lookup("claude-opus-4-6") is None  # not claude-opus-4's price


def test_cost_counts_cache_reads_and_writes() -> None:
    """1M input at $3, 1M output at $15, 1M cache reads at $0.30, 1M writes at $3.75."""
    usage = Usage(1_000_000, 1_000_000, 1_000_000, 1_000_000)
    assert default_prices().cost("claude-sonnet-4-5", usage) == pytest.approx(22.05)
    assert default_prices().cost("unknown-model", usage) is None


def test_price_table_setting_overrides_and_extends() -> None:
    """The price_table setting adds models and replaces listed ones; bad tables are refused."""
    prices = {"claude-sonnet-4-6": {"input": 3, "output": 15}, "local": {"input": 1, "output": 1}}
    app = App("p", settings={"price_table": json.dumps(prices), "store": "memory://"})
    table = price_table(app.settings.price_table)
    assert table.cost("claude-sonnet-4-6", Usage(1_000_000, 0)) == 3.0
    assert table.cost("local", Usage(1_000_000, 0)) == 1.0
    with pytest.raises(ConfigError, match="needs 'input' and 'output'"):
        App("p", settings={"price_table": {"m": {"input": 1}}})
    with pytest.raises(ConfigError, match="not a number >= 0"):
        App("p", settings={"price_table": {"m": {"input": -1, "output": 1}}})


async def test_bound_model_meters_and_logs_every_call(logs: Collect) -> None:
    """ctx-bound calls add records (tokens, latency, cost) and write one `model call` line each."""
    app = App("u", model=LocalModel(delay=0), settings={"store": "memory://"})
    ctx = app.new_context()
    llm = BoundModel(app.model, ctx)
    seen: list[CallRecord] = []
    llm.usage.hooks.append(seen.append)
    await llm.complete([{"role": "user", "content": "one two"}])
    stream = llm.stream([{"role": "user", "content": "three"}])
    assert "".join([text async for text in stream]) == "Local model reply to: three"
    assert [r.kind for r in llm.usage.calls] == ["complete", "stream"] == [r.kind for r in seen]
    assert llm.usage.usage == Usage(input_tokens=3, output_tokens=11)
    assert llm.usage.cost_usd == 0.0 and llm.usage.unpriced == 0
    lines = [r for r in logs.records if r.getMessage() == "model call"]
    assert len(lines) == 2
    fields = lines[0].__dict__["relaykit_extra"]
    assert fields["model"] == "local" and fields["input_tokens"] == 2 and fields["cost_usd"] == 0.0
    assert fields["latency_ms"] >= 0 and lines[0].__dict__["request_id"] == ctx.request_id


async def test_bound_model_passes_the_deadline_and_records_failures(logs: Collect) -> None:
    """The invocation's remaining_seconds reaches the provider; a failed call is recorded too."""
    app = App("d", model=LocalModel(delay=0, script=[]), settings={"store": "memory://"})
    ctx = app.new_context()
    assert math.isinf(ctx.remaining_seconds())
    llm = BoundModel(app.model, ctx)
    with pytest.raises(ModelError, match="script has 0 replies"):
        await llm.complete([{"role": "user", "content": "x"}])
    assert llm.usage.calls[0].error is not None and llm.usage.calls[0].cost_usd is None
    with AnthropicStub() as stub:
        from relaykit.llm.anthropic import AnthropicModel

        stub.push(Turn(text="hi", usage={"input_tokens": 1000, "output_tokens": 100}))
        provider = AnthropicModel("claude-haiku-4-5-20251001", api_key="k", base_url=stub.url)
        ctx = app.new_context(deadline=__import__("time").time() + 30)
        bound = BoundModel(provider, ctx)
        await bound.complete([{"role": "user", "content": "x"}])
        timeout = float(stub.requests[0].headers["x-stainless-timeout"])
    assert timeout <= 29.75  # bounded by the deadline, not the 120 s model_timeout
    assert bound.usage.cost_usd == pytest.approx(0.0015)


async def test_a_cut_stream_records_the_tokens_billed_before_the_cut(logs: Collect) -> None:
    """The real SDK against the stub: a stream cut after ``message_start`` (1,000 input tokens
    reported) is recorded as a failed call with those tokens and their price, and its log
    line says so; a call that fails before any usage is recorded with no cost."""
    app = App("cut", model=LocalModel(delay=0), settings={"store": "memory://"})
    with AnthropicStub() as stub:
        from relaykit.llm.anthropic import AnthropicModel

        usage = {"input_tokens": 1000, "output_tokens": 100}
        stub.push(Turn(text="one two three four", usage=usage, cut_after=5))
        provider = AnthropicModel("claude-haiku-4-5-20251001", api_key="k", base_url=stub.url)
        bound = BoundModel(provider, app.new_context())
        with pytest.raises(ModelError, match="stream was cut"):
            async for _ in bound.stream([{"role": "user", "content": "x"}]):
                pass
    (record,) = bound.usage.calls
    assert record.error is not None and record.usage == Usage(1000, 1)
    # claude-haiku-4-5: $1 in / $5 out per million tokens (prices.json)
    assert record.cost_usd == pytest.approx(0.001005)
    (line,) = [r for r in logs.records if r.getMessage() == "model call"]
    fields = line.__dict__["relaykit_extra"]
    assert fields["input_tokens"] == 1000 and "stream was cut" in fields["error"]

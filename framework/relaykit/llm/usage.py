"""Usage and cost: what each model call took (tokens, latency) and what it cost.

Prices are a dated table shipped with relaykit (``prices.json``: USD per million tokens for
input, output, cache reads and cache writes), overridable per model id with the ``price_table``
setting. A model id is looked up as given, then without a provider prefix (``anthropic:``) or a
Bedrock inference-profile prefix (``us.``, ``eu.``, ``apac.``, ``global.``), then by the longest
table key it starts with when only a date or version follows, so dated ids such as
``claude-sonnet-4-5-20250929`` or ``anthropic.claude-sonnet-4-5-20250929-v1:0`` find their
entry (but ``claude-opus-4-6`` does not take ``claude-opus-4``'s price). Unknown ids cost
``None``: add them with the ``price_table`` setting.

A ``UsageMeter`` accumulates ``CallRecord``\\ s for one invocation (``ctx.llm.usage``) and calls
its ``hooks`` for each record (the Lambda target can add one that emits EMF metrics).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from relaykit.model import Usage

_PROFILE_PREFIXES = ("us.", "eu.", "apac.", "global.", "us-gov.", "ca.", "jp.", "au.")
PRICE_KINDS = ("input", "output", "cache_read", "cache_write")
# What may follow a table key in a model id: a date, a Bedrock version, a throughput suffix.
_VERSION_SUFFIX = re.compile(r"(-\d{8})?(-v\d+(:\d+)?)?(:[\w.-]*)?")


@dataclass(frozen=True)
class Price:
    """USD per million tokens; cache prices default to the input price when not listed."""

    input: float
    output: float
    cache_read: float | None = None
    cache_write: float | None = None

    def cost(self, usage: Usage) -> float:
        read = self.input if self.cache_read is None else self.cache_read
        write = self.input if self.cache_write is None else self.cache_write
        total = (
            usage.input_tokens * self.input
            + usage.output_tokens * self.output
            + usage.cache_read_tokens * read
            + usage.cache_write_tokens * write
        )
        return total / 1_000_000


def parse_price(model_id: str, raw: Any) -> Price:
    """A ``Price`` from ``{"input": ..., "output": ..., ...}``; ``ValueError`` names the problem."""
    if not isinstance(raw, Mapping) or "input" not in raw or "output" not in raw:
        raise ValueError(f"{model_id!r} needs at least 'input' and 'output' prices")
    unknown = set(raw) - set(PRICE_KINDS)
    if unknown:
        raise ValueError(f"{model_id!r} has unknown price keys {sorted(unknown)}")
    values: dict[str, float] = {}
    for key, value in raw.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ValueError(f"{model_id!r} {key} price must be a number >= 0, got {value!r}")
        values[key] = float(value)
    return Price(**values)


@dataclass(frozen=True)
class PriceTable:
    """Prices per model id, with the date they were read from the vendors' pages."""

    as_of: str
    prices: Mapping[str, Price]

    def with_overrides(self, overrides: Mapping[str, Price]) -> PriceTable:
        return PriceTable(f"{self.as_of} + overrides", {**self.prices, **overrides})

    def lookup(self, model_id: str) -> Price | None:
        name = (
            model_id.split(":", 1)[1]
            if model_id.startswith(("anthropic:", "bedrock:"))
            else model_id
        )
        for prefix in _PROFILE_PREFIXES:
            if name.startswith(prefix):
                name = name[len(prefix) :]
                break
        for candidate in (model_id, name):
            if candidate in self.prices:
                return self.prices[candidate]
        for key in sorted((k for k in self.prices if name.startswith(k)), key=len, reverse=True):
            if _VERSION_SUFFIX.fullmatch(name[len(key) :]):
                return self.prices[key]
        return None

    def cost(self, model_id: str, usage: Usage) -> float | None:
        price = self.lookup(model_id)
        return None if price is None else round(price.cost(usage), 8)


_TABLES: dict[str, PriceTable] = {}


def default_prices() -> PriceTable:
    """The table shipped with relaykit (read once)."""
    table = _TABLES.get("")
    if table is None:
        data = json.loads(Path(__file__).with_name("prices.json").read_text())
        prices = {key: parse_price(key, raw) for key, raw in data["models"].items()}
        table = _TABLES[""] = PriceTable(data["as_of"], prices)
    return table


def price_table(overrides: Mapping[str, Mapping[str, float]] | None) -> PriceTable:
    """The shipped table with ``overrides`` (the ``price_table`` setting) on top; cached."""
    if not overrides:
        return default_prices()
    key = json.dumps(overrides, sort_keys=True, default=str)
    table = _TABLES.get(key)
    if table is None:
        parsed = {model: parse_price(model, raw) for model, raw in overrides.items()}
        table = _TABLES[key] = default_prices().with_overrides(parsed)
    return table


@dataclass(frozen=True)
class CallRecord:
    """One model call: what it used, how long it took, what it cost."""

    model: str
    kind: str
    usage: Usage
    latency_s: float
    cost_usd: float | None
    stop_reason: str | None = None
    error: str | None = None

    def log_fields(self) -> dict[str, Any]:
        """The keys of the ``model call`` structured log line."""
        fields: dict[str, Any] = {
            "model": self.model,
            "call": self.kind,
            "input_tokens": self.usage.input_tokens,
            "output_tokens": self.usage.output_tokens,
            "cache_read_tokens": self.usage.cache_read_tokens,
            "cache_write_tokens": self.usage.cache_write_tokens,
            "latency_ms": round(self.latency_s * 1000, 1),
            "cost_usd": self.cost_usd,
            "stop_reason": self.stop_reason,
        }
        if self.error is not None:
            fields["error"] = self.error
        return fields


@dataclass
class UsageMeter:
    """Sums the calls of one invocation; ``hooks`` see each ``CallRecord`` as it is added."""

    calls: list[CallRecord] = field(default_factory=list)
    hooks: list[Callable[[CallRecord], None]] = field(default_factory=list)

    def add(self, record: CallRecord) -> None:
        self.calls.append(record)
        for hook in self.hooks:
            hook(record)

    @property
    def usage(self) -> Usage:
        total = Usage()
        for record in self.calls:
            total = total + record.usage
        return total

    @property
    def cost_usd(self) -> float:
        """Total known cost (calls to unpriced models count 0; see ``unpriced``)."""
        return round(sum(r.cost_usd or 0.0 for r in self.calls), 8)

    @property
    def unpriced(self) -> int:
        return sum(1 for r in self.calls if r.cost_usd is None and r.error is None)

    @property
    def latency_s(self) -> float:
        return sum(r.latency_s for r in self.calls)

    def since(self, mark: int) -> UsageMeter:
        """The calls added after ``len(meter.calls)`` was ``mark`` (per-step sums)."""
        return UsageMeter(self.calls[mark:])

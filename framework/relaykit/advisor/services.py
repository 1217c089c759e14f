"""The cost types every option shares, and the services around compute: front doors, durable
storage for workflow runs, queues and CloudWatch Logs.

Every cost is a list of ``Term``\\ s, each with the formula that produced it written out with
its numbers, so a reader can redo the sum by hand.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from relaykit.advisor.prices import GIB, PriceBook, tiered
from relaykit.advisor.profile import Profile, Workload


def num(value: float, digits: int = 4) -> str:
    """A readable number: thousands separators, up to ``digits`` significant decimals."""
    if value == 0:
        return "0"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    text = f"{value:.{digits}g}"
    return text if "e" not in text else f"{value:.10f}".rstrip("0")


def rate(value: float) -> str:
    """A unit price without scientific notation: ``0.0000166667``."""
    return f"{value:.10f}".rstrip("0").rstrip(".") if value < 0.01 else f"{value:g}"


@dataclass(frozen=True)
class Term:
    """One line of a bill: what it is, how it was computed, what it costs per month."""

    label: str
    formula: str
    usd: float


@dataclass(frozen=True)
class OptionCost:
    """One deployment option's monthly cost for one handler, or why it cannot be used."""

    option: str
    detail: str
    terms: tuple[Term, ...] = ()
    ruled_out: str | None = None
    placement: Mapping[str, Any] = field(default_factory=dict)

    @property
    def total(self) -> float:
        return round(sum(term.usd for term in self.terms), 2)

    @property
    def viable(self) -> bool:
        return self.ruled_out is None


@dataclass(frozen=True)
class Inputs:
    """A workload, a profile and a price book: what every cost model reads."""

    w: Workload
    p: Profile
    prices: PriceBook

    @property
    def hours(self) -> float:
        return self.prices.hours

    @property
    def requests(self) -> float:
        """Requests (workflow runs) per month."""
        return self.p.requests_per_month(self.hours)

    @property
    def active_hours(self) -> float:
        """Hours per month the handler gets traffic."""
        return self.hours * self.p.active_fraction

    @property
    def mean_concurrency(self) -> float:
        return self.p.mean_rps * self.w.wall_s

    @property
    def peak_concurrency(self) -> float:
        return self.p.peak * self.w.wall_s


def lambda_door_cost(i: Inputs, door: str) -> Term:
    """What the front door in front of a Lambda function costs per month."""
    r = i.requests
    if door == "function-url":
        return Term("Function URL", "no charge for Function URLs", 0.0)
    if door in ("http-api", "rest-api"):
        key = door.replace("-", "_")
        tiers = [
            [None if w is None else w / 1e6, p] for w, p in i.prices.get(f"{key}.tiers_per_million")
        ]
        first = float(tiers[0][1])
        usd = tiered(r / 1e6, tiers)
        title = "HTTP API" if door == "http-api" else "REST API"
        return Term(title, f"{num(r)} requests x ${first}/million (tiered)", usd)
    if door == "alb":
        return alb_cost(i, lambda_target=True)
    if door in ("sqs", "none"):
        return queue_cost(i) if door == "sqs" else Term("front door", "none", 0.0)
    raise ValueError(f"unknown front door {door!r}")


def alb_cost(i: Inputs, *, lambda_target: bool = False) -> Term:
    """An ALB: the hourly charge, plus LCU-hours from the busiest LCU dimension at mean load."""
    alb = "alb."
    hour, lcu_hour = i.prices.num(alb + "hour"), i.prices.num(alb + "lcu_hour")
    rps = i.p.mean_rps
    gb_per_hour = rps * 3600.0 * (i.w.response_bytes + 1024.0) / GIB
    lcu_gb = i.prices.num(alb + ("lcu_gb_per_hour_lambda" if lambda_target else "lcu_gb_per_hour"))
    lcu = max(
        rps / i.prices.num(alb + "lcu_new_connections_per_s"),
        rps * (60.0 + i.w.wall_s) / i.prices.num(alb + "lcu_active_connections_per_min"),
        gb_per_hour / lcu_gb,
    )
    usd = i.hours * hour + lcu * lcu_hour * i.active_hours
    formula = f"{num(i.hours)} h x ${hour} + {num(lcu)} LCU x ${lcu_hour} x {num(i.active_hours)} h"
    return Term("ALB", formula, usd)


def queue_cost(i: Inputs, pollers: int = 0) -> Term:
    """SQS for a queue-fed handler: one send per message, receive and delete in batches of 10,
    plus 3 empty long polls a minute per container poller."""
    per_million = i.prices.num("sqs.per_million")
    free = i.prices.num("sqs.free_requests") if i.p.free_tier else 0.0
    calls = i.requests * 1.2 + pollers * i.hours * 180.0
    usd = max(0.0, calls - free) / 1e6 * per_million
    return Term("SQS", f"({num(calls)} requests - {num(free)} free) x ${per_million}/million", usd)


def logs_cost(i: Inputs, invocations: float, *, platform: bool) -> Term:
    """CloudWatch Logs ingestion: the app's lines, plus Lambda's START/END/REPORT lines."""
    rate = i.prices.num("cloudwatch.logs_ingest_gb")
    per_request = i.p.log_bytes * i.requests
    extra = i.prices.num("lambda.platform_log_bytes") * invocations if platform else 0.0
    gb = (per_request + extra) / GIB
    return Term("CloudWatch Logs", f"{num(gb)} GB ingested x ${rate}/GB", gb * rate)


def durable_cost(i: Inputs, invocations_per_run: float) -> Term | None:
    """DynamoDB for workflow runs: a write per step, create and finish, and an acquire and a
    release per invocation; two reads per invocation. ``None`` for handlers that are not
    workflows."""
    if i.w.kind != "workflow":
        return None
    writes = i.requests * (i.w.steps_per_run + 2 + 2 * invocations_per_run)
    reads = i.requests * 2 * invocations_per_run
    w_rate = i.prices.num("dynamodb.write_per_million")
    r_rate = i.prices.num("dynamodb.read_per_million")
    usd = writes / 1e6 * w_rate + reads / 1e6 * r_rate
    formula = f"{num(writes)} writes x ${w_rate}/M + {num(reads)} reads x ${r_rate}/M"
    return Term("DynamoDB (run store)", formula, usd)


def instances_for(rate: float, capacity: float, minimum: int) -> int:
    """Instances (tasks) needed for ``rate`` req/s at ``capacity`` each, at least ``minimum``."""
    if capacity <= 0:
        return 0
    return max(minimum, math.ceil(rate / capacity - 1e-9))

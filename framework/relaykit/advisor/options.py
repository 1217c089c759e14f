"""Lambda's cost models: on demand (x86_64, arm64), provisioned concurrency, SnapStart.

Duration: Lambda bills memory (GB) times wall-clock duration, rounded up to the millisecond,
waits on a model API included. CPU scales with memory (one vCPU at 1,769 MB), so at memory M a
request takes ``(wall - cpu) + cpu x max(1, 1769 / M)``: the measured waiting, plus the measured
CPU time stretched by the CPU share (measurements are taken with at least one vCPU). INIT is
billed since August 2025: each cold start adds ``init_s x GB``. The free tier (400,000 GB-s and
one million requests a month) is account-wide; it is applied to each handler as if it were the
only one (``free_tier = false`` turns it off). A workflow run longer than one invocation is
split across ``ceil(run / (900 s - 2 s margin))`` invocations, each a request.

Each option picks the memory size, of those at least 25 % above the measured peak memory, that
makes its bill cheapest (``memory_mb`` in the profile fixes it), and the front door the profile
asks for (``default``: an HTTP API for tasks and workflows, a Function URL for streams, as
``relaykit deploy`` places them; ``cheapest``: whichever allowed door costs least).
"""

from __future__ import annotations

import math
from collections.abc import Callable

from relaykit.advisor.constraints import door_problem, lambda_problem
from relaykit.advisor.prices import tiered
from relaykit.advisor.services import (
    Inputs,
    OptionCost,
    Term,
    durable_cost,
    lambda_door_cost,
    logs_cost,
    num,
    rate,
)

MEMORY_SIZES = (128, 256, 512, 1024, 1536, 1769, 2048, 3008, 4096, 6144, 8192, 10240)
DOORS_FOR_LAMBDA = ("function-url", "http-api", "rest-api", "alb")
MARGIN_S = 2.0


def memory_choices(i: Inputs) -> tuple[int, ...]:
    if i.p.memory_mb is not None:
        return (int(i.p.memory_mb),)
    need = max(128.0, i.w.max_rss_mb * 1.25)
    return tuple(m for m in MEMORY_SIZES if m >= need) or (MEMORY_SIZES[-1],)


def seconds_at(i: Inputs, memory: int) -> float:
    """Billed seconds of one request (one whole run for a workflow) at ``memory`` MB."""
    share = max(1.0, i.prices.num("lambda.mb_per_vcpu") / memory)
    wall = max(0.0, i.w.wall_s - i.w.cpu_s) + i.w.cpu_s * share
    return math.ceil(wall * 1000.0 - 1e-6) / 1000.0


def invocations_per_run(i: Inputs) -> float:
    if i.w.kind != "workflow":
        return 1.0
    usable = i.prices.num("lambda.max_seconds") - MARGIN_S
    return float(max(1, math.ceil(i.w.wall_s / usable - 1e-9)))


def cold_starts(i: Inputs) -> float:
    """Cold starts a month: requests arriving after an idle gap (Poisson arrivals), plus one per
    environment when an active period starts and each time an environment is recycled."""
    invocations = i.requests * invocations_per_run(i)
    if invocations <= 0:
        return 0.0
    idle = i.prices.num("lambda.idle_seconds")
    sparse = invocations * math.exp(-i.p.mean_rps * idle)
    environments = max(1, math.ceil(min(i.peak_concurrency, 1e9)))
    days = i.hours / 24.0
    per_environment = days * (1.0 + i.p.active_hours / i.prices.num("lambda.recycle_hours"))
    return min(invocations, sparse + environments * per_environment)


def pick_door(i: Inputs) -> tuple[str | None, str | None]:
    """(door, None), or (None, why no door fits) for a Lambda option."""
    wanted = i.p.front_door
    if wanted in ("sqs", "none"):
        return wanted, None
    if wanted == "default":
        order = ["function-url"] if i.w.streamed else ["http-api", "function-url"]
    elif wanted == "cheapest":
        order = sorted(DOORS_FOR_LAMBDA, key=lambda door: lambda_door_cost(i, door).usd)
    else:
        order = [wanted]
    problems = []
    for door in order:
        problem = door_problem(door, i.w, i.prices)
        if problem is None:
            return door, None
        problems.append(problem)
    return None, problems[0]


def _cheapest(i: Inputs, build: Callable[[Inputs, int, str], OptionCost], name: str) -> OptionCost:
    problem = lambda_problem(i.w, i.prices)
    door, door_issue = pick_door(i)
    if problem is None and door is None:
        problem = door_issue
    if problem is not None or door is None:
        return OptionCost(name, "", ruled_out=problem)
    costs = [build(i, memory, door) for memory in memory_choices(i)]
    return min(costs, key=lambda cost: cost.total)


def _common(i: Inputs, memory: int, door: str, arch: str) -> tuple[Term, ...]:
    invocations = i.requests * invocations_per_run(i)
    rate_ = i.prices.num("lambda.requests_per_million")
    free = i.prices.num("lambda.free_requests") if i.p.free_tier else 0.0
    billable = max(0.0, invocations - free)
    terms = [
        Term("requests", f"({num(invocations)} - {num(free)} free) x ${rate_}/million",
             billable / 1e6 * rate_),
        lambda_door_cost(i, door),
        logs_cost(i, invocations, platform=True),
    ]  # fmt: skip
    durable = durable_cost(i, invocations_per_run(i))
    if durable is not None:
        terms.append(durable)
    return tuple(terms)


def _placement(i: Inputs, memory: int, door: str, arch: str) -> dict[str, object]:
    target = "lambda-stream" if door == "function-url" else "lambda"
    timeout = math.ceil(min(i.w.longest_piece_s * 2 + 5, i.prices.num("lambda.max_seconds")))
    if i.w.kind == "workflow":
        timeout = int(i.prices.num("lambda.max_seconds"))
    return {"target": target, "memory": memory, "timeout": timeout, "architecture": arch}


def on_demand(i: Inputs, memory: int, door: str, arch: str) -> OptionCost:
    gb = memory / 1024.0
    seconds = seconds_at(i, memory)
    run_gbs = i.requests * seconds * gb
    colds = cold_starts(i)
    init_gbs = colds * i.w.init_s * gb if i.prices.get("lambda.init_billed") else 0.0
    free = i.prices.num("lambda.free_gb_s") if i.p.free_tier else 0.0
    billable = max(0.0, run_gbs + init_gbs - free)
    tiers = i.prices.get(f"lambda.duration_tiers_gb_s.{arch}")
    first = float(tiers[0][1])
    duration = Term(
        "duration",
        f"({num(i.requests)} x {num(seconds)} s x {num(gb)} GB + {num(colds)} cold starts x "
        f"{num(i.w.init_s)} s INIT x {num(gb)} GB - {num(free)} free) GB-s x ${rate(first)} "
        "(tiered)",
        tiered(billable, tiers),
    )
    return OptionCost(
        f"lambda-{arch}",
        f"{memory} MB, {door}",
        (duration, *_common(i, memory, door, arch)),
        placement=_placement(i, memory, door, arch),
    )


def provisioned(i: Inputs, memory: int, door: str, arch: str) -> OptionCost:
    """Provisioned concurrency for the peak, kept during the active hours; no cold starts."""
    gb = memory / 1024.0
    count = max(1, math.ceil(i.peak_concurrency - 1e-9))
    pc_rate = i.prices.num(f"lambda.provisioned_gb_s.{arch}")
    d_rate = i.prices.num(f"lambda.provisioned_duration_gb_s.{arch}")
    kept = count * gb * i.active_hours * 3600.0
    used = i.requests * seconds_at(i, memory) * gb
    terms = (
        Term("provisioned", f"{count} x {num(gb)} GB x {num(i.active_hours)} h x 3600 x "
             f"${rate(pc_rate)}/GB-s", kept * pc_rate),
        Term("duration", f"{num(used)} GB-s x ${rate(d_rate)}", used * d_rate),
    )  # fmt: skip
    return OptionCost(
        f"lambda-provisioned-{arch}",
        f"{memory} MB x {count} provisioned, {door}",
        terms + _common(i, memory, door, arch),
        placement=_placement(i, memory, door, arch),  # provisioned is not in the schema yet
    )


def snapstart(i: Inputs, memory: int, door: str, arch: str = "x86_64") -> OptionCost:
    """On-demand duration without INIT, plus the snapshot cache (all month, one version) and a
    restore per cold start."""
    gb = memory / 1024.0
    seconds = seconds_at(i, memory)
    free = i.prices.num("lambda.free_gb_s") if i.p.free_tier else 0.0
    billable = max(0.0, i.requests * seconds * gb - free)
    tiers = i.prices.get(f"lambda.duration_tiers_gb_s.{arch}")
    cache_rate = i.prices.num("lambda.snapstart_cache_gb_s")
    restore_rate = i.prices.num("lambda.snapstart_restore_gb")
    colds = cold_starts(i)
    terms = (
        Term("duration", f"({num(i.requests)} x {num(seconds)} s x {num(gb)} GB - {num(free)} "
             f"free) GB-s x ${rate(float(tiers[0][1]))} (tiered)", tiered(billable, tiers)),
        Term("snapshot cache", f"{num(gb)} GB x {num(i.hours)} h x 3600 x ${rate(cache_rate)}/GB-s",
             gb * i.hours * 3600.0 * cache_rate),
        Term("restores", f"{num(colds)} restores x {num(gb)} GB x ${rate(restore_rate)}/GB",
             colds * gb * restore_rate),
    )  # fmt: skip
    return OptionCost(
        f"lambda-snapstart-{arch}",
        f"{memory} MB, {door}",
        terms + _common(i, memory, door, arch),
        placement=_placement(i, memory, door, arch),
    )


def lambda_options(i: Inputs) -> list[OptionCost]:
    """Every Lambda option for ``i``, each at its cheapest memory size."""

    def arch_build(
        model: Callable[[Inputs, int, str, str], OptionCost], arch: str
    ) -> Callable[[Inputs, int, str], OptionCost]:
        return lambda inputs, memory, door: model(inputs, memory, door, arch)

    return [
        _cheapest(i, arch_build(on_demand, "x86_64"), "lambda-x86_64"),
        _cheapest(i, arch_build(on_demand, "arm64"), "lambda-arm64"),
        _cheapest(i, arch_build(provisioned, "arm64"), "lambda-provisioned-arm64"),
        _cheapest(i, arch_build(snapstart, "x86_64"), "lambda-snapstart-x86_64"),
    ]

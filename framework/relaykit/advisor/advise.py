"""The advice for one handler: every option's cost, the cheapest viable one, and the traffic at
which the recommendation flips.

Break-even: the profile is scaled (mean and peak together, the shape kept) over request rates from
``LOW`` to ``HIGH`` req/s; where the cheapest viable option changes, the rate is refined by
bisection on a log scale until it is known to 0.1 %. The flips nearest to the profile's own rate,
below and above it, are reported. A bursty profile (peak above 1.5 x the mean) is also scanned
with its peak held, the mean rising: containers sized for the peak cost the same whatever the
mean, so that scan finds the mean at which steadier traffic makes them cheaper.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from relaykit.advisor.containers import container_options
from relaykit.advisor.options import lambda_options
from relaykit.advisor.prices import PriceBook
from relaykit.advisor.profile import Profile, Workload
from relaykit.advisor.services import Inputs, OptionCost

LOW, HIGH, STEPS = 1e-5, 1e4, 90


@dataclass(frozen=True)
class Flip:
    """At ``rps`` req/s (``per_month`` requests) the cheapest option goes from one to another."""

    rps: float
    per_month: float
    below: str
    above: str


@dataclass(frozen=True)
class Advice:
    """One handler's options, recommendation and break-even points."""

    workload: Workload
    profile: Profile
    options: tuple[OptionCost, ...]
    recommended: OptionCost | None
    flips: tuple[Flip, ...] = ()
    held_flips: tuple[Flip, ...] = ()
    """Flips as the mean rises with the peak held (bursty profiles only)."""
    prices: dict[str, Any] = field(default_factory=dict)

    @property
    def handler(self) -> str:
        return self.workload.handler

    def option(self, name: str) -> OptionCost:
        return next(o for o in self.options if o.option == name)

    @property
    def flip_down(self) -> Flip | None:
        """The nearest flip below the profile's rate."""
        below = [f for f in self.flips if f.rps <= self.profile.mean_rps]
        return below[-1] if below else None

    @property
    def flip_up(self) -> Flip | None:
        """The nearest flip above the profile's rate."""
        above = [f for f in self.flips if f.rps > self.profile.mean_rps]
        return above[0] if above else None


def evaluate(w: Workload, p: Profile, prices: PriceBook) -> list[OptionCost]:
    """Every option's monthly cost (or the constraint that rules it out)."""
    inputs = Inputs(w, p, prices)
    return [*lambda_options(inputs), *container_options(inputs)]


def cheapest(options: list[OptionCost]) -> OptionCost | None:
    viable = [o for o in options if o.viable]
    return min(viable, key=lambda o: (o.total, o.option)) if viable else None


def _at(p: Profile, rps: float, hold: bool) -> Profile:
    return p.held(rps) if hold else p.scaled(rps)


def _winner(w: Workload, p: Profile, prices: PriceBook, rps: float, hold: bool) -> str:
    best = cheapest(evaluate(w, _at(p, rps, hold), prices))
    return best.option if best is not None else ""


def break_evens(w: Workload, p: Profile, prices: PriceBook, *, hold: bool = False) -> list[Flip]:
    """Every rate in [LOW, HIGH] req/s (up to the peak when ``hold``) where the cheapest viable
    option changes."""
    if p.mean_rps <= 0:
        return []
    high = p.peak if hold else HIGH
    grid = [LOW * (high / LOW) ** (k / STEPS) for k in range(STEPS + 1)]
    winners = [_winner(w, p, prices, rps, hold) for rps in grid]
    flips = []
    for k in range(STEPS):
        if winners[k] == winners[k + 1]:
            continue
        lo, hi = grid[k], grid[k + 1]
        while hi / lo > 1.001:
            mid = math.sqrt(lo * hi)
            if _winner(w, p, prices, mid, hold) == winners[k]:
                lo = mid
            else:
                hi = mid
        rps = math.sqrt(lo * hi)
        per_month = _at(p, rps, hold).requests_per_month(prices.hours)
        flips.append(Flip(rps, per_month, winners[k], _winner(w, p, prices, hi, hold)))
    return flips


def advise(w: Workload, p: Profile, prices: PriceBook, *, flips: bool = True) -> Advice:
    """The advice for one handler."""
    options = evaluate(w, p, prices)
    return Advice(
        workload=w,
        profile=p,
        options=tuple(options),
        recommended=cheapest(options),
        flips=tuple(break_evens(w, p, prices)) if flips else (),
        held_flips=tuple(break_evens(w, p, prices, hold=True)) if flips and p.bursty else (),
        prices={
            "region": prices.region,
            "as_of": prices.as_of,
            "source": prices.source,
            "override": prices.override,
            "unsure": list(prices.unsure),
        },
    )


def curve(
    w: Workload, p: Profile, prices: PriceBook, rates: list[float]
) -> dict[str, list[float | None]]:
    """Each option's monthly cost at each mean rate (``None`` where it is ruled out)."""
    series: dict[str, list[float | None]] = {}
    for rps in rates:
        for option in evaluate(w, p.scaled(rps), prices):
            series.setdefault(option.option, []).append(option.total if option.viable else None)
    return series

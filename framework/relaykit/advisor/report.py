"""The advice as a plain-text table (no terminal library needed) or as JSON."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from relaykit.advisor.advise import Advice, Flip
from relaykit.advisor.services import OptionCost, num


def _money(usd: float) -> str:
    return f"${usd:,.2f}"


def _flip(flip: Flip, unit: str) -> str:
    return (
        f"{num(flip.rps, 3)} {unit}/s ({num(flip.per_month)} a month): {flip.below} below, "
        f"{flip.above} above"
    )


def _workload_line(advice: Advice) -> str:
    w, p = advice.workload, advice.profile
    unit = "runs" if w.kind == "workflow" else "req"
    parts = [
        f"{w.kind}",
        f"wall {num(w.wall_s)} s",
        f"cpu {num(w.cpu_s)} s" + ("" if w.cpu_exact else " (estimated)"),
        f"model wait {num(w.model_wait_s)} s",
        f"peak memory {num(w.max_rss_mb)} MB",
        f"response {num(w.response_bytes)} B" + (" streamed" if w.streamed else ""),
    ]
    if w.kind == "workflow":
        parts.append(f"longest step {num(w.max_step_s)} s, {num(w.steps_per_run)} steps/run")
    if w.needs_gpu:
        parts.append("needs a GPU")
    source = f"{w.samples} measured" if w.samples else "from the profile"
    traffic = (
        f"{num(p.mean_rps, 3)} {unit}/s mean, {num(p.peak, 3)} peak, {num(p.active_hours)} h/day "
        f"active = {num(p.requests_per_month(730.0))} {unit}/month"
    )
    return f"  {', '.join(parts)} ({source})\n  traffic: {traffic}"


def _row(option: OptionCost, best: OptionCost | None) -> str:
    mark = "*" if best is not None and option.option == best.option else " "
    if not option.viable:
        return f"{mark} {option.option:<26} {'-':>11}  ruled out: {option.ruled_out}"
    return f"{mark} {option.option:<26} {_money(option.total):>11}  {option.detail}"


def render_text(advices: Sequence[Advice], *, terms: bool = True) -> str:
    """Every handler's options table, terms, recommendation and break-even points."""
    lines: list[str] = []
    for advice in advices:
        w = advice.workload
        unit = "runs" if w.kind == "workflow" else "req"
        lines.append(f"{advice.handler}")
        lines.append(_workload_line(advice))
        lines.append(f"  {'option':<26} {'per month':>11}  configuration")
        best = advice.recommended
        viable = sorted((o for o in advice.options if o.viable), key=lambda o: o.total)
        ruled = [o for o in advice.options if not o.viable and o.ruled_out != "no GPU needed"]
        lines.extend(_row(option, best) for option in viable + ruled)
        if best is None:
            lines.append("  recommendation: none: every option is ruled out")
        else:
            lines.append(f"  recommendation: {best.option} ({best.detail}), {_money(best.total)}")
            if terms:
                for term in best.terms:
                    lines.append(f"    {term.label:<22} {_money(term.usd):>10}  {term.formula}")
        down, up = advice.flip_down, advice.flip_up
        if down is None and up is None:
            lines.append("  break-even: none between 0.00001 and 10,000 " + unit + "/s")
        for flip in (down, up):
            if flip is not None:
                lines.append(f"  break-even: {_flip(flip, unit)}")
        for flip in advice.held_flips:
            lines.append(f"  break-even with the peak held: {_flip(flip, unit)}")
        lines.append("")
    if advices:
        prices = advices[0].prices
        lines.append(f"Prices: AWS {prices['region']} as of {prices['as_of']}")
        lines.append(f"  source: {prices['source']}")
        if prices.get("override"):
            lines.append(f"  overridden by: {prices['override']}")
        if prices.get("unsure"):
            lines.append(f"  least certain (re-check): {', '.join(prices['unsure'])}")
    return "\n".join(lines) + "\n"


def _option_dict(option: OptionCost) -> dict[str, Any]:
    return {
        "option": option.option,
        "monthly_usd": option.total if option.viable else None,
        "configuration": option.detail,
        "ruled_out": option.ruled_out,
        "terms": [
            {"label": t.label, "formula": t.formula, "usd": round(t.usd, 4)} for t in option.terms
        ],
        "placement": dict(option.placement),
    }


def _flip_dict(flip: Flip) -> dict[str, Any]:
    return {"rps": flip.rps, "per_month": flip.per_month, "below": flip.below, "above": flip.above}


def to_json(advices: Sequence[Advice]) -> dict[str, Any]:
    """The advice as JSON data."""
    return {
        "prices": advices[0].prices if advices else None,
        "handlers": [
            {
                "handler": a.handler,
                "workload": vars(a.workload) | {},
                "profile": vars(a.profile) | {},
                "recommended": a.recommended.option if a.recommended else None,
                "options": [_option_dict(o) for o in a.options],
                "break_even": [_flip_dict(f) for f in a.flips],
                "break_even_peak_held": [_flip_dict(f) for f in a.held_flips],
            }
            for a in advices
        ],
    }

"""``relaykit advise MODULE:APP``: each handler's monthly cost per deployment option, the
recommended placement and the traffic at which it flips (see docs/choosing-a-target.md)."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from relaykit.app import App
from relaykit.errors import ConfigError

FLAG_KEYS = {
    "rps": "rps",
    "peak_rps": "peak_rps",
    "burstiness": "burstiness",
    "per_month": "per_month",
    "active_hours": "active_hours",
    "memory": "memory_mb",
    "min_tasks": "min_tasks",
    "front_door": "front_door",
}


def add_parser(commands: Any, app_help: str) -> None:
    """The ``advise`` subcommand."""
    from relaykit.advisor.profile import DOORS

    parser = commands.add_parser(
        "advise",
        help="compare deployment options per handler, from measurements and a traffic profile",
        description="Price each handler on Lambda (x86_64, arm64, provisioned, SnapStart), "
        "Lambda Managed Instances, Fargate and EC2 from its recorded measurements (the local "
        "measurements store, or --from-logs) and a traffic profile; print the recommendation, "
        "the break-even traffic and what ruled options out.",
    )
    parser.add_argument("app", help=app_help)
    parser.add_argument("--handler", action="append", help="only this path (repeatable)")
    parser.add_argument("--rps", type=float, help="mean requests (runs) per second while active")
    parser.add_argument("--per-month", type=float, help="requests a month instead of --rps")
    parser.add_argument("--peak-rps", type=float, help="peak requests per second")
    parser.add_argument("--burstiness", type=float, help="peak / mean, instead of --peak-rps")
    parser.add_argument("--active-hours", type=float, help="hours a day with traffic (24)")
    parser.add_argument("--memory", type=int, help="Lambda memory in MB (default: cheapest fit)")
    parser.add_argument("--min-tasks", type=int, help="containers kept running (default 2)")
    parser.add_argument("--front-door", choices=DOORS, help="Lambda front door (default)")
    parser.add_argument("--self-hosted-model", action="store_true", help="handlers need a GPU")
    parser.add_argument("--profile", metavar="FILE", help="TOML/JSON traffic profile per handler")
    parser.add_argument("--from-logs", metavar="FILE", help="read measurement log lines")
    parser.add_argument("--measurements", metavar="DB", help="the measurements database")
    parser.add_argument("--prices", metavar="FILE", help="JSON/TOML overriding the price table")
    parser.add_argument("--region", default="us-east-1", help="price region (us-east-1)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--chart", metavar="FILE", help="cost vs rate chart (.png or .svg)")
    parser.add_argument("--apply", action="store_true", help="write placements to the config")
    parser.add_argument("--config", metavar="FILE", help="the relaykit.toml --apply writes")


def _measurements(app: App, args: Any) -> list[Any]:
    from relaykit.advisor import readings
    from relaykit.measure import store_path

    if args.from_logs:
        return readings.from_logs(args.from_logs)
    return readings.from_store(args.measurements or store_path(app.settings))


def _config_path(app: App, args: Any) -> Path:
    if args.config:
        return Path(args.config)
    for source in app.settings.sources.values():
        if source.endswith("relaykit.toml"):
            return Path(source)
    return Path("relaykit.toml")


def advise_app(app: App, args: Any) -> tuple[list[Any], list[str]]:
    """The advice for each handler of ``app``, and notes on the handlers left out."""
    from relaykit.advisor import profile as profiles
    from relaykit.advisor import readings
    from relaykit.advisor.advise import advise
    from relaykit.advisor.prices import load_prices

    prices = load_prices(args.prices, args.region)
    table = profiles.read_profile_file(args.profile) if args.profile else {}
    flags = {key: getattr(args, attr) for attr, key in FLAG_KEYS.items()}
    flags = {key: value for key, value in flags.items() if value is not None}
    found = _measurements(app, args)
    advices, notes = [], []
    for spec in app.handlers:
        if args.handler and spec.path not in args.handler:
            continue
        values = {**table.get("defaults", {}), **table.get(spec.path, {}), **flags}
        items = [m for m in found if m.handler == spec.path]
        if spec.kind == "workflow" and not any(m.kind == "step" for m in items):
            try:
                items = asyncio.run(readings.from_runs(app, spec.path))
            except Exception as exc:  # a store that cannot be read here
                notes.append(f"{spec.path}: run store not readable ({exc})")
        workload = profiles.workload_from(spec.path, spec.kind, items)
        given = {k for k in values if k in profiles.Workload.__dataclass_fields__}
        if workload is None and not given and not args.self_hosted_model:
            notes.append(
                f"{spec.path}: no measurements; run it under `relaykit dev` (measure = store), "
                "pass --from-logs, or describe it in --profile (wall_s, cpu_s, ...)"
            )
            continue
        workload = profiles.apply_overrides(
            workload or profiles.Workload(spec.path, spec.kind, streamed=spec.kind == "stream"),
            values,
        )
        if args.self_hosted_model:
            workload = profiles.apply_overrides(workload, {"needs_gpu": True})
        traffic = profiles.build_profile(values, prices.hours)
        if traffic.mean_rps <= 0:
            notes.append(f"{spec.path}: no traffic given (--rps, --per-month or rps in --profile)")
            continue
        advices.append(advise(workload, traffic, prices))
    for source in app.sources:  # event-source handlers: measured once per delivered batch
        name = source.handler.name
        if args.handler and name not in args.handler and source.label not in args.handler:
            continue
        door = "sqs" if source.source in ("sqs", "s3") else "none"
        values = {"front_door": door, **table.get("defaults", {}), **table.get(name, {})}
        values = {**values, **table.get(source.label, {}), **flags}
        items = [m for m in found if m.handler == name]
        workload = profiles.workload_from(name, "task", items)
        if workload is None:
            notes.append(
                f"{source.label} ({name}): no measurements; deliver it events under "
                "`relaykit dev` or pass --from-logs"
            )
            continue
        workload = profiles.apply_overrides(workload, values)
        traffic = profiles.build_profile(values, prices.hours)
        if traffic.mean_rps <= 0:
            notes.append(f"{source.label}: no traffic given (--rps, --per-month or rps)")
            continue
        advices.append(advise(workload, traffic, prices))
    return advices, notes


def advise_command(app: App, args: Any, *, out: TextIO | None = None) -> int:
    """Run ``relaykit advise``; exit 2 on bad input."""
    out = out if out is not None else sys.stdout
    from relaykit.advisor.report import render_text, to_json

    try:
        advices, notes = advise_app(app, args)
    except ConfigError as exc:
        print(f"relaykit advise: {exc}", file=sys.stderr)
        return 2
    for note in notes:
        print(f"relaykit advise: {note}", file=sys.stderr)
    if args.json:
        out.write(json.dumps(to_json(advices), indent=2, default=str) + "\n")
    else:
        out.write(render_text(advices))
    if args.chart and advices:
        from relaykit.advisor.chart import write_chart
        from relaykit.advisor.prices import load_prices

        prices = load_prices(args.prices, args.region)
        for n, advice in enumerate(advices):
            path = Path(args.chart)
            if len(advices) > 1:
                path = path.with_name(f"{path.stem}-{n + 1}{path.suffix}")
            print(f"chart: {write_chart(path, advice, prices)}", file=sys.stderr)
    if args.apply and advices:
        from relaykit.advisor.apply import apply

        config = _config_path(app, args)
        apply(config, advices)
        print(f"placement written to {config}", file=sys.stderr)
    return 0 if advices else 2

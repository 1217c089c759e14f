"""What a handler does (``Workload``, from measurements) and how often (``Profile``, from flags
or a profile file).

A ``Workload`` is per request (per run for a workflow): mean wall time, mean CPU time, mean time
waiting on models, the process's peak memory, mean response size, whether it streams, and for
workflows the longest single step. Means, not percentiles: every bill is linear in them.

A ``Profile`` is the traffic: mean requests per second while the handler is active, the peak
rate, how many hours a day it is active, and the deployment knobs the cost models need. A
profile file (TOML, or JSON) holds ``[defaults]`` and ``["/path"]`` tables with the same keys as
the flags, and may also set any ``Workload`` field to describe a handler that has no
measurements yet (``wall_s = 4.0``, ``cpu_s = 0.1``, ``needs_gpu = true``...).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from statistics import fmean
from typing import Any

from relaykit.errors import ConfigError
from relaykit.measure import Measurement

DOORS = ("default", "cheapest", "function-url", "http-api", "rest-api", "alb", "sqs", "none")


@dataclass(frozen=True)
class Workload:
    """What one request (or one workflow run) of a handler takes, on average."""

    handler: str
    kind: str = "task"
    wall_s: float = 1.0
    cpu_s: float = 0.05
    model_wait_s: float = 0.0
    max_rss_mb: float = 100.0
    response_bytes: float = 1024.0
    streamed: bool = False
    max_step_s: float = 0.0
    """Workflows: the longest single step (what one invocation must fit)."""
    steps_per_run: float = 0.0
    samples: int = 0
    cpu_exact: bool = True
    needs_gpu: bool = False
    """GPU or self-hosted model weights: no Lambda, no Fargate."""
    init_s: float = 1.0
    """Seconds of INIT per Lambda cold start (imports, clients)."""

    @property
    def longest_piece_s(self) -> float:
        """What one invocation must hold: the longest step of a workflow, else the request."""
        return self.max_step_s if self.kind == "workflow" else self.wall_s


@dataclass(frozen=True)
class Profile:
    """Traffic and deployment knobs for one handler."""

    mean_rps: float
    peak_rps: float | None = None
    active_hours: float = 24.0
    memory_mb: int | None = None
    """Lambda memory; default: the cheapest size that holds the peak memory with 25 % room."""
    min_tasks: int = 2
    """Containers and EC2 instances kept running for availability."""
    front_door: str = "default"
    log_bytes: float = 1000.0
    """Application log bytes per request (the measurement line, model call lines...)."""
    free_tier: bool = True
    utilization: float = 0.6
    """Target CPU utilisation of a container or instance."""
    concurrency_per_vcpu: int = 100
    """Requests in flight one async container process holds per vCPU."""
    mb_per_request: float = 8.0
    """Memory one in-flight request holds in a shared process."""
    gpu_concurrency: int = 4
    """Requests one GPU serves at once (self-hosted models)."""

    @property
    def peak(self) -> float:
        return self.mean_rps if self.peak_rps is None else max(self.peak_rps, self.mean_rps)

    @property
    def active_fraction(self) -> float:
        return min(24.0, max(0.0, self.active_hours)) / 24.0

    def scaled(self, mean_rps: float) -> Profile:
        """The same shape at another mean rate (the peak keeps its ratio to the mean)."""
        ratio = self.peak / self.mean_rps if self.mean_rps > 0 else 1.0
        return replace(self, mean_rps=mean_rps, peak_rps=mean_rps * ratio)

    def held(self, mean_rps: float) -> Profile:
        """Another mean rate with the peak held (the mean can only raise it)."""
        return replace(self, mean_rps=mean_rps, peak_rps=max(self.peak, mean_rps))

    @property
    def bursty(self) -> bool:
        return self.peak > 1.5 * self.mean_rps

    def requests_per_month(self, hours: float) -> float:
        return self.mean_rps * 3600.0 * hours * self.active_fraction


def _mean(values: Iterable[float], default: float = 0.0) -> float:
    items = list(values)
    return fmean(items) if items else default


def workload_from(handler: str, kind: str, items: list[Measurement]) -> Workload | None:
    """The workload of ``handler`` from its measurements (``None`` when there are none)."""
    if kind == "workflow":
        return _workflow_workload(handler, [m for m in items if m.kind == "step"])
    calls = [m for m in items if m.kind != "step" and not m.error] or [
        m for m in items if m.kind != "step"
    ]
    if not calls:
        return None
    exact = [m for m in calls if m.cpu_exact]
    return Workload(
        handler=handler,
        kind=kind,
        wall_s=_mean(m.wall_s for m in calls),
        cpu_s=_mean(m.cpu_s for m in (exact or calls)),
        model_wait_s=_mean(min(m.model_wait_s, m.wall_s) for m in calls),
        max_rss_mb=max(m.max_rss_mb for m in calls),
        response_bytes=_mean(m.response_bytes for m in calls),
        streamed=any(m.streamed for m in calls),
        samples=len(calls),
        cpu_exact=bool(exact),
    )


def _workflow_workload(handler: str, steps: list[Measurement]) -> Workload | None:
    if not steps:
        return None
    runs: dict[str, list[Measurement]] = {}
    for m in steps:
        runs.setdefault(m.run_id or "", []).append(m)
    return Workload(
        handler=handler,
        kind="workflow",
        wall_s=_mean(sum(m.wall_s for m in run) for run in runs.values()),
        cpu_s=_mean(sum(m.cpu_s for m in run) for run in runs.values()),
        model_wait_s=_mean(sum(m.model_wait_s for m in run) for run in runs.values()),
        max_rss_mb=max(m.max_rss_mb for m in steps),
        response_bytes=_mean(sum(m.response_bytes for m in run) for run in runs.values()),
        max_step_s=max(m.wall_s for m in steps),
        steps_per_run=_mean(len(run) for run in runs.values()),
        samples=len(runs),
        cpu_exact=all(m.cpu_exact for m in steps),
    )


_PROFILE_KEYS = {f.name for f in fields(Profile)} | {"rps", "per_month", "burstiness"}
_WORKLOAD_KEYS = {f.name for f in fields(Workload)} - {"handler", "kind", "samples"}


def read_profile_file(path: str | Path) -> dict[str, dict[str, Any]]:
    """``{"defaults": {...}, "/path": {...}}`` from a TOML or JSON file, keys checked."""
    file = Path(path)
    try:
        if file.suffix == ".toml":
            import tomllib

            data: Any = tomllib.loads(file.read_text())
        else:
            data = json.loads(file.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError("--profile", f"cannot read {file}: {exc}") from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise ConfigError("--profile", f'{file} must hold tables: [defaults] and ["/path"]')
    accepted = sorted(_PROFILE_KEYS | _WORKLOAD_KEYS)
    for name, table in data.items():
        for key in table:
            if key not in _PROFILE_KEYS and key not in _WORKLOAD_KEYS:
                raise ConfigError(f"--profile {name}.{key}", "unknown key", ", ".join(accepted))
    return data


def build_profile(values: Mapping[str, Any], hours: float = 730.0) -> Profile:
    """A ``Profile`` from flag or file values (``rps`` or ``per_month``; ``peak_rps`` or
    ``burstiness``, the peak to mean ratio)."""
    active = float(values.get("active_hours", 24.0))
    if values.get("per_month") is not None:
        mean = float(values["per_month"]) / (3600.0 * hours * max(active, 1e-9) / 24.0)
    else:
        mean = float(values.get("rps", values.get("mean_rps", 0.0)) or 0.0)
    peak = values.get("peak_rps")
    if peak is None and values.get("burstiness") is not None:
        peak = mean * float(values["burstiness"])
    door = str(values.get("front_door", "default"))
    if door not in DOORS:
        raise ConfigError("front_door", f"got {door!r}", ", ".join(DOORS))
    knobs = {
        key: values[key]
        for key in (
            "memory_mb",
            "min_tasks",
            "log_bytes",
            "free_tier",
            "utilization",
            "concurrency_per_vcpu",
            "mb_per_request",
            "gpu_concurrency",
        )
        if values.get(key) is not None
    }
    return Profile(
        mean_rps=mean,
        peak_rps=None if peak is None else float(peak),
        active_hours=active,
        front_door=door,
        **knobs,
    )


def apply_overrides(workload: Workload, values: Mapping[str, Any]) -> Workload:
    """``workload`` with the ``Workload`` keys of ``values`` (a profile file's table) set."""
    given = {key: values[key] for key in _WORKLOAD_KEYS if values.get(key) is not None}
    return replace(workload, **given) if given else workload

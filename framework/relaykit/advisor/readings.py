"""Where measurements come from: the local store, exported log lines, or the durable run store.

``from_logs`` reads any file of log lines that contains relaykit's measurement lines: the raw
stdout of a container or of ``sam logs``, a CloudWatch Logs export (a timestamp before the
JSON), or ``aws logs filter-log-events`` output (JSON whose ``events[].message`` holds the
lines). ``from_runs`` falls back to the step records of the durable store for a workflow that
has no step measurements (their durations are what the planner uses; CPU is not known there).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from relaykit.errors import ConfigError
from relaykit.measure import LOG_KEY, Measurement


def _documents(text: str) -> Iterator[Any]:
    stripped = text.strip()
    if stripped.startswith("{") and '"events"' in stripped[:200]:
        try:
            whole = json.loads(stripped)
        except ValueError:
            whole = None
        if isinstance(whole, dict) and isinstance(whole.get("events"), list):
            for event in whole["events"]:
                if isinstance(event, dict) and isinstance(event.get("message"), str):
                    yield from _documents(event["message"])
            return
    for line in text.splitlines():
        start = line.find("{")
        if start < 0 or LOG_KEY not in line:
            continue
        try:
            yield json.loads(line[start:])
        except ValueError:
            continue


def from_logs(path: str | Path) -> list[Measurement]:
    """Every measurement line in the file at ``path``."""
    try:
        text = Path(path).read_text(errors="replace")
    except OSError as exc:
        raise ConfigError("--from-logs", f"cannot read {path}: {exc}") from None
    found = []
    for document in _documents(text):
        if isinstance(document, dict) and document.get(LOG_KEY) == 1:
            try:
                found.append(Measurement.from_log(document))
            except (TypeError, ValueError):
                continue
    return found


def from_store(path: str | Path) -> list[Measurement]:
    """Every measurement in a local measurements database."""
    from relaykit.measure_store import read_measurements

    return read_measurements(str(path))


async def from_runs(app: Any, workflow: str, limit: int = 200) -> list[Measurement]:
    """Step measurements rebuilt from the completed runs of ``workflow`` in the app's store."""
    engine = app.engine
    page = await engine.list(workflow=workflow, status="completed", limit=limit)
    found = []
    for run in page.runs:
        loaded = engine.store.load(run.run_id)
        if loaded is None:
            continue
        for step in loaded[1]:
            if step.status != "completed" or step.duration is None:
                continue
            found.append(
                Measurement(
                    handler=workflow,
                    kind="step",
                    target="store",
                    at=step.started_at,
                    wall_s=step.duration,
                    cpu_s=0.0,
                    cpu_exact=False,
                    model_wait_s=0.0,
                    model_calls=0,
                    input_tokens=0,
                    output_tokens=0,
                    model_cost_usd=0.0,
                    max_rss_mb=0.0,
                    response_bytes=len(step.value or ""),
                    streamed=False,
                    step=step.name,
                    run_id=run.run_id,
                )
            )
    return found

"""``RunView``: a run as the runs API shows it: status, result, steps, usage and invocations.

The step history comes from the step log; ``invocations`` from the progress log. Each executor
that takes a run over writes one ``invocation`` progress entry first (which request served it,
how much time it had, how many steps it replayed, whether the executor before it died), and ends
with ``suspended`` (with the reason it yielded and when it is due again) or a terminal entry
(``completed``, ``failed``, ``cancelled``). The ``step`` entries between them are the steps that
invocation committed. An invocation with no end entry before the next one began ``interrupted``
(its process was killed, or it lost its lease); the last one without an end is still ``running``.
An executor killed between taking the run and writing its entry is listed too (with no steps),
from the ``interrupted`` flag of the one that took over.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from relaykit.durable import codec
from relaykit.durable.store import TERMINAL, Progress, RunRecord, StepRecord

_TOKEN_KEYS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")


@dataclass(frozen=True)
class RunView:
    """A run as the runs API shows it (JSON-ready)."""

    run_id: str
    workflow: str
    status: str
    created_at: float
    updated_at: float
    result: Any = None
    error: dict[str, Any] | None = None
    steps: list[dict[str, Any]] = field(default_factory=list)
    usage: dict[str, Any] = field(default_factory=dict)
    """Model usage summed over the run's ``llm_step`` steps (tokens, ``cost_usd``, calls)."""
    invocations: list[dict[str, Any]] = field(default_factory=list)
    """One entry per executor that ran the run: see the module docstring."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "workflow": self.workflow,
            "status": self.status,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "result": self.result,
            "error": self.error,
            "steps": self.steps,
            "usage": self.usage,
            "invocations": self.invocations,
        }


def run_view(
    run: RunRecord, steps: tuple[StepRecord, ...], progress: Iterable[Progress] = ()
) -> RunView:
    history = []
    for step in steps:
        entry: dict[str, Any] = {
            "step_id": step.step_id,
            "name": step.name,
            "status": step.status,
            "attempts": step.attempts,
            "duration": step.duration,
        }
        if step.error:
            entry["error"] = codec.decode_error(step.error)
        if step.usage:
            entry["usage"] = json.loads(step.usage)
        history.append(entry)
    return RunView(
        run.run_id,
        run.workflow,
        run.status,
        run.created_at,
        run.updated_at,
        json.loads(run.result) if run.result is not None else None,
        codec.decode_error(run.error) if run.error else None,
        history,
        usage_total([entry["usage"] for entry in history if "usage" in entry]),
        invocations(progress),
    )


def usage_total(steps: list[dict[str, Any]]) -> dict[str, Any]:
    """Tokens, cost and calls summed over steps (failed attempts included); ``cost_usd`` is
    ``None`` if no step had a price."""
    total: dict[str, Any] = {key: sum(int(s.get(key, 0)) for s in steps) for key in _TOKEN_KEYS}
    costs = [float(s["cost_usd"]) for s in steps if s.get("cost_usd") is not None]
    total["cost_usd"] = round(sum(costs), 8) if costs else None
    total["model_steps"] = len(steps)
    total["model_calls"] = sum(int(s.get("calls", 1)) for s in steps)
    total["failed_calls"] = sum(int(s.get("failed_calls", 0)) for s in steps)
    return total


def _unrecorded(index: int) -> dict[str, Any]:
    """An executor that took the run and died before writing its ``invocation`` entry: known
    only because the next one found its lease expired (``RunRecord.interrupts``)."""
    return {
        "index": index,
        "started_at": None,
        "request_id": None,
        "interrupted": False,
        "steps": [],
        "ended": "interrupted",
        "reason": "the executor died before it recorded anything",
        "ended_at": None,
    }


def invocations(progress: Iterable[Progress]) -> list[dict[str, Any]]:
    """The invocations of a run, in order, from its progress log (see the module docstring)."""
    found: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    for entry in progress:
        if entry.kind == "token":
            continue
        if entry.kind == "invocation":
            data = json.loads(entry.data)
            if current is not None and current["ended"] == "running":
                current["ended"] = "interrupted"
            elif data.get("interrupted"):  # its predecessor died before it recorded anything
                found.append(_unrecorded(len(found) + 1))
            current = {"index": len(found) + 1, "started_at": entry.at}
            current.update(data)
            current.update(steps=[], ended="running", reason=None, ended_at=None)
            found.append(current)
            continue
        if current is None or current["ended"] != "running":
            continue  # entries of runs started before invocations were recorded
        data = json.loads(entry.data)
        if entry.kind == "step" and data.get("status") in ("completed", "failed"):
            current["steps"].append(data.get("name"))
        elif entry.kind == "suspended":
            current.update(ended="suspended", reason=data.get("reason"), ended_at=entry.at)
            current["due_at"] = data.get("due_at")
        elif entry.kind in TERMINAL:
            current.update(ended=entry.kind, ended_at=entry.at)
    return found

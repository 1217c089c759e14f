"""The engine as a container runs it: in-process continuations, the sweep after a restart,
the base Context's features on the workflow context, and a cheap import."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from pathlib import Path

from durable.harness import FakeClock, RecordingContinuation
from relaykit.context import Context
from relaykit.durable import Engine, InProcessContinuation, WorkflowContext, open_store
from relaykit.durable.store import RunRecord
from relaykit.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


class SimulatedCrash(BaseException):
    """The process dying mid-step."""


async def test_in_process_continuation_runs_started_runs_to_the_end(tmp_path: Path) -> None:
    """With the default continuation, start() is enough: the run executes on the event loop,
    short sleeps included."""
    engine = Engine(open_store(f"sqlite:///{tmp_path / 'r.db'}"))
    assert isinstance(engine.continuation, InProcessContinuation)

    async def wf(n: int, ctx: WorkflowContext) -> int:
        doubled = await ctx.step("double", lambda: n * 2)
        await ctx.sleep(0.01)
        return int(doubled) + 1

    run_id = await engine.start("wf", wf, 20)
    await engine.continuation.drain(max_delay=1.0)  # type: ignore[attr-defined]
    view = await engine.get(run_id)
    assert view.status == "completed" and view.result == 41


async def test_sweep_resumes_runs_abandoned_by_a_dead_executor(tmp_path: Path) -> None:
    """After a crash (a restarted container) the sweep finds the run by lease expiry and
    finishes it."""
    clock = FakeClock()
    store = open_store(f"sqlite:///{tmp_path / 'r.db'}")
    crashed: list[int] = []

    def step() -> str:
        if not crashed:
            crashed.append(1)
            raise SimulatedCrash
        return "ok"

    async def wf(ctx: WorkflowContext) -> str:
        return str(await ctx.step("s", step))

    first = Engine(store, RecordingContinuation(), clock=clock, lease_seconds=5)
    run_id = await first.start("wf", wf)
    with contextlib.suppress(SimulatedCrash):
        await first.resume(run_id)
    restarted = Engine(store, RecordingContinuation(), clock=clock, lease_seconds=5)
    restarted.register("wf", wf)
    assert await restarted.sweep() == []
    clock.advance(6)
    outcomes = await restarted.sweep()
    assert [(o.run_id, o.status, o.result) for o in outcomes] == [(run_id, "completed", "ok")]


async def test_workflow_context_keeps_the_base_context(tmp_path: Path) -> None:
    """ctx.llm, ctx.logger, ctx.settings and ctx.remaining_seconds() come through."""
    marker = object()

    def factory(run: RunRecord) -> Context:
        return Context(request_id=run.run_id, settings=Settings(), llm=marker)  # type: ignore[arg-type]

    engine = Engine(open_store("memory://"), RecordingContinuation(), context_factory=factory)
    seen: dict[str, object] = {}

    async def wf(ctx: WorkflowContext) -> None:
        seen["llm"] = ctx.llm
        seen["remaining"] = ctx.remaining_seconds()
        seen["request_id"] = ctx.request_id
        ctx.logger.info("inside")

    run_id = await engine.start("wf", wf)
    await engine.resume(run_id, remaining=lambda: 42.0)
    assert seen == {"llm": marker, "remaining": 42.0, "request_id": run_id}


def test_import_is_cheap() -> None:
    """Importing relaykit.durable (and opening a SQLite store) loads no boto3 and no pydantic."""
    code = (
        "import sys, relaykit.durable as d; d.open_store('memory://'); "
        "print(sorted(m for m in ('boto3', 'botocore', 'pydantic') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert result.stdout.strip() == "[]"

"""Crash safety: workflows in a real subprocess killed with SIGKILL at random moments."""

from __future__ import annotations

import itertools
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

from relaykit.durable import open_store
from relaykit.durable.view import run_view

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("crash_worker.py")
RUNS = 10
STEPS = 60
KILLS = 20


def _start(db: Path, log: Path, *, capture: bool = False) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'framework'}{os.pathsep}{ROOT / 'tests'}"}
    return subprocess.Popen(
        [sys.executable, str(WORKER), str(db), str(log)],
        env=env,
        stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )


def test_sigkill_at_random_moments_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    """~20 SIGKILLs at seeded random moments, then a final resume: every run completes with
    the right result, every step is committed exactly once, and the only re-executed steps
    are ones that were in flight (the last effect a killed process wrote)."""
    db, log = tmp_path / "crash.db", tmp_path / "effects.log"
    store = open_store(f"sqlite:///{db}")
    for i in range(RUNS):
        store.create_run(f"run{i}", "crash", str(STEPS), now=time.time())
    rng = random.Random(20261128)
    killed: set[int] = set()
    for _ in range(KILLS):
        worker = _start(db, log)
        time.sleep(rng.uniform(0.25, 0.6))
        if worker.poll() is not None:
            break
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        killed.add(worker.pid)
    final = _start(db, log, capture=True)
    output, _ = final.communicate(timeout=60)
    assert final.returncode == 0, output.decode()
    assert len(killed) >= KILLS // 2, "the workers finished before enough kills"

    expected = sum(i * i for i in range(STEPS))
    interrupted = 0
    for i in range(RUNS):
        loaded = store.load(f"run{i}")
        assert loaded is not None
        run, steps = loaded
        assert run.status == "completed" and run.result == str(expected)
        assert sorted(s.step_id for s in steps) == sorted(str(n) for n in range(STEPS))
        commits = Counter(
            p.data for p in store.progress(f"run{i}", limit=10_000) if p.kind == "step"
        )
        assert all(count == 1 for count in commits.values())
        assert len(commits) == STEPS
        # The run record's invocations: a killed one ends "interrupted" and the executor that
        # took over says so; the last one completed the run; together they committed every step.
        invocations = run_view(run, steps, store.progress(f"run{i}", limit=10_000)).invocations
        assert invocations[-1]["ended"] == "completed"
        assert sum(len(i["steps"]) for i in invocations) == STEPS
        for before, after in itertools.pairwise(invocations):
            assert before["ended"] in ("interrupted", "suspended")
            assert after["interrupted"] == (before["ended"] == "interrupted")
        interrupted += sum(1 for i in invocations if i["interrupted"])
    assert interrupted > 0, "no run record shows the executors that died"

    lines = [line.split() for line in log.read_text().splitlines()]
    last_line_of: dict[str, int] = {}
    runs_of: defaultdict[tuple[str, str], list[int]] = defaultdict(list)
    for number, (run_id, index, pid) in enumerate(lines):
        last_line_of[pid] = number
        runs_of[(run_id, index)].append(number)
    assert len(runs_of) == RUNS * STEPS
    reexecuted = 0
    for numbers in runs_of.values():
        for earlier in numbers[:-1]:
            pid = lines[earlier][2]
            assert int(pid) in killed, "a step re-ran although its process was not killed"
            assert last_line_of[pid] == earlier, "a re-run step was not the one in flight"
            reexecuted += 1
    assert reexecuted <= len(killed)
    store.close()

"""An agent run killed with SIGKILL mid-loop and resumed in a fresh process: no committed model
turn or tool call runs again, and the result equals an uninterrupted run's."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from relaykit.durable import open_store

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("agent_worker.py")
RUN_ID = "agent-run"


def start(db: Path, effects: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'framework'}{os.pathsep}{ROOT / 'tests'}"}
    return subprocess.Popen(
        [sys.executable, str(WORKER), str(db), str(effects)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def finish(worker: subprocess.Popen[bytes]) -> None:
    output, _ = worker.communicate(timeout=60)
    assert worker.returncode == 0, output.decode()


def lines(path: Path) -> list[list[str]]:
    return [line.split() for line in path.read_text().splitlines()] if path.exists() else []


def new_run(db: Path) -> None:
    store = open_store(f"sqlite:///{db}")
    store.create_run(RUN_ID, "/agent", '"do the work"', now=time.time())
    store.close()


def test_agent_killed_mid_loop_resumes_without_rerunning_committed_steps(
    tmp_path: Path,
) -> None:
    """Kill the worker once three tool calls have started (so at least two tool steps and two
    model turns are committed), resume in a new process, and compare with a clean run."""
    db, effects = tmp_path / "killed.db", tmp_path / "killed"
    effects.mkdir()
    new_run(db)
    worker = start(db, effects)
    deadline = time.monotonic() + 60
    while len(lines(effects / "tools.log")) < 3:
        assert worker.poll() is None, "the worker ended before it could be killed"
        assert time.monotonic() < deadline, "the worker made no progress"
        time.sleep(0.01)
    worker.send_signal(signal.SIGKILL)
    worker.communicate()  # reaps it and closes its pipe

    store = open_store(f"sqlite:///{db}")
    loaded = store.load(RUN_ID)
    assert loaded is not None
    run, steps = loaded
    assert not run.finished, "the run finished before the kill"
    committed = {s.step_id: s.name for s in steps if s.status == "completed"}
    assert {"turn:1", "tool:1:work", "turn:2", "tool:2:work"} <= set(committed.values())
    tools_before = len(lines(effects / "tools.log"))
    turns_before = len(lines(effects / "model.log"))

    finish(start(db, effects))

    after_tools = lines(effects / "tools.log")[tools_before:]
    after_turns = lines(effects / "model.log")[turns_before:]
    killed_pid = str(worker.pid)
    assert all(pid != killed_pid for _, pid in after_tools + after_turns)
    assert not {position for position, _ in after_tools} & set(committed)
    assert not {turn for turn, _ in after_turns} & set(committed.values())
    # At least once, and only for what was in flight: each tool position and each model turn
    # ran once, or twice when the killed process had started it without committing it.
    tool_runs = [position for position, _ in lines(effects / "tools.log")]
    turn_runs = [turn for turn, _ in lines(effects / "model.log")]
    assert len(tool_runs) - len(set(tool_runs)) <= 1
    assert len(turn_runs) - len(set(turn_runs)) <= 1
    assert len(set(tool_runs)) == 8 and len(set(turn_runs)) == 9

    clean_db, clean_effects = tmp_path / "clean.db", tmp_path / "clean"
    clean_effects.mkdir()
    new_run(clean_db)
    finish(start(clean_db, clean_effects))
    clean = open_store(f"sqlite:///{clean_db}")
    clean_loaded = clean.load(RUN_ID)
    final = store.load(RUN_ID)
    assert clean_loaded is not None and final is not None
    assert final[0].status == clean_loaded[0].status == "completed"
    assert final[0].result == clean_loaded[0].result
    assert [(s.step_id, s.name, s.value) for s in final[1]] == [
        (s.step_id, s.name, s.value) for s in clean_loaded[1]
    ]
    assert len(lines(clean_effects / "tools.log")) == 8
    store.close()
    clean.close()

"""`relaykit runs`: list, show, send and cancel runs in the app's store, as a real subprocess."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

from relaykit import App
from support import ROOT

RELAYKIT = str(Path(sys.executable).parent / "relaykit")
APP = str(ROOT / "examples" / "workflow_app.py")


def cli(store: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RELAYKIT_STORE": store}
    return subprocess.run(
        [RELAYKIT, "runs", *args], capture_output=True, text=True, env=env, timeout=60, check=False
    )


def test_runs_list_show_send_cancel(tmp_path: Path) -> None:
    """A pending run is listed, shown as JSON, receives an event, and is cancelled."""
    store = f"sqlite:///{tmp_path / 'runs.db'}"
    app = App("starter", settings={"store": store})

    async def noop(ctx: object) -> None:
        return None

    run_id = asyncio.run(app.engine.start("/research", noop, None, schedule=False))

    listed = cli(store, "list", APP, "--json")
    assert listed.returncode == 0, listed.stderr
    assert [row["run_id"] for row in json.loads(listed.stdout)["runs"]] == [run_id]

    shown = json.loads(cli(store, "show", APP, run_id).stdout)
    assert shown["status"] == "pending" and shown["workflow"] == "/research"

    sent = cli(store, "send", APP, run_id, "approve", "true")
    assert json.loads(sent.stdout) == {"run_id": run_id, "event": "approve", "index": 0}

    cancelled = cli(store, "cancel", APP, run_id)
    assert json.loads(cancelled.stdout)["status"] == "cancelled"


def test_unknown_run_and_bad_payload_exit_2(tmp_path: Path) -> None:
    """A missing run or a payload that is not JSON exits 2 with the reason."""
    store = f"sqlite:///{tmp_path / 'runs.db'}"
    missing = cli(store, "show", APP, "nope")
    assert missing.returncode == 2 and "no run 'nope'" in missing.stderr
    bad = cli(store, "send", APP, "nope", "approve", "{oops")
    assert bad.returncode == 2 and "not valid JSON" in bad.stderr

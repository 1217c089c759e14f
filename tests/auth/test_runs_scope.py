"""The runs API scoped to the caller: runs record who started them; alice and bob each see and
control only their own runs, the admin scope sees all, through uvicorn on loopback."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from auth.apps import build
from auth.kit import ALICE_KEY, BOB_KEY, KEYS, OPS_KEY, serve
from relaykit import App
from relaykit.auth import ApiKeyAuth
from relaykit.durable import WorkflowContext

ALICE = {"x-api-key": ALICE_KEY}
BOB = {"x-api-key": BOB_KEY}
OPS = {"x-api-key": OPS_KEY}


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[App, httpx.Client]]:
    app = build(tmp_path, auth=ApiKeyAuth(KEYS))
    with serve(app.asgi()) as url, httpx.Client(base_url=url, timeout=30) as client:
        yield app, client


def start(client: httpx.Client, headers: dict[str, str], **extra: str) -> str:
    response = client.post("/approve", json={"by": headers}, headers={**headers, **extra})
    assert response.status_code == 202, response.text
    run_id: str = response.json()["run_id"]
    return run_id


def listed(client: httpx.Client, headers: dict[str, str]) -> set[str]:
    response = client.get("/runs", headers=headers)
    assert response.status_code == 200, response.text
    return {run["run_id"] for run in response.json()["runs"]}


def test_each_caller_lists_and_reads_only_its_runs(served: tuple[App, httpx.Client]) -> None:
    """alice and bob each list only their own runs; reading the other's run is 404 (as if it
    did not exist); the admin lists both and reads either; the owner is in the list."""
    app, client = served
    mine, theirs = start(client, ALICE), start(client, BOB)
    assert listed(client, ALICE) == {mine}
    assert listed(client, BOB) == {theirs}
    assert listed(client, OPS) == {mine, theirs}
    assert client.get(f"/runs/{mine}", headers=ALICE).status_code == 200
    foreign = client.get(f"/runs/{theirs}", headers=ALICE)
    assert foreign.status_code == 404 and foreign.json()["error"]["type"] == "not_found"
    assert client.get(f"/runs/{theirs}", headers=OPS).status_code == 200
    owners = {r["run_id"]: r["owner"] for r in client.get("/runs", headers=OPS).json()["runs"]}
    assert owners == {mine: "api-key:alice", theirs: "api-key:bob"}
    record = app.engine.store.load(mine)
    assert record is not None and record[0].owner == "api-key:alice"


def test_cancel_events_and_streams_are_scoped(served: tuple[App, httpx.Client]) -> None:
    """bob cannot cancel, signal or follow alice's run (404 each, and her run is untouched);
    alice can signal her own run, which then completes, and follow it to the end; the admin
    can cancel anyone's run."""
    _, client = served
    run = start(client, ALICE)
    assert client.post(f"/runs/{run}/cancel", headers=BOB).status_code == 404
    assert client.post(f"/runs/{run}/events/ok", json="bob", headers=BOB).status_code == 404
    assert client.get(f"/runs/{run}/stream", headers=BOB).status_code == 404
    assert client.get(f"/runs/{run}", headers=ALICE).json()["status"] != "cancelled"
    assert client.post(f"/runs/{run}/events/ok", json="yes", headers=ALICE).status_code == 202
    with client.stream("GET", f"/runs/{run}/stream", headers=ALICE) as stream:
        assert stream.status_code == 200
        text = "".join(stream.iter_text())
    assert "event: end" in text and '"status": "completed"' in text
    view = client.get(f"/runs/{run}", headers=ALICE).json()
    assert view["status"] == "completed" and view["result"]["answer"] == "yes"
    other = start(client, BOB)
    cancelled = client.post(f"/runs/{other}/cancel", headers=OPS)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"


def test_idempotency_keys_are_per_caller(served: tuple[App, httpx.Client]) -> None:
    """The same Idempotency-Key from alice twice finds her first run; from bob it starts his
    own run instead of handing him alice's run id."""
    _, client = served
    key = {"idempotency-key": "order-42"}
    first = start(client, ALICE, **key)
    assert start(client, ALICE, **key) == first
    bobs = start(client, BOB, **key)
    assert bobs != first
    assert listed(client, BOB) == {bobs}


def test_a_public_workflow_run_has_no_owner_and_only_admins_see_it(tmp_path: Path) -> None:
    """A workflow registered public starts runs for anyone; they carry no owner, so only the
    admin scope lists them; the runs API still needs credentials."""
    app = build(tmp_path, auth=ApiKeyAuth(KEYS))

    @app.workflow("/hook", public=True)
    async def hook(body: dict[str, str]) -> str:
        return "ok"

    with serve(app.asgi()) as url, httpx.Client(base_url=url, timeout=30) as client:
        started = client.post("/hook", json={})
        assert started.status_code == 202
        run = started.json()["run_id"]
        assert client.get(f"/runs/{run}").status_code == 401
        assert client.get(f"/runs/{run}", headers=ALICE).status_code == 404
        assert run in listed(client, OPS)
        assert run not in listed(client, ALICE)


def test_without_auth_runs_are_unscoped_as_before(tmp_path: Path) -> None:
    """An app without authentication: runs have no owner, anyone lists and reads them, and
    the list carries no owner field."""
    app = build(tmp_path)
    with serve(app.asgi()) as url, httpx.Client(base_url=url, timeout=30) as client:
        run = start(client, {})
        runs = client.get("/runs").json()["runs"]
        assert [r["run_id"] for r in runs] == [run] and "owner" not in runs[0]
        assert client.get(f"/runs/{run}").status_code == 200
    record = app.engine.store.load(run)
    assert record is not None and record[0].owner is None


def test_admins_setting_grants_the_admin_scope(tmp_path: Path) -> None:
    """auth_admins names bob (api-key:bob) an admin: he then lists alice's runs too."""
    app = build(tmp_path, auth=ApiKeyAuth(KEYS), auth_admins="api-key:b*")
    with serve(app.asgi()) as url, httpx.Client(base_url=url, timeout=30) as client:
        mine = start(client, ALICE)
        assert mine in listed(client, BOB)
        assert listed(client, ALICE) == {mine}


def test_a_workflow_knows_who_started_its_run(tmp_path: Path) -> None:
    """``ctx.owner`` in a workflow is the caller that started the run, on every replay."""
    app = build(tmp_path, auth=ApiKeyAuth(KEYS))

    @app.workflow("/whoami")
    async def whoami(ctx: WorkflowContext) -> dict[str, str | None]:
        await ctx.sleep(0)
        return {"owner": ctx.owner}

    with serve(app.asgi()) as url, httpx.Client(base_url=url, timeout=30) as client:
        run_id = client.post("/whoami", headers=BOB).json()["run_id"]
        for _ in range(200):
            view = client.get(f"/runs/{run_id}", headers=BOB).json()
            if view["status"] == "completed":
                break
            time.sleep(0.05)
    assert view["result"] == {"owner": "api-key:bob"}

"""Run owners in every store (SQLite file, memory, DynamoDB on moto's server with real boto3):
recorded at creation, read back, listed by owner; an older SQLite database gains the column."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from auth.kit import aws_client, moto
from relaykit.durable import Store, open_store

NOW = 1_800_000_000.0


@pytest.fixture(scope="module")
def aws() -> Iterator[str]:
    with moto() as endpoint:
        yield endpoint


def make_dynamodb_store(endpoint: str) -> Store:
    name = f"t{uuid.uuid4().hex[:10]}"
    clients = {"dynamodb": aws_client("dynamodb", endpoint), "s3": aws_client("s3", endpoint)}
    clients["s3"].create_bucket(Bucket=name)
    store = open_store(f"dynamodb://{name}?bucket={name}", **clients)
    store.create_table()  # type: ignore[attr-defined]
    return store


@pytest.fixture(params=["sqlite", "memory", "dynamodb"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        made = open_store(f"sqlite:///{tmp_path / 'runs.db'}")
    elif request.param == "memory":
        made = open_store("memory://")
    else:
        made = make_dynamodb_store(request.getfixturevalue("aws"))
    yield made
    made.close()


def test_owner_is_recorded_and_listed(store: Store) -> None:
    """create_run records the owner (None when not given); list_runs(owner=...) returns only
    that owner's runs, newest first, with the other filters and paging still applying."""
    for i in range(5):
        owner = "api-key:alice" if i % 2 == 0 else "api-key:bob"
        store.create_run(f"r{i}", "wf", "null", now=NOW + i, owner=owner)
    store.create_run("anon", "wf", "null", now=NOW + 10)
    loaded = store.load("r0")
    assert loaded is not None and loaded[0].owner == "api-key:alice"
    anonymous = store.load("anon")
    assert anonymous is not None and anonymous[0].owner is None
    alice = store.list_runs(owner="api-key:alice")
    assert [r.run_id for r in alice.runs] == ["r4", "r2", "r0"]
    assert all(r.owner == "api-key:alice" for r in alice.runs)
    first = store.list_runs(owner="api-key:alice", limit=2)
    assert [r.run_id for r in first.runs] == ["r4", "r2"] and first.cursor
    rest = store.list_runs(owner="api-key:alice", limit=2, cursor=first.cursor)
    assert [r.run_id for r in rest.runs] == ["r0"]
    assert [r.run_id for r in store.list_runs(owner="api-key:bob", workflow="wf").runs] == [
        "r3",
        "r1",
    ]
    assert len(store.list_runs().runs) == 6


def test_owner_survives_the_run_lifecycle(store: Store) -> None:
    """The owner stays on the run through acquire and finish."""
    store.create_run("r1", "wf", "null", now=NOW, owner="jwt:user-1")
    acquired = store.acquire("r1", "exec", now=NOW, lease_seconds=30)
    assert acquired.lease is not None and acquired.run is not None
    assert acquired.run.owner == "jwt:user-1"
    store.finish(acquired.lease, "completed", now=NOW + 1, result="1")
    loaded = store.load("r1")
    assert loaded is not None and loaded[0].owner == "jwt:user-1" and loaded[0].finished


def test_an_older_sqlite_database_gains_the_owner_column(tmp_path: Path) -> None:
    """A database made before runs had owners opens, keeps its runs (owner None) and records
    owners from then on."""
    path = tmp_path / "old.db"
    store = open_store(f"sqlite:///{path}")
    store.create_run("old", "wf", "null", now=NOW)
    store.close()
    db = sqlite3.connect(path)
    db.executescript(
        "DROP INDEX runs_owner; CREATE TABLE runs2 AS SELECT run_id, workflow, status, input, "
        "result, error, idempotency_key, version, lease_owner, lease_expires, due_at, "
        "interrupts, cancel_requested, event_seq, progress_seq, created_at, updated_at FROM runs;"
        "DROP TABLE runs; ALTER TABLE runs2 RENAME TO runs;"
    )
    db.close()
    reopened = open_store(f"sqlite:///{path}")
    old = reopened.load("old")
    assert old is not None and old[0].owner is None
    reopened.create_run("new", "wf", "null", now=NOW + 1, owner="api-key:alice")
    assert [r.run_id for r in reopened.list_runs(owner="api-key:alice").runs] == ["new"]
    reopened.close()

"""One conformance suite, run against every store (SQLite file, memory, DynamoDB via moto), each
plain and wrapped in an ``EncryptedStore`` (a local key; unencrypted values refused)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from durable.conftest import make_dynamodb_store
from relaykit.durable import open_store
from relaykit.durable.encryption import Cipher, EncryptedStore, LocalKeys
from relaykit.durable.store import StepRecord, Store
from relaykit.errors import LeaseLost, StoreError

NOW = 1_800_000_000.0
LEASE = 30.0


@pytest.fixture(
    params=[
        "sqlite",
        "memory",
        "dynamodb",
        "sqlite+encrypted",
        "memory+encrypted",
        "dynamodb+encrypted",
    ]
)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """Each store implementation in turn, plain and encrypted (one conformance suite for all)."""
    kind, _, encrypted = str(request.param).partition("+")
    if kind == "sqlite":
        made = open_store(f"sqlite:///{tmp_path / 'runs.db'}")
    elif kind == "memory":
        made = open_store("memory://")
    else:
        made = make_dynamodb_store(request.getfixturevalue("moto_endpoint"))
    if encrypted:
        made = EncryptedStore(made, Cipher(LocalKeys([os.urandom(32)])), plaintext="reject")
    yield made
    made.close()


def _done(step_id: str, name: str = "s", value: str = "1") -> StepRecord:
    return StepRecord(step_id, name, "completed", value=value, started_at=NOW, duration=0.5)


def test_create_run_is_idempotent_by_key(store: Store) -> None:
    """The same idempotency key returns the first run instead of creating a second."""
    _first, created = store.create_run("r1", "wf", '{"a":1}', now=NOW, idempotency_key="k")
    again, created_again = store.create_run("r2", "wf", "{}", now=NOW, idempotency_key="k")
    assert created and not created_again
    assert again.run_id == "r1" and again.input == '{"a":1}'
    assert store.load("r2") is None


def test_acquire_fences_other_executors_until_expiry(store: Store) -> None:
    """One live lease at a time; an expired lease is taken over with a new version, counting
    an interruption, and the old holder's writes then fail with LeaseLost."""
    store.create_run("r1", "wf", "null", now=NOW)
    first = store.acquire("r1", "a", now=NOW, lease_seconds=LEASE)
    assert first.lease is not None and first.run is not None and first.run.status == "running"
    assert store.acquire("r1", "b", now=NOW + 1, lease_seconds=LEASE).reason == "busy"
    second = store.acquire("r1", "b", now=NOW + LEASE + 1, lease_seconds=LEASE)
    assert second.lease is not None and second.interrupted
    assert second.lease.version == first.lease.version + 1
    assert second.run is not None and second.run.interrupts == 1
    with pytest.raises(LeaseLost, match="lease lost"):
        store.commit_step(first.lease, _done("0"), now=NOW + LEASE + 2, lease_seconds=LEASE)
    assert store.commit_step(second.lease, _done("0"), now=NOW + 32, lease_seconds=LEASE) == (
        "committed"
    )


def test_steps_load_in_commit_order_and_are_never_overwritten(store: Store) -> None:
    """Committed steps come back in commit order; a running record may be completed once, a
    completed one never again."""
    store.create_run("r1", "wf", "null", now=NOW)
    lease = store.acquire("r1", "a", now=NOW, lease_seconds=LEASE).lease
    assert lease is not None
    store.commit_step(lease, _done("0", "a", '"x"'), now=NOW, lease_seconds=LEASE)
    running = StepRecord("1", "b", "running", attempts=1, started_at=NOW)
    store.commit_step(lease, running, now=NOW, lease_seconds=LEASE)
    store.commit_step(lease, _done("1", "b", "[1,2]"), now=NOW, lease_seconds=LEASE)
    store.commit_step(lease, _done("2.0.0", "c"), now=NOW, lease_seconds=LEASE)
    with pytest.raises(StoreError, match="never recorded twice"):
        store.commit_step(lease, _done("1", "b", "3"), now=NOW, lease_seconds=LEASE)
    loaded = store.load("r1")
    assert loaded is not None
    _run, steps = loaded
    assert [(s.step_id, s.name, s.status, s.value) for s in steps] == [
        ("0", "a", "completed", '"x"'),
        ("1", "b", "completed", "[1,2]"),
        ("2.0.0", "c", "completed", "1"),
    ]
    again = store.acquire("r1", "b", now=NOW + 100, lease_seconds=LEASE)
    assert [s.step_id for s in again.steps] == ["0", "1", "2.0.0"]


def test_suspend_until_due_then_resume(store: Store) -> None:
    """A suspended run is not due before its time, is listed as due after it, and can be
    acquired then; a run waiting without a time is never due."""
    store.create_run("r1", "wf", "null", now=NOW)
    lease = store.acquire("r1", "a", now=NOW, lease_seconds=LEASE).lease
    assert lease is not None
    assert store.suspend(lease, now=NOW, due_at=NOW + 100) == "suspended"
    assert store.acquire("r1", "b", now=NOW + 50, lease_seconds=LEASE).reason == "not_due"
    assert "r1" not in store.due_runs(now=NOW + 50)
    assert "r1" in store.due_runs(now=NOW + 100)
    second = store.acquire("r1", "b", now=NOW + 100, lease_seconds=LEASE)
    assert second.lease is not None and not second.interrupted
    assert store.suspend(second.lease, now=NOW + 100, due_at=None) == "suspended"
    assert store.due_runs(now=NOW + 10_000) == []


def test_events_are_indexed_and_wake_the_run(store: Store) -> None:
    """Events of one name get indexes 0, 1...; delivering one makes a suspended run due, and an
    executor about to suspend learns that an event arrived instead."""
    store.create_run("r1", "wf", "null", now=NOW)
    lease = store.acquire("r1", "a", now=NOW, lease_seconds=LEASE).lease
    assert lease is not None
    assert store.deliver_event("r1", "approve", '{"ok":true}', now=NOW) == 0
    assert store.suspend(lease, now=NOW, due_at=None) == "event"
    assert store.suspend(lease, now=NOW, due_at=None) == "suspended"
    assert store.deliver_event("r1", "approve", '"second"', now=NOW + 5) == 1
    assert store.due_runs(now=NOW + 5) == ["r1"]
    assert store.get_event("r1", "approve", 0) == '{"ok":true}'
    assert store.get_event("r1", "approve", 1) == '"second"'
    assert store.get_event("r1", "approve", 2) is None
    assert store.get_event("r1", "other", 0) is None


def test_cancel_live_run_stops_its_next_commit(store: Store) -> None:
    """Cancelling a run that an executor holds flags it; the executor's next commit is refused."""
    store.create_run("r1", "wf", "null", now=NOW)
    lease = store.acquire("r1", "a", now=NOW, lease_seconds=LEASE).lease
    assert lease is not None
    flagged = store.request_cancel("r1", now=NOW + 1)
    assert flagged.status == "running" and flagged.cancel_requested
    assert store.commit_step(lease, _done("0"), now=NOW + 2, lease_seconds=LEASE) == "cancelled"
    assert store.suspend(lease, now=NOW + 2, due_at=None) == "cancelled"
    store.finish(lease, "cancelled", now=NOW + 3)
    loaded = store.load("r1")
    assert loaded is not None and loaded[0].status == "cancelled" and loaded[1] == ()


def test_cancel_idle_run_is_immediate_and_fences_zombies(store: Store) -> None:
    """Cancelling a run nobody holds ends it at once and bumps its version."""
    store.create_run("r1", "wf", "null", now=NOW)
    zombie = store.acquire("r1", "a", now=NOW, lease_seconds=LEASE).lease
    assert zombie is not None
    cancelled = store.request_cancel("r1", now=NOW + LEASE + 1)
    assert cancelled.status == "cancelled"
    with pytest.raises(LeaseLost):
        store.commit_step(zombie, _done("0"), now=NOW + LEASE + 2, lease_seconds=LEASE)
    assert store.acquire("r1", "b", now=NOW + 40, lease_seconds=LEASE).reason == "finished"
    assert store.request_cancel("r1", now=NOW + 50).status == "cancelled"


def test_finish_records_result_and_leaves_the_due_list(store: Store) -> None:
    """A finished run keeps its result, is no longer due and cannot be acquired."""
    store.create_run("r1", "wf", "null", now=NOW)
    lease = store.acquire("r1", "a", now=NOW, lease_seconds=LEASE).lease
    assert lease is not None
    store.finish(lease, "completed", now=NOW + 1, result='{"answer":42}')
    loaded = store.load("r1")
    assert loaded is not None
    assert loaded[0].status == "completed" and loaded[0].result == '{"answer":42}'
    assert store.due_runs(now=NOW + 10_000) == []
    refused = store.acquire("r1", "b", now=NOW + 2, lease_seconds=LEASE)
    assert refused.lease is None and refused.reason == "finished"


def test_due_runs_finds_new_and_abandoned_runs(store: Store) -> None:
    """The sweep finds never-started runs and runs whose executor's lease expired."""
    store.create_run("new", "wf", "null", now=NOW)
    store.create_run("held", "wf", "null", now=NOW)
    assert store.acquire("held", "a", now=NOW, lease_seconds=LEASE).lease is not None
    assert store.due_runs(now=NOW + 1) == ["new"]
    assert sorted(store.due_runs(now=NOW + LEASE + 1)) == ["held", "new"]


def test_list_runs_filters_and_pages(store: Store) -> None:
    """Runs list newest first, filter by workflow and status, and page with a cursor."""
    for i in range(5):
        store.create_run(f"r{i}", "a" if i % 2 == 0 else "b", "null", now=NOW + i)
    lease = store.acquire("r4", "x", now=NOW + 10, lease_seconds=LEASE).lease
    assert lease is not None
    store.finish(lease, "completed", now=NOW + 11, result="1")
    assert [r.run_id for r in store.list_runs().runs] == ["r4", "r3", "r2", "r1", "r0"]
    assert [r.run_id for r in store.list_runs(workflow="a").runs] == ["r4", "r2", "r0"]
    assert [r.run_id for r in store.list_runs(status="completed").runs] == ["r4"]
    first = store.list_runs(limit=2)
    assert [r.run_id for r in first.runs] == ["r4", "r3"] and first.cursor
    second = store.list_runs(limit=2, cursor=first.cursor)
    assert [r.run_id for r in second.runs] == ["r2", "r1"]
    third = store.list_runs(limit=2, cursor=second.cursor)
    assert [r.run_id for r in third.runs] == ["r0"] and third.cursor is None


def test_progress_ids_increase_by_one_and_resume_after_an_id(store: Store) -> None:
    """Every executor write adds one progress entry; ids are 1, 2, 3... per run."""
    store.create_run("r1", "wf", "null", now=NOW)
    lease = store.acquire("r1", "a", now=NOW, lease_seconds=LEASE).lease
    assert lease is not None
    store.commit_step(lease, _done("0"), now=NOW, lease_seconds=LEASE)
    store.suspend(lease, now=NOW, due_at=NOW)
    lease = store.acquire("r1", "b", now=NOW + 1, lease_seconds=LEASE).lease
    assert lease is not None
    store.commit_step(lease, _done("1"), now=NOW + 1, lease_seconds=LEASE)
    store.finish(lease, "completed", now=NOW + 2, result="2")
    entries = store.progress("r1")
    assert [(p.id, p.kind) for p in entries] == [
        (1, "created"),
        (2, "step"),
        (3, "suspended"),
        (4, "step"),
        (5, "completed"),
    ]
    assert [p.id for p in store.progress("r1", after_id=3)] == [4, 5]


def test_large_values_round_trip(store: Store) -> None:
    """A 300 kB step value round-trips (DynamoDB keeps it in S3 by reference)."""
    big = '"' + "x" * 300_000 + '"'
    store.create_run("r1", "wf", big, now=NOW)
    lease = store.acquire("r1", "a", now=NOW, lease_seconds=LEASE).lease
    assert lease is not None
    store.commit_step(lease, _done("0", value=big), now=NOW, lease_seconds=LEASE)
    loaded = store.load("r1")
    assert loaded is not None
    assert loaded[0].input == big and loaded[1][0].value == big


def test_append_progress_takes_the_next_id_and_is_fenced(store: Store) -> None:
    """Progress entries appended between commits (model tokens) take the next ids, in order
    with the step commits, survive a lease change, and a stale lease cannot append."""
    store.create_run("r1", "wf", "null", now=NOW)
    first = store.acquire("r1", "a", now=NOW, lease_seconds=LEASE).lease
    assert first is not None
    assert store.append_progress(first, "token", {"text": "Hel"}, now=NOW) == 2
    assert store.append_progress(first, "token", {"text": "lo"}, now=NOW) == 3
    store.commit_step(first, _done("0"), now=NOW, lease_seconds=LEASE)
    second = store.acquire("r1", "b", now=NOW + LEASE + 1, lease_seconds=LEASE).lease
    assert second is not None and second.progress_seq == 4
    with pytest.raises(LeaseLost):
        store.append_progress(first, "token", {"text": "zombie"}, now=NOW + LEASE + 2)
    assert store.append_progress(second, "token", {"text": "!"}, now=NOW + LEASE + 2) == 5
    entries = store.progress("r1")
    assert [(p.id, p.kind) for p in entries] == [
        (1, "created"),
        (2, "token"),
        (3, "token"),
        (4, "step"),
        (5, "token"),
    ]
    assert [json.loads(p.data)["text"] for p in entries if p.kind == "token"] == ["Hel", "lo", "!"]
    assert [p.id for p in store.progress("r1", after_id=3)] == [4, 5]


def test_step_usage_round_trips_and_reaches_the_progress_entry(store: Store) -> None:
    """A step's usage record is stored with it, loaded back, and shown in its progress entry."""
    usage = '{"model":"m","input_tokens":3,"output_tokens":5,"cost_usd":0.25}'
    store.create_run("r1", "wf", "null", now=NOW)
    lease = store.acquire("r1", "a", now=NOW, lease_seconds=LEASE).lease
    assert lease is not None
    step = StepRecord("0", "turn:1", "completed", value="{}", started_at=NOW, usage=usage)
    store.commit_step(lease, step, now=NOW, lease_seconds=LEASE)
    store.commit_step(lease, _done("1"), now=NOW, lease_seconds=LEASE)
    loaded = store.load("r1")
    assert loaded is not None
    assert [s.usage for s in loaded[1]] == [usage, None]
    data = [json.loads(p.data) for p in store.progress("r1") if p.kind == "step"]
    assert data[0]["usage"] == json.loads(usage) and "usage" not in data[1]

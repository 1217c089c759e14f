"""The ``Store`` protocol on DynamoDB: one table, conditional writes, S3 for large values.

Items of a run share the partition key ``pk = run_id``: the run item (``sk = "R"``), its steps
(``S#<step id>``), events (``E#<name>#<index>``) and progress entries (``P#<id>``). Loading a run
is one ``Query`` (``sk >= "R"``: the run item and every step) plus pages. Every executor write is
a ``TransactWriteItems`` whose run-item update is conditional on ``version`` (fencing), so one
step costs one API call. Two GSIs: ``due`` (``due_pk``, ``due_at``; only unfinished runs carry
``due_pk``) for the sweep, and ``runs`` (``kind``, ``created_at``) for listing. Finished runs get
``expires_at`` (enable TTL on it); step items carry a long safety TTL.

Text values larger than ``offload_bytes`` go to S3 (``bucket``) and the item keeps the key.
boto3 is imported only when no client is injected.

Modules: ``dynamodb_items`` (attribute values, transient errors), ``dynamodb_base`` (table,
item mapping, S3 offload, calls and conditional-write helpers), ``dynamodb_reads``,
``dynamodb_runs`` (writes from outside an execution) and this one (the executor's writes).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from relaykit.durable.dynamodb_items import attr_n, attr_s, failed, is_conditional_failure
from relaykit.durable.dynamodb_runs import DynamoDBRuns
from relaykit.durable.store import (
    TERMINAL,
    Acquired,
    CommitResult,
    Lease,
    RunRecord,
    RunStatus,
    StepRecord,
    SuspendResult,
    step_progress,
    suspend_note,
)
from relaykit.errors import StoreError


class DynamoDBStore(DynamoDBRuns):
    """The ``Store`` protocol on a DynamoDB table (see the module docstring for the layout)."""

    def acquire(self, run_id: str, owner: str, *, now: float, lease_seconds: float) -> Acquired:
        run, steps = self._load_items(run_id)
        if run is None:
            return Acquired(None, reason="missing")
        if run.finished:
            return Acquired(run, steps, reason="finished")
        live = run.lease_owner is not None and run.lease_expires > now
        if live and run.lease_owner != owner:
            return Acquired(run, steps, reason="busy")
        waiting = run.status == "suspended" and not run.cancel_requested
        if waiting and (run.due_at is None or run.due_at > now):
            return Acquired(run, steps, reason="not_due")
        interrupted = run.status == "running" and not live
        expires = now + lease_seconds
        try:
            self._call(
                "update_item",
                True,
                TableName=self.table,
                Key={"pk": attr_s(run_id), "sk": attr_s("R")},
                UpdateExpression="SET #st = :running, lease_owner = :o, lease_expires = :e, "
                "due_pk = :due, due_at = :e, version = :nv, interrupts = interrupts + :i, "
                "updated_at = :now",
                ConditionExpression="version = :v",
                ExpressionAttributeNames={"#st": "status"},
                ExpressionAttributeValues={
                    ":running": attr_s("running"),
                    ":o": attr_s(owner),
                    ":e": attr_n(expires),
                    ":due": attr_s("due"),
                    ":nv": attr_n(run.version + 1),
                    ":v": attr_n(run.version),
                    ":i": attr_n(int(interrupted)),
                    ":now": attr_n(now),
                },
            )
        except Exception as exc:
            if not is_conditional_failure(exc):
                raise failed(f"DynamoDB table {self.table}: acquire", exc) from exc
            # A retry of an update that was applied although its answer was lost fails the
            # condition too: then the run is ours at the next version.
            current = self._get_run(run_id)
            mine = current is not None and current.version == run.version + 1
            if not (mine and current is not None and current.lease_owner == owner):
                return Acquired(current or run, steps, reason="busy")
        lease = Lease(run_id, owner, run.version + 1, run.progress_seq, run.event_seq)
        fresh = RunRecord(
            **{
                **run.__dict__,
                "status": "running",
                "lease_owner": owner,
                "lease_expires": expires,
                "due_at": expires,
                "version": run.version + 1,
                "interrupts": run.interrupts + int(interrupted),
            }
        )
        return Acquired(fresh, steps, lease, interrupted=interrupted)

    def load(self, run_id: str) -> tuple[RunRecord, tuple[StepRecord, ...]] | None:
        run, steps = self._load_items(run_id)
        return None if run is None else (run, steps)

    # Executor writes ----------------------------------------------------------------------
    def commit_step(
        self, lease: Lease, step: StepRecord, *, now: float, lease_seconds: float
    ) -> CommitResult:
        seq = lease.progress_seq + 1
        expires = now + lease_seconds
        item: dict[str, Any] = {
            "pk": attr_s(lease.run_id),
            "sk": attr_s(f"S#{step.step_id}"),
            "kind": attr_s("step"),
            "name": attr_s(step.name),
            "status": attr_s(step.status),
            "attempts": attr_n(step.attempts),
            "started_at": attr_n(step.started_at),
            "commit_seq": attr_n(seq),
            "expires_at": attr_n(int(now + self.step_ttl_seconds)),
        }
        if step.duration is not None:
            item["duration"] = attr_n(step.duration)
        if step.wake_at is not None:
            item["wake_at"] = attr_n(step.wake_at)
        if step.usage is not None:
            item["usage"] = attr_s(step.usage)
        self._put_text(item, "value", step.value, lease.run_id)
        self._put_text(item, "error", step.error, lease.run_id)
        ok = self._transact(
            [
                self._run_update(
                    lease,
                    "SET progress_seq = :seq, lease_expires = :e, due_at = :e, updated_at = :now",
                    {
                        ":seq": attr_n(seq),
                        ":e": attr_n(expires),
                        ":now": attr_n(now),
                        ":f": {"BOOL": False},
                    },
                    " AND cancel_requested = :f",
                ),
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": item,
                        "ConditionExpression": "attribute_not_exists(pk) OR #st IN (:r, :w)",
                        "ExpressionAttributeNames": {"#st": "status"},
                        "ExpressionAttributeValues": {
                            ":r": attr_s("running"),
                            ":w": attr_s("waiting"),
                        },
                    }
                },
                self._progress_put(lease.run_id, seq, "step", step_progress(step), now),
            ]
        )
        if not ok:
            run = self._fenced_failure(lease)
            if run.cancel_requested:
                return "cancelled"
            self._check_progress(lease, run)
            raise StoreError(
                f"run {lease.run_id}: step {step.step_id} ({step.name!r}) is already "
                "committed; a step result is never recorded twice"
            )
        lease.progress_seq = seq
        return "committed"

    def finish(
        self,
        lease: Lease,
        status: RunStatus,
        *,
        now: float,
        result: str | None = None,
        error: str | None = None,
    ) -> None:
        if status not in TERMINAL:
            raise ValueError(f"finish() needs a terminal status, got {status!r}")
        seq = lease.progress_seq + 1
        texts: dict[str, Any] = {}
        self._put_text(texts, "result", result, lease.run_id)
        self._put_text(texts, "error", error, lease.run_id)
        sets = ", ".join(f"#{key} = :{key}" for key in texts)
        values = {f":{key}": value for key, value in texts.items()}
        expression = (
            "SET #st = :status, progress_seq = :seq, updated_at = :now, expires_at = :x, "
            "lease_expires = :zero"
            + (", " + sets if sets else "")
            + " REMOVE lease_owner, due_pk, due_at"
        )
        ok = self._transact(
            [
                self._run_update(
                    lease,
                    expression,
                    {
                        ":status": attr_s(status),
                        ":seq": attr_n(seq),
                        ":now": attr_n(now),
                        ":x": attr_n(int(now + self.retention_seconds)),
                        ":zero": attr_n(0),
                        **values,
                    },
                ),
                self._progress_put(lease.run_id, seq, status, {}, now),
            ]
        )
        if not ok:
            self._check_progress(lease, self._fenced_failure(lease))
            raise StoreError(f"run {lease.run_id}: finish failed a condition")
        lease.progress_seq = seq

    def suspend(
        self, lease: Lease, *, now: float, due_at: float | None, reason: str = ""
    ) -> SuspendResult:
        seq = lease.progress_seq + 1
        note = suspend_note(due_at, reason)
        values: dict[str, Any] = {
            ":seq": attr_n(seq),
            ":now": attr_n(now),
            ":f": {"BOOL": False},
            ":ev": attr_n(lease.event_seq),
            ":s": attr_s("suspended"),
            ":zero": attr_n(0),
        }
        if due_at is None:
            expression = (
                "SET #st = :s, progress_seq = :seq, updated_at = :now, lease_expires = :zero "
                "REMOVE lease_owner, due_pk, due_at"
            )
        else:
            expression = (
                "SET #st = :s, progress_seq = :seq, updated_at = :now, lease_expires = :zero, "
                "due_pk = :due, due_at = :d REMOVE lease_owner"
            )
            values.update({":due": attr_s("due"), ":d": attr_n(due_at)})
        ok = self._transact(
            [
                self._run_update(
                    lease, expression, values, " AND cancel_requested = :f AND event_seq = :ev"
                ),
                self._progress_put(lease.run_id, seq, "suspended", note, now),
            ]
        )
        if not ok:
            run = self._fenced_failure(lease)
            if run.cancel_requested:
                return "cancelled"
            self._check_progress(lease, run)
            lease.event_seq = run.event_seq
            return "event"
        lease.progress_seq = seq
        return "suspended"

    def renew(self, lease: Lease, *, now: float, lease_seconds: float) -> None:
        expires = now + lease_seconds
        try:
            self._call(
                "update_item",
                True,
                TableName=self.table,
                Key={"pk": attr_s(lease.run_id), "sk": attr_s("R")},
                UpdateExpression="SET lease_expires = :e, due_at = :e",
                ConditionExpression="version = :v",
                ExpressionAttributeValues={":e": attr_n(expires), ":v": attr_n(lease.version)},
            )
        except Exception as exc:
            if is_conditional_failure(exc):
                self._fenced_failure(lease)
            raise failed(f"DynamoDB table {self.table}: renew", exc) from exc

    def append_progress(
        self, lease: Lease, kind: str, data: Mapping[str, Any], *, now: float
    ) -> int:
        seq = lease.progress_seq + 1
        ok = self._transact(
            [
                self._run_update(lease, "SET progress_seq = :seq", {":seq": attr_n(seq)}),
                self._progress_put(lease.run_id, seq, kind, data, now),
            ]
        )
        if not ok:
            self._check_progress(lease, self._fenced_failure(lease))
            raise StoreError(
                f"run {lease.run_id}: progress entry {seq} failed a condition", transient=True
            )
        lease.progress_seq = seq
        return seq


__all__ = ["DynamoDBStore"]

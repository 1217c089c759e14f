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
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from typing import Any

from relaykit.durable.s3_blobs import S3Blobs
from relaykit.durable.store import (
    TERMINAL,
    Acquired,
    CommitResult,
    Lease,
    Progress,
    RunPage,
    RunRecord,
    RunStatus,
    StepRecord,
    StoreStats,
    SuspendResult,
    step_progress,
    suspend_note,
)
from relaykit.errors import LeaseLost, MissingExtraError, RunNotFound, StoreError

_RUN_TEXT = ("input", "result", "error")
_STEP_TEXT = ("value", "error")
_DAY = 86_400.0


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: float) -> dict[str, str]:
    return {"N": repr(float(value)) if isinstance(value, float) else str(value)}


def _num(item: dict[str, Any], key: str, default: float | None = None) -> Any:
    raw = item.get(key)
    if raw is None:
        return default
    text = raw["N"]
    return float(text) if any(c in text for c in ".eE") else int(text)


def _str(item: dict[str, Any], key: str) -> str | None:
    raw = item.get(key)
    return None if raw is None else str(raw["S"])


_TRANSIENT_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionConflictException",
        "TransactionInProgressException",
    }
)
_TRANSIENT_CLASSES = frozenset(
    {"EndpointConnectionError", "ConnectionClosedError", "ReadTimeoutError", "ConnectTimeoutError"}
)


def _is_transient(exc: BaseException) -> bool:
    """Throttling, a 5xx, a lost or timed-out connection: worth trying again later."""
    code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
    if code in _TRANSIENT_CODES:
        return True
    status = getattr(exc, "response", {}).get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    if isinstance(status, int) and status >= 500:
        return True
    return any(cls.__name__ in _TRANSIENT_CLASSES for cls in type(exc).__mro__)


def _failed(what: str, exc: BaseException) -> StoreError:
    """The ``StoreError`` for a failed call, marked ``transient`` when trying later can help."""
    return StoreError(f"{what} failed: {exc}", transient=_is_transient(exc))


def _is_conditional_failure(exc: Exception) -> bool:
    code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
    return code in ("ConditionalCheckFailedException", "TransactionCanceledException")


class DynamoDBStore:
    """The ``Store`` protocol on a DynamoDB table (see the module docstring for the layout)."""

    blocking = True

    def __init__(
        self,
        table: str,
        *,
        bucket: str | None = None,
        offload_bytes: int = 200_000,
        dynamodb: Any = None,
        s3: Any = None,
        retention_seconds: float = 14 * _DAY,
        step_ttl_seconds: float = 400 * _DAY,
    ) -> None:
        self.table = table
        self.offload_bytes = offload_bytes
        self.retention_seconds = retention_seconds
        self.step_ttl_seconds = step_ttl_seconds
        self.stats = StoreStats()
        self.client = dynamodb if dynamodb is not None else _boto3_client("dynamodb")
        self.blobs: S3Blobs | None = None
        if bucket:
            self.blobs = S3Blobs(s3 if s3 is not None else _boto3_client("s3"), bucket)

    def __repr__(self) -> str:
        return f"DynamoDBStore({self.table!r})"

    # Table --------------------------------------------------------------------------------

    def create_table(self) -> None:
        """Create the table, its two indexes and TTL (for tests and first deploys)."""
        strings = [("pk", "S"), ("sk", "S"), ("due_pk", "S"), ("kind", "S")]
        numbers = [("due_at", "N"), ("created_at", "N")]
        self.client.create_table(
            TableName=self.table,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": n, "AttributeType": t} for n, t in strings + numbers
            ],
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            GlobalSecondaryIndexes=[
                _gsi("due", "due_pk", "due_at"),
                _gsi("runs", "kind", "created_at"),
            ],
        )
        self.client.get_waiter("table_exists").wait(TableName=self.table)
        self.client.update_time_to_live(
            TableName=self.table,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"},
        )

    # Encoding -----------------------------------------------------------------------------

    def _put_text(self, item: dict[str, Any], key: str, text: str | None, run_id: str) -> None:
        if text is None:
            return
        if len(text) > self.offload_bytes // 4 and len(text.encode()) > self.offload_bytes:
            if self.blobs is None:
                raise StoreError(
                    f"a {key} of {len(text.encode())} bytes is above the DynamoDB store's "
                    f"{self.offload_bytes}-byte inline limit and no S3 bucket is configured; "
                    "use dynamodb://TABLE?bucket=NAME"
                )
            item[f"{key}_ref"] = _s(self.blobs.put(run_id, key, text))
        else:
            item[key] = _s(text)

    def _get_text(self, item: dict[str, Any], key: str) -> str | None:
        ref = _str(item, f"{key}_ref")
        if ref is not None and self.blobs is not None:
            return self.blobs.get(ref)
        return _str(item, key)

    def _run(self, item: dict[str, Any]) -> RunRecord:
        due = _num(item, "due_at")
        return RunRecord(
            run_id=str(item["pk"]["S"]),
            workflow=str(_str(item, "workflow")),
            status=_str(item, "status"),  # type: ignore[arg-type]
            input=self._get_text(item, "input") or "null",
            created_at=float(_num(item, "created_at", 0.0)),
            updated_at=float(_num(item, "updated_at", 0.0)),
            version=int(_num(item, "version", 0)),
            result=self._get_text(item, "result"),
            error=self._get_text(item, "error"),
            idempotency_key=_str(item, "idempotency_key"),
            lease_owner=_str(item, "lease_owner"),
            lease_expires=float(_num(item, "lease_expires", 0.0)),
            due_at=None if due is None else float(due),
            interrupts=int(_num(item, "interrupts", 0)),
            cancel_requested=bool(item.get("cancel_requested", {}).get("BOOL", False)),
            event_seq=int(_num(item, "event_seq", 0)),
            progress_seq=int(_num(item, "progress_seq", 0)),
            owner=_str(item, "owner"),
        )

    def _step(self, item: dict[str, Any]) -> StepRecord:
        duration = _num(item, "duration")
        wake = _num(item, "wake_at")
        return StepRecord(
            step_id=str(item["sk"]["S"])[2:],
            name=str(_str(item, "name")),
            status=_str(item, "status"),  # type: ignore[arg-type]
            value=self._get_text(item, "value"),
            error=self._get_text(item, "error"),
            attempts=int(_num(item, "attempts", 1)),
            started_at=float(_num(item, "started_at", 0.0)),
            duration=None if duration is None else float(duration),
            wake_at=None if wake is None else float(wake),
            commit_seq=int(_num(item, "commit_seq", 0)),
            usage=_str(item, "usage"),
        )

    def _progress_put(
        self, run_id: str, seq: int, kind: str, data: Mapping[str, Any], now: float
    ) -> dict[str, Any]:
        return {
            "Put": {
                "TableName": self.table,
                "Item": {
                    "pk": _s(run_id),
                    "sk": _s(f"P#{seq:012d}"),
                    "kind": _s("progress"),
                    "pkind": _s(kind),
                    "data": _s(json.dumps(dict(data), separators=(",", ":"))),
                    "at": _n(now),
                    "expires_at": _n(int(now + self.step_ttl_seconds)),
                },
                # A progress id is written once: an executor whose earlier write was applied
                # although it reported a failure must not overwrite that write's entry.
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }

    # Calls --------------------------------------------------------------------------------

    def _call(self, method: str, write: bool, **kwargs: Any) -> Any:
        """Call the client. A failed read raises ``StoreError``; a failed write raises the
        client's error (callers tell a condition that failed from a write that failed)."""
        if write:
            self.stats.writes += 1
        else:
            self.stats.reads += 1
        if write:
            return getattr(self.client, method)(**kwargs)
        try:
            return getattr(self.client, method)(**kwargs)
        except Exception as exc:
            raise _failed(f"DynamoDB table {self.table}: {method}", exc) from exc

    def _query_all(self, **kwargs: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        while True:
            page = self._call("query", False, TableName=self.table, **kwargs)
            items.extend(page.get("Items", []))
            last = page.get("LastEvaluatedKey")
            if not last:
                return items
            kwargs["ExclusiveStartKey"] = last

    def _get_run(self, run_id: str) -> RunRecord | None:
        response = self._call(
            "get_item",
            False,
            TableName=self.table,
            Key={"pk": _s(run_id), "sk": _s("R")},
            ConsistentRead=True,
        )
        item = response.get("Item")
        return self._run(item) if item else None

    def _fenced_failure(self, lease: Lease) -> RunRecord:
        """After a conditional failure: raise ``LeaseLost`` unless the run is still ours."""
        run = self._get_run(lease.run_id)
        if run is None or run.version != lease.version:
            held = f"run is at version {run.version}" if run else "run is gone"
            raise LeaseLost(lease.run_id, lease.version, held)
        return run

    def _transact(self, items: list[dict[str, Any]]) -> bool:
        """Run a transaction; False when a condition failed."""
        try:
            self._call("transact_write_items", True, TransactItems=items)
        except Exception as exc:
            if _is_conditional_failure(exc):
                return False
            raise _failed(f"DynamoDB table {self.table}: write", exc) from exc
        return True

    def _load_items(self, run_id: str) -> tuple[RunRecord | None, tuple[StepRecord, ...]]:
        items = self._query_all(
            KeyConditionExpression="pk = :p AND sk >= :r",
            ExpressionAttributeValues={":p": _s(run_id), ":r": _s("R")},
            ConsistentRead=True,
        )
        run: RunRecord | None = None
        steps: list[StepRecord] = []
        for item in items:
            sk = item["sk"]["S"]
            if sk == "R":
                run = self._run(item)
            elif sk.startswith("S#"):
                steps.append(self._step(item))
        steps.sort(key=lambda step: step.commit_seq)
        return run, tuple(steps)

    # Runs ---------------------------------------------------------------------------------

    def create_run(
        self,
        run_id: str,
        workflow: str,
        input: str,
        *,
        now: float,
        idempotency_key: str | None = None,
        owner: str | None = None,
    ) -> tuple[RunRecord, bool]:
        item: dict[str, Any] = {
            "pk": _s(run_id),
            "sk": _s("R"),
            "kind": _s("run"),
            "workflow": _s(workflow),
            "status": _s("pending"),
            "created_at": _n(now),
            "updated_at": _n(now),
            "version": _n(0),
            "lease_expires": _n(0),
            "due_pk": _s("due"),
            "due_at": _n(now),
            "interrupts": _n(0),
            "cancel_requested": {"BOOL": False},
            "event_seq": _n(0),
            "progress_seq": _n(1),
            "evc": {"M": {}},
        }
        if owner is not None:
            item["owner"] = _s(owner)
        self._put_text(item, "input", input, run_id)
        items: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self.table,
                    "Item": item,
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            self._progress_put(run_id, 1, "created", {"workflow": workflow}, now),
        ]
        if idempotency_key is not None:
            item["idempotency_key"] = _s(idempotency_key)
            items.append(
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": {
                            "pk": _s(f"I#{idempotency_key}"),
                            "sk": _s("I"),
                            "run_id": _s(run_id),
                        },
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                }
            )
        if not self._transact(items):
            if idempotency_key is not None:
                found = self._call(
                    "get_item",
                    False,
                    TableName=self.table,
                    Key={"pk": _s(f"I#{idempotency_key}"), "sk": _s("I")},
                    ConsistentRead=True,
                ).get("Item")
                existing = self._get_run(found["run_id"]["S"]) if found else None
                if existing is not None:
                    return existing, False
            raise StoreError(f"run {run_id} already exists")
        created = self._get_run(run_id)
        assert created is not None
        return created, True

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
                Key={"pk": _s(run_id), "sk": _s("R")},
                UpdateExpression="SET #st = :running, lease_owner = :o, lease_expires = :e, "
                "due_pk = :due, due_at = :e, version = :nv, interrupts = interrupts + :i, "
                "updated_at = :now",
                ConditionExpression="version = :v",
                ExpressionAttributeNames={"#st": "status"},
                ExpressionAttributeValues={
                    ":running": _s("running"),
                    ":o": _s(owner),
                    ":e": _n(expires),
                    ":due": _s("due"),
                    ":nv": _n(run.version + 1),
                    ":v": _n(run.version),
                    ":i": _n(int(interrupted)),
                    ":now": _n(now),
                },
            )
        except Exception as exc:
            if not _is_conditional_failure(exc):
                raise _failed(f"DynamoDB table {self.table}: acquire", exc) from exc
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

    def _run_update(
        self, lease: Lease, expression: str, values: dict[str, Any], condition: str = ""
    ) -> dict[str, Any]:
        update: dict[str, Any] = {
            "TableName": self.table,
            "Key": {"pk": _s(lease.run_id), "sk": _s("R")},
            "UpdateExpression": expression,
            "ConditionExpression": "version = :v" + condition,
            "ExpressionAttributeValues": {":v": _n(lease.version), **values},
        }
        names = {
            token: "status" if token == "#st" else token[1:]
            for token in re.findall(r"#\w+", expression + condition)
        }
        if names:
            update["ExpressionAttributeNames"] = names
        return {"Update": update}

    def commit_step(
        self, lease: Lease, step: StepRecord, *, now: float, lease_seconds: float
    ) -> CommitResult:
        seq = lease.progress_seq + 1
        expires = now + lease_seconds
        item: dict[str, Any] = {
            "pk": _s(lease.run_id),
            "sk": _s(f"S#{step.step_id}"),
            "kind": _s("step"),
            "name": _s(step.name),
            "status": _s(step.status),
            "attempts": _n(step.attempts),
            "started_at": _n(step.started_at),
            "commit_seq": _n(seq),
            "expires_at": _n(int(now + self.step_ttl_seconds)),
        }
        if step.duration is not None:
            item["duration"] = _n(step.duration)
        if step.wake_at is not None:
            item["wake_at"] = _n(step.wake_at)
        if step.usage is not None:
            item["usage"] = _s(step.usage)
        self._put_text(item, "value", step.value, lease.run_id)
        self._put_text(item, "error", step.error, lease.run_id)
        ok = self._transact(
            [
                self._run_update(
                    lease,
                    "SET progress_seq = :seq, lease_expires = :e, due_at = :e, updated_at = :now",
                    {
                        ":seq": _n(seq),
                        ":e": _n(expires),
                        ":now": _n(now),
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
                        "ExpressionAttributeValues": {":r": _s("running"), ":w": _s("waiting")},
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

    def _check_progress(self, lease: Lease, run: RunRecord) -> None:
        """After a failed condition on a run that is still ours: ``StoreError`` when the
        progress log moved past this executor (a write of its own was applied although it
        reported a failure), so that it stops instead of writing over that entry."""
        if run.progress_seq != lease.progress_seq:
            raise StoreError(
                f"run {lease.run_id}: the progress log is at {run.progress_seq}, this executor "
                f"at {lease.progress_seq}: an earlier write was applied although it reported a "
                "failure; this executor stops and the run resumes by replay",
                transient=True,
            )

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
                        ":status": _s(status),
                        ":seq": _n(seq),
                        ":now": _n(now),
                        ":x": _n(int(now + self.retention_seconds)),
                        ":zero": _n(0),
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
            ":seq": _n(seq),
            ":now": _n(now),
            ":f": {"BOOL": False},
            ":ev": _n(lease.event_seq),
            ":s": _s("suspended"),
            ":zero": _n(0),
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
            values.update({":due": _s("due"), ":d": _n(due_at)})
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
                Key={"pk": _s(lease.run_id), "sk": _s("R")},
                UpdateExpression="SET lease_expires = :e, due_at = :e",
                ConditionExpression="version = :v",
                ExpressionAttributeValues={":e": _n(expires), ":v": _n(lease.version)},
            )
        except Exception as exc:
            if _is_conditional_failure(exc):
                self._fenced_failure(lease)
            raise _failed(f"DynamoDB table {self.table}: renew", exc) from exc

    def append_progress(
        self, lease: Lease, kind: str, data: Mapping[str, Any], *, now: float
    ) -> int:
        seq = lease.progress_seq + 1
        ok = self._transact(
            [
                self._run_update(lease, "SET progress_seq = :seq", {":seq": _n(seq)}),
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

    # Writes from outside ------------------------------------------------------------------

    def request_cancel(self, run_id: str, *, now: float) -> RunRecord:
        for _ in range(10):
            run = self._get_run(run_id)
            if run is None:
                raise RunNotFound(f"no run {run_id!r}")
            if run.finished:
                return run
            lease = Lease(run_id, "", run.version, run.progress_seq, run.event_seq)
            if run.lease_owner is not None and run.lease_expires > now:
                items = [
                    self._run_update(
                        lease,
                        "SET cancel_requested = :t, updated_at = :now",
                        {":t": {"BOOL": True}, ":now": _n(now)},
                    )
                ]
            else:
                seq = run.progress_seq + 1
                items = [
                    self._run_update(
                        lease,
                        "SET #st = :c, cancel_requested = :t, version = :nv, lease_expires = :z, "
                        "progress_seq = :seq, updated_at = :now, expires_at = :x "
                        "REMOVE lease_owner, due_pk, due_at",
                        {
                            ":c": _s("cancelled"),
                            ":t": {"BOOL": True},
                            ":nv": _n(run.version + 1),
                            ":z": _n(0),
                            ":seq": _n(seq),
                            ":now": _n(now),
                            ":x": _n(int(now + self.retention_seconds)),
                        },
                    ),
                    self._progress_put(run_id, seq, "cancelled", {}, now),
                ]
            if self._transact(items):
                fresh = self._get_run(run_id)
                assert fresh is not None
                return fresh
        raise StoreError(f"run {run_id}: cancel kept racing with its executor; try again")

    def deliver_event(self, run_id: str, name: str, payload: str, *, now: float) -> int:
        key = {"pk": _s(run_id), "sk": _s("R")}
        for _ in range(10):
            found = self._call(
                "get_item", False, TableName=self.table, Key=key, ConsistentRead=True
            ).get("Item")
            if found is None:
                raise RunNotFound(f"no run {run_id!r}")
            counts = found.get("evc", {}).get("M", {})
            index = int(counts[name]["N"]) if name in counts else 0
            item: dict[str, Any] = {
                "pk": _s(run_id),
                "sk": _s(f"E#{name}#{index:010d}"),
                "kind": _s("event"),
                "at": _n(now),
                "expires_at": _n(int(now + self.step_ttl_seconds)),
            }
            self._put_text(item, "payload", payload, run_id)
            values = {":next": _n(index + 1), ":one": _n(1), ":now": _n(now)}
            if name in counts:
                values[":index"] = _n(index)
            counted = "evc.#n = :index" if name in counts else "attribute_not_exists(evc.#n)"
            # The count, the run's event_seq and the event item in one transaction, which its
            # ClientRequestToken makes idempotent under the client's retries: a retried call
            # never skips an index (an update counting ``+ 1`` would, after a lost answer).
            delivered = self._transact(
                [
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": key,
                            "UpdateExpression": "SET evc.#n = :next, "
                            "event_seq = event_seq + :one, updated_at = :now",
                            "ConditionExpression": f"attribute_exists(pk) AND {counted}",
                            "ExpressionAttributeNames": {"#n": name},
                            "ExpressionAttributeValues": values,
                        }
                    },
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": item,
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                ]
            )
            if delivered:
                break
        else:
            raise StoreError(f"run {run_id}: event {name!r} kept racing with other deliveries")
        try:
            self._call(
                "update_item",
                True,
                TableName=self.table,
                Key=key,
                UpdateExpression="SET due_pk = :due, due_at = :now",
                ConditionExpression="#st = :s",
                ExpressionAttributeNames={"#st": "status"},
                ExpressionAttributeValues={
                    ":due": _s("due"),
                    ":now": _n(now),
                    ":s": _s("suspended"),
                },
            )
        except Exception as exc:
            if not _is_conditional_failure(exc):
                raise _failed(f"DynamoDB table {self.table}: wake", exc) from exc
        return index

    # Reads --------------------------------------------------------------------------------

    def get_event(self, run_id: str, name: str, index: int) -> str | None:
        item = self._call(
            "get_item",
            False,
            TableName=self.table,
            Key={"pk": _s(run_id), "sk": _s(f"E#{name}#{index:010d}")},
            ConsistentRead=True,
        ).get("Item")
        return self._get_text(item, "payload") if item else None

    def due_runs(self, *, now: float, limit: int = 100) -> list[str]:
        page = self._call(
            "query",
            False,
            TableName=self.table,
            IndexName="due",
            KeyConditionExpression="due_pk = :d AND due_at <= :now",
            ExpressionAttributeValues={":d": _s("due"), ":now": _n(now)},
            Limit=limit,
        )
        return [str(item["pk"]["S"]) for item in page.get("Items", [])]

    def list_runs(
        self,
        *,
        workflow: str | None = None,
        status: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
        owner: str | None = None,
    ) -> RunPage:
        filters, values, names = [], {":k": _s("run")}, {}
        if owner is not None:
            filters.append("#ow = :o")
            values[":o"] = _s(owner)
            names["#ow"] = "owner"
        if workflow is not None:
            filters.append("workflow = :w")
            values[":w"] = _s(workflow)
        if status is not None:
            filters.append("#st = :s")
            values[":s"] = _s(status)
            names["#st"] = "status"
        kwargs: dict[str, Any] = {
            "IndexName": "runs",
            "KeyConditionExpression": "kind = :k",
            "ExpressionAttributeValues": values,
            "ScanIndexForward": False,
        }
        if filters:
            kwargs["FilterExpression"] = " AND ".join(filters)
        if names:
            kwargs["ExpressionAttributeNames"] = names
        if cursor:
            kwargs["ExclusiveStartKey"] = _parse_cursor(cursor)
        runs: list[RunRecord] = []
        next_cursor: str | None = None
        while len(runs) < limit:
            page = self._call("query", False, TableName=self.table, Limit=limit, **kwargs)
            for item in page.get("Items", []):
                runs.append(self._run(item))
                if len(runs) == limit:
                    key = {k: item[k] for k in ("pk", "sk", "kind", "created_at")}
                    next_cursor = base64.urlsafe_b64encode(json.dumps(key).encode()).decode()
                    break
            last = page.get("LastEvaluatedKey")
            if not last or len(runs) == limit:
                if not last and len(runs) < limit:
                    next_cursor = None
                break
            kwargs["ExclusiveStartKey"] = last
        return RunPage(tuple(runs), next_cursor)

    def progress(self, run_id: str, *, after_id: int = 0, limit: int = 1000) -> list[Progress]:
        page = self._call(
            "query",
            False,
            TableName=self.table,
            KeyConditionExpression="pk = :p AND sk BETWEEN :a AND :b",
            ExpressionAttributeValues={
                ":p": _s(run_id),
                ":a": _s(f"P#{after_id + 1:012d}"),
                ":b": _s("P#999999999999"),
            },
            Limit=limit,
            ConsistentRead=True,
        )
        return [
            Progress(
                int(item["sk"]["S"][2:]),
                str(_str(item, "pkind")),
                str(_str(item, "data")),
                float(_num(item, "at", 0.0)),
            )
            for item in page.get("Items", [])
        ]

    def close(self) -> None:
        return None


def _gsi(name: str, hash_key: str, range_key: str) -> dict[str, Any]:
    return {
        "IndexName": name,
        "KeySchema": [
            {"AttributeName": hash_key, "KeyType": "HASH"},
            {"AttributeName": range_key, "KeyType": "RANGE"},
        ],
        "Projection": {"ProjectionType": "ALL"},
    }


def _boto3_client(service: str) -> Any:
    try:
        import boto3
    except ImportError:
        raise MissingExtraError("boto3", "lambda", f"the DynamoDB store ({service})") from None
    factory: Any = boto3.client
    return factory(service)


def _parse_cursor(cursor: str) -> dict[str, Any]:
    """The ``ExclusiveStartKey`` a page of runs returned as its cursor; ``ValueError`` for
    anything else (never a key the client made up reaching DynamoDB)."""
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode("ascii")))
    except (ValueError, UnicodeError):
        key = None
    ok = (
        isinstance(key, dict)
        and key
        and all(isinstance(v, dict) and len(v) == 1 and set(v) <= {"S", "N"} for v in key.values())
    )
    if not ok:
        raise ValueError("the cursor is not one a page of runs returned")
    start: dict[str, Any] = key
    return start

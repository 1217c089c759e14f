"""The DynamoDB store's foundation: the table (creating it), how records map to items (with
text above ``offload_bytes`` offloaded to S3 by reference), and the calls every operation makes:
counted client calls, paged queries, transactions, and the conditional-write helpers (fencing on
the run's ``version``, and telling a lost answer of this executor's own write from a rival's)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from relaykit.durable.dynamodb_items import (
    DAY,
    attr_n,
    attr_s,
    boto3_client,
    failed,
    gsi,
    is_conditional_failure,
    num_of,
    str_of,
)
from relaykit.durable.s3_blobs import S3Blobs
from relaykit.durable.store import Lease, RunRecord, StepRecord, StoreStats
from relaykit.errors import LeaseLost, StoreError


class DynamoDBBase:
    """Table, item mapping and calls of ``DynamoDBStore`` (see ``dynamodb_store``)."""

    blocking = True

    def __init__(
        self,
        table: str,
        *,
        bucket: str | None = None,
        offload_bytes: int = 200_000,
        dynamodb: Any = None,
        s3: Any = None,
        retention_seconds: float = 14 * DAY,
        step_ttl_seconds: float = 400 * DAY,
    ) -> None:
        self.table = table
        self.offload_bytes = offload_bytes
        self.retention_seconds = retention_seconds
        self.step_ttl_seconds = step_ttl_seconds
        self.stats = StoreStats()
        self.client = dynamodb if dynamodb is not None else boto3_client("dynamodb")
        self.blobs: S3Blobs | None = None
        if bucket:
            self.blobs = S3Blobs(s3 if s3 is not None else boto3_client("s3"), bucket)

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
                gsi("due", "due_pk", "due_at"),
                gsi("runs", "kind", "created_at"),
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
            item[f"{key}_ref"] = attr_s(self.blobs.put(run_id, key, text))
        else:
            item[key] = attr_s(text)

    def _get_text(self, item: dict[str, Any], key: str) -> str | None:
        ref = str_of(item, f"{key}_ref")
        if ref is not None and self.blobs is not None:
            return self.blobs.get(ref)
        return str_of(item, key)

    def _run(self, item: dict[str, Any]) -> RunRecord:
        due = num_of(item, "due_at")
        return RunRecord(
            run_id=str(item["pk"]["S"]),
            workflow=str(str_of(item, "workflow")),
            status=str_of(item, "status"),  # type: ignore[arg-type]
            input=self._get_text(item, "input") or "null",
            created_at=float(num_of(item, "created_at", 0.0)),
            updated_at=float(num_of(item, "updated_at", 0.0)),
            version=int(num_of(item, "version", 0)),
            result=self._get_text(item, "result"),
            error=self._get_text(item, "error"),
            idempotency_key=str_of(item, "idempotency_key"),
            lease_owner=str_of(item, "lease_owner"),
            lease_expires=float(num_of(item, "lease_expires", 0.0)),
            due_at=None if due is None else float(due),
            interrupts=int(num_of(item, "interrupts", 0)),
            cancel_requested=bool(item.get("cancel_requested", {}).get("BOOL", False)),
            event_seq=int(num_of(item, "event_seq", 0)),
            progress_seq=int(num_of(item, "progress_seq", 0)),
            owner=str_of(item, "owner"),
        )

    def _step(self, item: dict[str, Any]) -> StepRecord:
        duration = num_of(item, "duration")
        wake = num_of(item, "wake_at")
        return StepRecord(
            step_id=str(item["sk"]["S"])[2:],
            name=str(str_of(item, "name")),
            status=str_of(item, "status"),  # type: ignore[arg-type]
            value=self._get_text(item, "value"),
            error=self._get_text(item, "error"),
            attempts=int(num_of(item, "attempts", 1)),
            started_at=float(num_of(item, "started_at", 0.0)),
            duration=None if duration is None else float(duration),
            wake_at=None if wake is None else float(wake),
            commit_seq=int(num_of(item, "commit_seq", 0)),
            usage=str_of(item, "usage"),
        )

    def _progress_put(
        self, run_id: str, seq: int, kind: str, data: Mapping[str, Any], now: float
    ) -> dict[str, Any]:
        return {
            "Put": {
                "TableName": self.table,
                "Item": {
                    "pk": attr_s(run_id),
                    "sk": attr_s(f"P#{seq:012d}"),
                    "kind": attr_s("progress"),
                    "pkind": attr_s(kind),
                    "data": attr_s(json.dumps(dict(data), separators=(",", ":"))),
                    "at": attr_n(now),
                    "expires_at": attr_n(int(now + self.step_ttl_seconds)),
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
            raise failed(f"DynamoDB table {self.table}: {method}", exc) from exc

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
            Key={"pk": attr_s(run_id), "sk": attr_s("R")},
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
            if is_conditional_failure(exc):
                return False
            raise failed(f"DynamoDB table {self.table}: write", exc) from exc
        return True

    def _load_items(self, run_id: str) -> tuple[RunRecord | None, tuple[StepRecord, ...]]:
        items = self._query_all(
            KeyConditionExpression="pk = :p AND sk >= :r",
            ExpressionAttributeValues={":p": attr_s(run_id), ":r": attr_s("R")},
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

    def _run_update(
        self, lease: Lease, expression: str, values: dict[str, Any], condition: str = ""
    ) -> dict[str, Any]:
        update: dict[str, Any] = {
            "TableName": self.table,
            "Key": {"pk": attr_s(lease.run_id), "sk": attr_s("R")},
            "UpdateExpression": expression,
            "ConditionExpression": "version = :v" + condition,
            "ExpressionAttributeValues": {":v": attr_n(lease.version), **values},
        }
        names = {
            token: "status" if token == "#st" else token[1:]
            for token in re.findall(r"#\w+", expression + condition)
        }
        if names:
            update["ExpressionAttributeNames"] = names
        return {"Update": update}

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

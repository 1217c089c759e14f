"""The DynamoDB store's writes from outside an execution: creating a run (with its idempotency
key), requesting a cancel, and delivering an event. Each is one transaction, retried when it
races with the executor or another delivery; none bumps the run's version."""

from __future__ import annotations

from typing import Any

from relaykit.durable.dynamodb_items import attr_n, attr_s, failed, is_conditional_failure
from relaykit.durable.dynamodb_reads import DynamoDBReads
from relaykit.durable.store import Lease, RunRecord
from relaykit.errors import RunNotFound, StoreError


class DynamoDBRuns(DynamoDBReads):
    """Creating, cancelling and signalling runs (the writes of ``DynamoDBStore`` that need no
    lease)."""

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
            "pk": attr_s(run_id),
            "sk": attr_s("R"),
            "kind": attr_s("run"),
            "workflow": attr_s(workflow),
            "status": attr_s("pending"),
            "created_at": attr_n(now),
            "updated_at": attr_n(now),
            "version": attr_n(0),
            "lease_expires": attr_n(0),
            "due_pk": attr_s("due"),
            "due_at": attr_n(now),
            "interrupts": attr_n(0),
            "cancel_requested": {"BOOL": False},
            "event_seq": attr_n(0),
            "progress_seq": attr_n(1),
            "evc": {"M": {}},
        }
        if owner is not None:
            item["owner"] = attr_s(owner)
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
            item["idempotency_key"] = attr_s(idempotency_key)
            items.append(
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": {
                            "pk": attr_s(f"I#{idempotency_key}"),
                            "sk": attr_s("I"),
                            "run_id": attr_s(run_id),
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
                    Key={"pk": attr_s(f"I#{idempotency_key}"), "sk": attr_s("I")},
                    ConsistentRead=True,
                ).get("Item")
                existing = self._get_run(found["run_id"]["S"]) if found else None
                if existing is not None:
                    return existing, False
            raise StoreError(f"run {run_id} already exists")
        created = self._get_run(run_id)
        assert created is not None
        return created, True

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
                        {":t": {"BOOL": True}, ":now": attr_n(now)},
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
                            ":c": attr_s("cancelled"),
                            ":t": {"BOOL": True},
                            ":nv": attr_n(run.version + 1),
                            ":z": attr_n(0),
                            ":seq": attr_n(seq),
                            ":now": attr_n(now),
                            ":x": attr_n(int(now + self.retention_seconds)),
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
        key = {"pk": attr_s(run_id), "sk": attr_s("R")}
        for _ in range(10):
            found = self._call(
                "get_item", False, TableName=self.table, Key=key, ConsistentRead=True
            ).get("Item")
            if found is None:
                raise RunNotFound(f"no run {run_id!r}")
            counts = found.get("evc", {}).get("M", {})
            index = int(counts[name]["N"]) if name in counts else 0
            item: dict[str, Any] = {
                "pk": attr_s(run_id),
                "sk": attr_s(f"E#{name}#{index:010d}"),
                "kind": attr_s("event"),
                "at": attr_n(now),
                "expires_at": attr_n(int(now + self.step_ttl_seconds)),
            }
            self._put_text(item, "payload", payload, run_id)
            values = {":next": attr_n(index + 1), ":one": attr_n(1), ":now": attr_n(now)}
            if name in counts:
                values[":index"] = attr_n(index)
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
                    ":due": attr_s("due"),
                    ":now": attr_n(now),
                    ":s": attr_s("suspended"),
                },
            )
        except Exception as exc:
            if not is_conditional_failure(exc):
                raise failed(f"DynamoDB table {self.table}: wake", exc) from exc
        return index

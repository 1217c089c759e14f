"""The DynamoDB store's reads outside an execution: an event's payload, the runs due for an
executor (the ``due`` index), a page of runs (the ``runs`` index) and the progress log."""

from __future__ import annotations

import base64
import json
from typing import Any

from relaykit.durable.dynamodb_base import DynamoDBBase
from relaykit.durable.dynamodb_items import attr_n, attr_s, num_of, parse_cursor, str_of
from relaykit.durable.store import Progress, RunPage, RunRecord


class DynamoDBReads(DynamoDBBase):
    """The reads of ``DynamoDBStore``."""

    def get_event(self, run_id: str, name: str, index: int) -> str | None:
        item = self._call(
            "get_item",
            False,
            TableName=self.table,
            Key={"pk": attr_s(run_id), "sk": attr_s(f"E#{name}#{index:010d}")},
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
            ExpressionAttributeValues={":d": attr_s("due"), ":now": attr_n(now)},
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
        filters, values, names = [], {":k": attr_s("run")}, {}
        if owner is not None:
            filters.append("#ow = :o")
            values[":o"] = attr_s(owner)
            names["#ow"] = "owner"
        if workflow is not None:
            filters.append("workflow = :w")
            values[":w"] = attr_s(workflow)
        if status is not None:
            filters.append("#st = :s")
            values[":s"] = attr_s(status)
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
            kwargs["ExclusiveStartKey"] = parse_cursor(cursor)
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
                ":p": attr_s(run_id),
                ":a": attr_s(f"P#{after_id + 1:012d}"),
                ":b": attr_s("P#999999999999"),
            },
            Limit=limit,
            ConsistentRead=True,
        )
        return [
            Progress(
                int(item["sk"]["S"][2:]),
                str(str_of(item, "pkind")),
                str(str_of(item, "data")),
                float(num_of(item, "at", 0.0)),
            )
            for item in page.get("Items", [])
        ]

    def close(self) -> None:
        return None

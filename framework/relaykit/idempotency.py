"""Processed-record markers for ``@app.on_sqs(queue, idempotent=True)``.

A marker is written after the handler succeeds and checked before it runs, so a redelivered
message (same queue, same ``messageId``) is acknowledged without calling the handler again. The
marker lives next to the durable store named by the ``store`` setting:

- ``sqlite:///PATH``: a ``relaykit_processed`` table in the same SQLite file;
- ``memory://``: a table in a private in-memory SQLite database (one process);
- ``dynamodb://TABLE``: items ``pk = "P#<queue>#<messageId>"``, ``sk = "P"`` in the same table
  (outside its indexes), with an ``expires_at`` attribute for a TTL.

Two deliveries of one message that run at the same moment can both call the handler (the marker
is written on success, not claimed before): the guarantee is against redelivery after success.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

RETENTION_SECONDS = 14 * 24 * 3600
"""How long a marker is kept: SQS's longest message retention."""


class Markers(Protocol):
    async def seen(self, key: str) -> bool: ...

    async def mark(self, key: str) -> None: ...


class SQLiteMarkers:
    """Markers in a SQLite table (thread-safe; calls run in a worker thread)."""

    def __init__(self, path: str) -> None:
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, timeout=30)
        self._lock = threading.Lock()
        with self._lock, self._db:
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS relaykit_processed "
                "(key TEXT PRIMARY KEY, processed_at REAL NOT NULL)"
            )

    def _seen(self, key: str) -> bool:
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM relaykit_processed WHERE key = ?", (key,)
            ).fetchone()
        return row is not None

    def _mark(self, key: str) -> None:
        now = time.time()
        with self._lock, self._db:
            self._db.execute(
                "INSERT OR IGNORE INTO relaykit_processed (key, processed_at) VALUES (?, ?)",
                (key, now),
            )
            self._db.execute(
                "DELETE FROM relaykit_processed WHERE processed_at < ?", (now - RETENTION_SECONDS,)
            )

    async def seen(self, key: str) -> bool:
        return await asyncio.to_thread(self._seen, key)

    async def mark(self, key: str) -> None:
        await asyncio.to_thread(self._mark, key)


class DynamoDBMarkers:
    """Markers as items of the durable store's DynamoDB table."""

    def __init__(self, table: str, client: Any = None) -> None:
        self._table = table
        self._client = client

    def client(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("dynamodb")
        return self._client

    def _seen(self, key: str) -> bool:
        item = self.client().get_item(
            TableName=self._table,
            Key={"pk": {"S": f"P#{key}"}, "sk": {"S": "P"}},
            ConsistentRead=True,
        )
        return "Item" in item

    def _mark(self, key: str) -> None:
        now = int(time.time())
        self.client().put_item(
            TableName=self._table,
            Item={
                "pk": {"S": f"P#{key}"},
                "sk": {"S": "P"},
                "processed_at": {"N": str(now)},
                "expires_at": {"N": str(now + RETENTION_SECONDS)},
            },
        )

    async def seen(self, key: str) -> bool:
        return await asyncio.to_thread(self._seen, key)

    async def mark(self, key: str) -> None:
        await asyncio.to_thread(self._mark, key)


def open_markers(store_url: str) -> Markers:
    """The markers next to the durable store ``store_url`` (the ``store`` setting)."""
    scheme = urlsplit(store_url).scheme
    if scheme == "sqlite" and store_url.startswith("sqlite:///"):
        return SQLiteMarkers(store_url[len("sqlite:///") :])
    if scheme == "dynamodb":
        return DynamoDBMarkers(urlsplit(store_url).netloc)
    return SQLiteMarkers(":memory:")

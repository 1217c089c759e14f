"""Idempotency markers for ``idempotent=True`` event-source handlers (Powertools' protocol).

Before the handler runs, the record's key is *claimed* with one conditional write:

- no marker, or an expired one: an ``IN_PROGRESS`` marker is written, with a random owner token
  and an expiry (``until``), and the handler runs;
- ``COMPLETED``: the handler does not run; the result recorded with the marker is returned;
- ``IN_PROGRESS`` and not expired: another delivery of the record is running it right now, so
  ``RecordInProgress`` is raised and this delivery fails (reported in ``batchItemFailures``, or
  left in the queue by ``relaykit worker``) to be retried later.

While the handler runs, its owner renews the expiry. When the handler succeeds, the marker
becomes ``COMPLETED`` with the result (as JSON), kept ``RETENTION_SECONDS``; when it fails, the
marker is deleted, so that a retry runs the handler. A delivery that dies (a Lambda timeout, an
OOM kill, a crashed container) leaves an ``IN_PROGRESS`` marker that expires at its ``until``
and is then taken over. Renewals and deletes only touch a marker that still carries the
caller's token, so a delivery whose marker was taken over cannot release the new owner's.
``run_once`` is this protocol around one call (``relaykit.events.runner`` uses it); the
``Markers`` backends below are its storage.

The markers live next to the durable store named by the ``store`` setting:

- ``sqlite:///PATH``: a ``relaykit_idempotency`` table in the same SQLite file (claims in
  ``BEGIN IMMEDIATE`` transactions, so processes sharing the file exclude each other);
- ``memory://``: the same table in a private in-memory SQLite database (one app, one process);
- ``dynamodb://TABLE``: items ``pk = "P#<key>"``, ``sk = "P"`` in the same table (outside its
  indexes; claims are ``PutItem`` calls with a condition), with an ``expires_at`` attribute for
  the table's TTL.

Backends do blocking I/O; the async methods run it in a worker thread. Importing this module
is cheap: sqlite3 is imported when a SQLite backend opens, boto3 when a DynamoDB marker is first
used.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from relaykit.errors import RelaykitError

if TYPE_CHECKING:
    import sqlite3

    from relaykit.app import App

logger = logging.getLogger("relaykit.events")

RETENTION_SECONDS = 14 * 24 * 3600
"""How long a ``COMPLETED`` marker is kept: SQS's longest message retention."""

MAX_RESULT_BYTES = 300_000
"""Largest recorded result (JSON bytes) in a DynamoDB marker (an item holds at most 400 KB);
a larger result is not recorded and a redelivery returns ``None``."""

IN_PROGRESS = "IN_PROGRESS"
COMPLETED = "COMPLETED"


class RecordInProgress(RelaykitError):
    """Another delivery of this record holds its ``IN_PROGRESS`` marker: this delivery fails so
    that the record is retried later, instead of running the handler twice at once."""

    def __init__(self, key: str, until: float) -> None:
        from datetime import UTC, datetime

        self.key = key
        self.until = until
        when = datetime.fromtimestamp(until, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        super().__init__(
            f"record {key} is being processed by another delivery right now (its IN_PROGRESS "
            f"idempotency marker holds until {when} unless renewed); this delivery fails without "
            "running the handler and the record will be retried. If that delivery died, the "
            "marker expires by then (setting idempotency_in_progress_seconds)"
        )


@dataclass(frozen=True)
class Claim:
    """This delivery owns the record's ``IN_PROGRESS`` marker (``token`` proves it)."""

    key: str
    token: str


@dataclass(frozen=True)
class Completed:
    """The record was processed already; ``result`` is the recorded result as JSON data
    (``None`` when the handler returned ``None`` or the result could not be recorded)."""

    key: str
    result: Any


class Markers(Protocol):
    """Where the markers live (one implementation per store)."""

    async def claim(self, key: str, until: float) -> Claim | Completed:
        """Write ``IN_PROGRESS`` until ``until`` (Unix seconds) unless a live marker exists;
        ``RecordInProgress`` when another delivery holds it."""
        ...

    async def renew(self, claim: Claim, until: float) -> bool:
        """Move the expiry of our ``IN_PROGRESS`` marker; ``False`` when it is no longer ours."""
        ...

    async def complete(self, claim: Claim, result: str | None) -> None:
        """Mark the record ``COMPLETED`` with ``result`` (JSON text), kept for the retention."""
        ...

    async def release(self, claim: Claim) -> None:
        """Delete our ``IN_PROGRESS`` marker (the handler failed: a retry may run)."""
        ...

    def close(self) -> None: ...


async def run_once(
    markers: Markers,
    key: str,
    call: Callable[[], Awaitable[Any]],
    *,
    until: Callable[[], float],
    encode: Callable[[Any], str | None],
    renew_every: float,
    deadline: float | None = None,
) -> Any:
    """Run ``call`` at most once for ``key`` (see the module docstring): claim the record with
    an IN_PROGRESS marker expiring at ``until()``, renew it every ``renew_every`` seconds while
    ``call`` runs (not past ``deadline``), then record the result (JSON, from ``encode``) or
    delete the marker. Returns ``call``'s result, or the one recorded by an earlier delivery;
    raises ``RecordInProgress`` when another delivery holds the record."""
    claimed = await markers.claim(key, until())
    if isinstance(claimed, Completed):
        logger.info("record %s already processed; skipped", key)
        return claimed.result
    keeper = asyncio.ensure_future(_keep(markers, claimed, until, renew_every, deadline))
    try:
        result = await call()
    except BaseException:
        keeper.cancel()  # it ends at the next loop turn (the marker call below)
        try:
            await markers.release(claimed)
        except Exception:
            logger.exception(
                "deleting the IN_PROGRESS marker of %s failed; a retry runs once it expires", key
            )
        raise
    keeper.cancel()
    try:
        await markers.complete(claimed, encode(result))
    except Exception:
        # The handler's work is done: report success rather than run it again.
        logger.exception("record %s succeeded but its COMPLETED marker was not written", key)
    return result


async def _keep(
    markers: Markers,
    claim: Claim,
    until: Callable[[], float],
    every: float,
    deadline: float | None,
) -> None:
    """Renew our IN_PROGRESS marker every ``every`` seconds (until it reaches ``deadline``)."""
    while True:
        await asyncio.sleep(every)
        expiry = until()
        try:
            if not await markers.renew(claim, expiry):
                logger.warning(
                    "the IN_PROGRESS marker of %s was taken over by another delivery", claim.key
                )
                return
        except Exception:
            logger.exception("renewing the IN_PROGRESS marker of %s failed", claim.key)
        if deadline is not None and expiry >= deadline:
            return


def new_token() -> str:
    return os.urandom(12).hex()


def decode_result(text: str | None) -> Any:
    return None if text is None else json.loads(text)


class _Blocking:
    """The async ``Markers`` methods over blocking ones, run in a worker thread."""

    def _claim(self, key: str, until: float) -> Claim | Completed:
        raise NotImplementedError

    def _renew(self, claim: Claim, until: float) -> bool:
        raise NotImplementedError

    def _complete(self, claim: Claim, result: str | None) -> None:
        raise NotImplementedError

    def _release(self, claim: Claim) -> None:
        raise NotImplementedError

    async def claim(self, key: str, until: float) -> Claim | Completed:
        return await asyncio.to_thread(self._claim, key, until)

    async def renew(self, claim: Claim, until: float) -> bool:
        return await asyncio.to_thread(self._renew, claim, until)

    async def complete(self, claim: Claim, result: str | None) -> None:
        await asyncio.to_thread(self._complete, claim, result)

    async def release(self, claim: Claim) -> None:
        await asyncio.to_thread(self._release, claim)


_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS relaykit_idempotency (key TEXT PRIMARY KEY, status TEXT NOT NULL, "
    "token TEXT NOT NULL, until REAL NOT NULL, expires_at REAL NOT NULL, result TEXT)",
    "CREATE INDEX IF NOT EXISTS relaykit_idempotency_expires ON relaykit_idempotency (expires_at)",
)


class SQLiteMarkers(_Blocking):
    """Markers in a SQLite table; one connection, used by one thread at a time."""

    def __init__(self, path: str, *, clock: Callable[[], float] = time.time) -> None:
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        import sqlite3

        self._clock = clock
        self._db: sqlite3.Connection = sqlite3.connect(
            path, check_same_thread=False, timeout=30, isolation_level=None
        )
        self._lock = threading.Lock()
        with self._lock:
            for statement in _SCHEMA:
                self._db.execute(statement)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _claim(self, key: str, until: float) -> Claim | Completed:
        now = self._clock()
        token = new_token()
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")  # the write lock: one claimer at a time, any process
            try:
                row = db.execute(
                    "SELECT status, until, expires_at, result FROM relaykit_idempotency "
                    "WHERE key = ?",
                    (key,),
                ).fetchone()
                found: Completed | RecordInProgress | None = None
                if row is not None and row[2] > now:
                    status, held_until, _, result = row
                    if status == COMPLETED:
                        found = Completed(key, decode_result(result))
                    elif held_until > now:
                        found = RecordInProgress(key, held_until)
                if found is None:
                    db.execute(
                        "INSERT OR REPLACE INTO relaykit_idempotency "
                        "(key, status, token, until, expires_at, result) "
                        "VALUES (?, ?, ?, ?, ?, NULL)",
                        (key, IN_PROGRESS, token, until, now + RETENTION_SECONDS),
                    )
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
        if isinstance(found, RecordInProgress):
            raise found
        return found if found is not None else Claim(key, token)

    def _renew(self, claim: Claim, until: float) -> bool:
        with self._lock:
            cursor = self._db.execute(
                "UPDATE relaykit_idempotency SET until = ? "
                "WHERE key = ? AND token = ? AND status = ?",
                (until, claim.key, claim.token, IN_PROGRESS),
            )
        return cursor.rowcount == 1

    def _complete(self, claim: Claim, result: str | None) -> None:
        now = self._clock()
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO relaykit_idempotency "
                "(key, status, token, until, expires_at, result) VALUES (?, ?, ?, 0, ?, ?)",
                (claim.key, COMPLETED, claim.token, now + RETENTION_SECONDS, result),
            )
            self._db.execute("DELETE FROM relaykit_idempotency WHERE expires_at < ?", (now,))

    def _release(self, claim: Claim) -> None:
        with self._lock:
            self._db.execute(
                "DELETE FROM relaykit_idempotency WHERE key = ? AND token = ? AND status = ?",
                (claim.key, claim.token, IN_PROGRESS),
            )


class DynamoDBMarkers(_Blocking):
    """Markers as items of the durable store's DynamoDB table (``client``: a boto3 DynamoDB
    client; made from the environment on first use when not given)."""

    def __init__(
        self, table: str, client: Any = None, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._table = table
        self._client = client
        self._clock = clock
        self._lock = threading.Lock()

    def close(self) -> None:
        return None

    def client(self) -> Any:
        with self._lock:  # the async methods call this from several worker threads at once
            if self._client is None:
                try:
                    import boto3
                except ImportError:
                    from relaykit.errors import MissingExtraError

                    raise MissingExtraError("boto3", "lambda", "DynamoDB idempotency") from None
                self._client = boto3.session.Session().client("dynamodb")
            return self._client

    def _key(self, key: str) -> dict[str, Any]:
        return {"pk": {"S": f"P#{key}"}, "sk": {"S": "P"}}

    def _claim(self, key: str, until: float) -> Claim | Completed:
        from botocore.exceptions import ClientError

        client = self.client()
        for _ in range(3):
            now = self._clock()
            token = new_token()
            item = {
                **self._key(key),
                "status": {"S": IN_PROGRESS},
                "token": {"S": token},
                "in_progress_until": {"N": repr(until)},
                "expires_at": {"N": str(int(now) + RETENTION_SECONDS)},
            }
            try:
                client.put_item(
                    TableName=self._table,
                    Item=item,
                    ConditionExpression=(
                        "attribute_not_exists(pk) OR #expires <= :now "
                        "OR (#status = :in_progress AND #until <= :now)"
                    ),
                    ExpressionAttributeNames={
                        "#status": "status",
                        "#until": "in_progress_until",
                        "#expires": "expires_at",
                    },
                    ExpressionAttributeValues={
                        ":now": {"N": repr(now)},
                        ":in_progress": {"S": IN_PROGRESS},
                    },
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
                return Claim(key, token)
            except ClientError as exc:
                if _code(exc) != "ConditionalCheckFailedException":
                    raise
                found: Any = exc.response.get("Item")
                old = found if found else self._get(key)
            if old is None:
                continue  # released between our write and our read: claim again
            if old["status"]["S"] == COMPLETED:
                result = old.get("result", {}).get("S")
                return Completed(key, decode_result(result))
            raise RecordInProgress(key, float(old["in_progress_until"]["N"]))
        raise RecordInProgress(key, self._clock())

    def _get(self, key: str) -> dict[str, Any] | None:
        answer = self.client().get_item(
            TableName=self._table, Key=self._key(key), ConsistentRead=True
        )
        item: dict[str, Any] | None = answer.get("Item")
        return item

    def _owned(self, claim: Claim) -> dict[str, Any]:
        return {
            "ConditionExpression": "#status = :in_progress AND #token = :token",
            "ExpressionAttributeValues": {
                ":in_progress": {"S": IN_PROGRESS},
                ":token": {"S": claim.token},
            },
        }

    def _renew(self, claim: Claim, until: float) -> bool:
        from botocore.exceptions import ClientError

        owned = self._owned(claim)
        owned["ExpressionAttributeValues"][":until"] = {"N": repr(until)}
        try:
            self.client().update_item(
                TableName=self._table,
                Key=self._key(claim.key),
                UpdateExpression="SET #until = :until",
                ExpressionAttributeNames={
                    "#status": "status",
                    "#token": "token",
                    "#until": "in_progress_until",
                },
                **owned,
            )
        except ClientError as exc:
            if _code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def _complete(self, claim: Claim, result: str | None) -> None:
        now = int(self._clock())
        item = {
            **self._key(claim.key),
            "status": {"S": COMPLETED},
            "token": {"S": claim.token},
            "processed_at": {"N": str(now)},
            "expires_at": {"N": str(now + RETENTION_SECONDS)},
        }
        if result is not None and len(result.encode()) <= MAX_RESULT_BYTES:
            item["result"] = {"S": result}
        self.client().put_item(TableName=self._table, Item=item)

    def _release(self, claim: Claim) -> None:
        from botocore.exceptions import ClientError

        try:
            self.client().delete_item(
                TableName=self._table,
                Key=self._key(claim.key),
                ExpressionAttributeNames={"#status": "status", "#token": "token"},
                **self._owned(claim),
            )
        except ClientError as exc:
            if _code(exc) != "ConditionalCheckFailedException":
                raise


def _code(exc: Any) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


_OPEN: weakref.WeakKeyDictionary[Any, Markers] = weakref.WeakKeyDictionary()


def markers_for(app: App) -> Markers:
    """The markers of ``app``'s ``store`` setting (opened on its first idempotent record)."""
    markers = _OPEN.get(app)
    if markers is None:
        markers = _OPEN[app] = open_markers(app.settings.store)
    return markers


def open_markers(
    store_url: str, *, dynamodb: Any = None, clock: Callable[[], float] = time.time
) -> Markers:
    """The markers next to the durable store ``store_url`` (the ``store`` setting);
    ``dynamodb`` injects a boto3 client for ``dynamodb://`` stores."""
    scheme = urlsplit(store_url).scheme
    if scheme == "sqlite" and store_url.startswith("sqlite:///"):
        return SQLiteMarkers(store_url[len("sqlite:///") :], clock=clock)
    if scheme == "dynamodb":
        return DynamoDBMarkers(urlsplit(store_url).netloc, dynamodb, clock=clock)
    return SQLiteMarkers(":memory:", clock=clock)

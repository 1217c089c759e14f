"""Encryption at rest for every store: ``EncryptedStore`` seals user data before its inner store
sees it and opens it on the way out, so SQLite files, DynamoDB items and S3 objects hold only
ciphertext. The inner store is unchanged: it stores and offloads the sealed text like any other.

Sealed: a run's input, result and error; a step's value, error and name (names can carry user
data, as in ``f"search:{query}"``); event payloads; in the progress log, every entry the engine
appends (``token`` entries with model text, ``invocation`` notes) whole, the ``reason`` of
``suspended`` entries (it can quote a step name) and the step name that ``step`` entries copy.
In clear, because stores look them up, order or filter by them, or they hold no user content:
run, step and progress ids; workflow and event names; status, timestamps, ``due_at``, versions,
lease fields, ``owner``, idempotency keys; step attempts, durations and wake times; step usage
(model name, token counts, cost) and the ``created`` and terminal progress entries.

Envelope encryption: each process makes one 256-bit data key when it first seals (local keys: from
``os.urandom``, wrapped by the configured key with AES-GCM; KMS: one ``GenerateDataKey`` call) and
seals each value with AES-256-GCM under it, with a random 96-bit nonce and associated data naming
the run and the field (``input``, ``step/3/value``, ``event/approve``, ``progress/7/token``), so a
ciphertext altered, or moved to another run or field, fails to open. Sealed text is::

    rk1:BASE64(kind (L local, K KMS) | wrapped key length (2 bytes) | wrapped data key
               | nonce (12 bytes) | ciphertext and 16-byte tag)

Opening unwraps each data key once per process and keeps it (KMS: one ``Decrypt`` per data key not
seen before). A data key seals at most 2**31 values; then a new one is made. JSON never starts
with ``rk1:``, so values written before encryption was turned on still read (``plaintext="read"``,
for migration) unless ``plaintext="reject"``. Errors name key ids, never keys. ``cryptography``
and boto3 are imported where first used.

Modules: ``keys`` (where data keys come from: ``LocalKeys``, ``KmsKeys``), ``cipher`` (the
envelope format: ``Cipher``, ``cipher_from_setting``) and this one (``EncryptedStore``: which
fields are sealed); the names of all three are importable from here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, TypeVar

from relaykit.durable.cipher import MAX_USES, PREFIX, Cipher, cipher_from_setting
from relaykit.durable.keys import KMS_CONTEXT, KeyWrap, KmsKeys, LocalKeys, generate_key, key_id
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
    Store,
    SuspendResult,
)
from relaykit.errors import ConfigError, StoreError

_CLEAR_KINDS = frozenset({"created", *TERMINAL})
_Record = TypeVar("_Record", RunRecord, StepRecord, Progress, Acquired)


def _with(record: _Record, **changes: Any) -> _Record:
    """``dataclasses.replace`` for the store's frozen records (none has ``__post_init__``)
    at a quarter of its cost; every field is copied, so fields added later carry over."""
    clone: _Record = object.__new__(type(record))
    clone.__dict__.update(record.__dict__, **changes)
    return clone


class EncryptedStore:
    """The ``Store`` protocol over ``inner``, sealing user data with ``cipher`` (see the module
    docstring for which fields). ``plaintext``: ``read`` returns unencrypted values as they are
    (data from before encryption), ``reject`` refuses them with a ``StoreError``."""

    def __init__(self, inner: Store, cipher: Cipher, *, plaintext: str = "read") -> None:
        if plaintext not in ("read", "reject"):
            raise ConfigError("store_encryption_plaintext", f"got {plaintext!r}", "read, reject")
        self.inner = inner
        self.cipher = cipher
        self.reject_plaintext = plaintext == "reject"
        self.blocking = inner.blocking or cipher.remote
        self.stats = inner.stats

    def __repr__(self) -> str:
        return f"EncryptedStore({self.inner!r}, {self.cipher.describe()})"

    # Sealing and opening ------------------------------------------------------------------

    def _seal(self, text: str | None, run_id: str, field: str) -> str | None:
        return None if text is None else self.cipher.seal(text, run_id, field)

    def _open(self, text: str, run_id: str, field: str) -> str:
        if text.startswith(PREFIX):
            return self.cipher.open(text, run_id, field)
        if self.reject_plaintext:
            raise StoreError(
                f"run {run_id}: {field} is stored unencrypted and store_encryption_plaintext "
                "is 'reject'"
            )
        return text

    def _open_optional(self, text: str | None, run_id: str, field: str) -> str | None:
        return None if text is None else self._open(text, run_id, field)

    def _run(self, run: RunRecord) -> RunRecord:
        rid = run.run_id
        return _with(
            run,
            input=self._open(run.input, rid, "input"),
            result=self._open_optional(run.result, rid, "result"),
            error=self._open_optional(run.error, rid, "error"),
        )

    def _sealed_step(self, run_id: str, step: StepRecord) -> StepRecord:
        field = f"step/{step.step_id}/"
        return _with(
            step,
            name=self.cipher.seal(step.name, run_id, field + "name"),
            value=self._seal(step.value, run_id, field + "value"),
            error=self._seal(step.error, run_id, field + "error"),
        )

    def _step(self, run_id: str, step: StepRecord) -> StepRecord:
        field = f"step/{step.step_id}/"
        return _with(
            step,
            name=self._open(step.name, run_id, field + "name"),
            value=self._open_optional(step.value, run_id, field + "value"),
            error=self._open_optional(step.error, run_id, field + "error"),
        )

    def _steps(self, run_id: str, steps: tuple[StepRecord, ...]) -> tuple[StepRecord, ...]:
        return tuple(self._step(run_id, step) for step in steps)

    def _entry(self, run_id: str, entry: Progress) -> Progress:
        if entry.kind in _CLEAR_KINDS or (PREFIX not in entry.data and not self.reject_plaintext):
            return entry
        data = json.loads(entry.data)
        sealed = data.get("sealed") if isinstance(data, dict) and len(data) == 1 else None
        if isinstance(sealed, str):  # appended by the engine: sealed whole
            field = f"progress/{entry.id}/{entry.kind}"
            return _with(entry, data=self._open(sealed, run_id, field))
        if entry.kind == "step" and isinstance(data.get("name"), str):
            field = f"step/{data.get('step_id')}/name"
            data["name"] = self._open(data["name"], run_id, field)
        elif entry.kind == "suspended" and data.get("reason"):
            data["reason"] = self._open(str(data["reason"]), run_id, f"progress/{entry.id}/reason")
        elif entry.kind not in ("step", "suspended") and self.reject_plaintext:
            raise StoreError(
                f"run {run_id}: progress entry {entry.id} ({entry.kind}) is stored unencrypted "
                "and store_encryption_plaintext is 'reject'"
            )
        return _with(entry, data=json.dumps(data, separators=(",", ":")))

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
        run, created = self.inner.create_run(
            run_id,
            workflow,
            self.cipher.seal(input, run_id, "input"),
            now=now,
            idempotency_key=idempotency_key,
            owner=owner,
        )
        return self._run(run), created

    def acquire(self, run_id: str, owner: str, *, now: float, lease_seconds: float) -> Acquired:
        acquired = self.inner.acquire(run_id, owner, now=now, lease_seconds=lease_seconds)
        if acquired.run is None:
            return acquired
        return _with(
            acquired, run=self._run(acquired.run), steps=self._steps(run_id, acquired.steps)
        )

    def load(self, run_id: str) -> tuple[RunRecord, tuple[StepRecord, ...]] | None:
        loaded = self.inner.load(run_id)
        if loaded is None:
            return None
        run, steps = loaded
        return self._run(run), self._steps(run_id, steps)

    # Executor writes ----------------------------------------------------------------------

    def commit_step(
        self, lease: Lease, step: StepRecord, *, now: float, lease_seconds: float
    ) -> CommitResult:
        sealed = self._sealed_step(lease.run_id, step)
        return self.inner.commit_step(lease, sealed, now=now, lease_seconds=lease_seconds)

    def finish(
        self,
        lease: Lease,
        status: RunStatus,
        *,
        now: float,
        result: str | None = None,
        error: str | None = None,
    ) -> None:
        self.inner.finish(
            lease,
            status,
            now=now,
            result=self._seal(result, lease.run_id, "result"),
            error=self._seal(error, lease.run_id, "error"),
        )

    def suspend(
        self, lease: Lease, *, now: float, due_at: float | None, reason: str = ""
    ) -> SuspendResult:
        if reason:  # the entry this write appends takes the lease's next progress id
            field = f"progress/{lease.progress_seq + 1}/reason"
            reason = self.cipher.seal(reason, lease.run_id, field)
        return self.inner.suspend(lease, now=now, due_at=due_at, reason=reason)

    def renew(self, lease: Lease, *, now: float, lease_seconds: float) -> None:
        self.inner.renew(lease, now=now, lease_seconds=lease_seconds)

    def append_progress(
        self, lease: Lease, kind: str, data: Mapping[str, Any], *, now: float
    ) -> int:
        text = json.dumps(dict(data), separators=(",", ":"))
        field = f"progress/{lease.progress_seq + 1}/{kind}"
        sealed = {"sealed": self.cipher.seal(text, lease.run_id, field)}
        return self.inner.append_progress(lease, kind, sealed, now=now)

    # Writes from outside ------------------------------------------------------------------

    def request_cancel(self, run_id: str, *, now: float) -> RunRecord:
        return self._run(self.inner.request_cancel(run_id, now=now))

    def deliver_event(self, run_id: str, name: str, payload: str, *, now: float) -> int:
        sealed = self.cipher.seal(payload, run_id, f"event/{name}")
        return self.inner.deliver_event(run_id, name, sealed, now=now)

    # Reads --------------------------------------------------------------------------------

    def get_event(self, run_id: str, name: str, index: int) -> str | None:
        payload = self.inner.get_event(run_id, name, index)
        return self._open_optional(payload, run_id, f"event/{name}")

    def due_runs(self, *, now: float, limit: int = 100) -> list[str]:
        return self.inner.due_runs(now=now, limit=limit)

    def list_runs(
        self,
        *,
        workflow: str | None = None,
        status: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
        owner: str | None = None,
    ) -> RunPage:
        page = self.inner.list_runs(
            workflow=workflow, status=status, limit=limit, cursor=cursor, owner=owner
        )
        return RunPage(tuple(self._run(run) for run in page.runs), page.cursor)

    def progress(self, run_id: str, *, after_id: int = 0, limit: int = 1000) -> list[Progress]:
        entries = self.inner.progress(run_id, after_id=after_id, limit=limit)
        return [self._entry(run_id, entry) for entry in entries]

    def close(self) -> None:
        self.inner.close()


__all__ = [
    "KMS_CONTEXT",
    "MAX_USES",
    "PREFIX",
    "Cipher",
    "EncryptedStore",
    "KeyWrap",
    "KmsKeys",
    "LocalKeys",
    "cipher_from_setting",
    "generate_key",
    "key_id",
]

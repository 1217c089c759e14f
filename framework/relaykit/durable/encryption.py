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
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

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
from relaykit.errors import ConfigError, MissingExtraError, StoreError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX = "rk1:"
KMS_CONTEXT = {"relaykit": "durable-store"}
"""The KMS encryption context of every data key (``GenerateDataKey`` and ``Decrypt``)."""
MAX_USES = 1 << 31
"""Values sealed under one data key before a new one is made (random 96-bit nonces)."""
_WRAP_AAD = b"relaykit data key"
_KINDS = {b"L": "a local key", b"K": "a KMS key"}
_CLEAR_KINDS = frozenset({"created", *TERMINAL})
_CACHED_KEYS = 1024
_Record = TypeVar("_Record", RunRecord, StepRecord, Progress, Acquired)


def _aesgcm(key: bytes) -> AESGCM:
    try:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    except ImportError:
        raise MissingExtraError("cryptography", "encryption", "store encryption") from None
    return AESGCM(key)


def _invalid_tag() -> type[Exception]:
    from cryptography.exceptions import InvalidTag

    return InvalidTag


def key_id(key: bytes) -> str:
    """A local key's public id: 16 hex digits of an HMAC under the key; reveals nothing of it."""
    return hmac.new(key, b"relaykit key id", hashlib.sha256).hexdigest()[:16]


def generate_key() -> str:
    """A new random local key as base64 (for ``store_encryption = "local:env:VAR"``)."""
    return base64.b64encode(os.urandom(32)).decode("ascii")


class KeyWrap(Protocol):
    """Where data keys come from: makes a new one (with its wrapped form) and unwraps stored ones.
    ``unwrap`` raises ``StoreError`` saying why (the caller adds which value)."""

    kind: bytes
    remote: bool

    def describe(self) -> str: ...

    def new_data_key(self) -> tuple[bytes, bytes]: ...

    def unwrap(self, wrapped: bytes) -> bytes: ...


class LocalKeys:
    """Data keys wrapped by local 32-byte keys: the first wraps, every one can unwrap (rotation)."""

    kind = b"L"
    remote = False

    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys or any(len(key) != 32 for key in keys):
            raise ValueError("local keys are 32 bytes each (AES-256)")
        self._keys = {bytes.fromhex(key_id(key)): key for key in keys}
        self._current = bytes.fromhex(key_id(keys[0])), keys[0]

    def __repr__(self) -> str:
        return f"LocalKeys({', '.join(self.ids)})"

    @property
    def ids(self) -> list[str]:
        return [kid.hex() for kid in self._keys]

    def describe(self) -> str:
        first, *rest = self.ids
        return f"local key {first}" + (f" (also opening {', '.join(rest)})" if rest else "")

    def new_data_key(self) -> tuple[bytes, bytes]:
        kid, key = self._current
        data_key, nonce = os.urandom(32), os.urandom(12)
        return data_key, kid + nonce + _aesgcm(key).encrypt(nonce, data_key, _WRAP_AAD)

    def unwrap(self, wrapped: bytes) -> bytes:
        kid, nonce, sealed = wrapped[:8], wrapped[8:20], wrapped[20:]
        key = self._keys.get(kid)
        if key is None:
            raise StoreError(
                f"it was encrypted under local key {kid.hex()}, which is not configured "
                f"(configured: {', '.join(self.ids)}); list that key after the current one in "
                "store_encryption to read it"
            )
        try:
            return _aesgcm(key).decrypt(nonce, sealed, _WRAP_AAD)
        except _invalid_tag():
            raise StoreError(
                f"its data key fails authentication under local key {kid.hex()}"
            ) from None


class KmsKeys:
    """Data keys from AWS KMS: ``GenerateDataKey`` under the first key; ``Decrypt`` tries each
    configured key (pinned by ``KeyId``). ``client`` is a boto3 KMS client (made on first use)."""

    kind = b"K"
    remote = True

    def __init__(self, key_ids: Sequence[str], client: Any = None) -> None:
        if not key_ids:
            raise ValueError("name at least one KMS key")
        self.key_ids = tuple(key_ids)
        self._client = client

    def __repr__(self) -> str:
        return f"KmsKeys({', '.join(self.key_ids)})"

    @property
    def client(self) -> Any:
        if self._client is None:
            try:
                import boto3
            except ImportError:
                raise MissingExtraError("boto3", "lambda", "store encryption with KMS") from None
            factory: Any = boto3.client
            self._client = factory("kms")
        return self._client

    def describe(self) -> str:
        first, *rest = self.key_ids
        return f"KMS key {first}" + (f" (also opening {', '.join(rest)})" if rest else "")

    def new_data_key(self) -> tuple[bytes, bytes]:
        try:
            made = self.client.generate_data_key(
                KeyId=self.key_ids[0], KeySpec="AES_256", EncryptionContext=KMS_CONTEXT
            )
        except Exception as exc:
            raise StoreError(
                f"KMS key {self.key_ids[0]}: GenerateDataKey failed ({_aws_code(exc)})"
            ) from None
        return bytes(made["Plaintext"]), bytes(made["CiphertextBlob"])

    def unwrap(self, wrapped: bytes) -> bytes:
        failures = []
        for key in self.key_ids:
            try:
                opened = self.client.decrypt(
                    CiphertextBlob=wrapped, KeyId=key, EncryptionContext=KMS_CONTEXT
                )
            except Exception as exc:
                failures.append(f"{key}: {_aws_code(exc)}")
                continue
            return bytes(opened["Plaintext"])
        raise StoreError(
            f"KMS cannot decrypt its data key with the configured keys ({'; '.join(failures)}): "
            "it was written under another KMS key (list it in store_encryption), this role may "
            "not use the key, or the value was altered"
        )


def _aws_code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code") or type(exc).__name__)
    return type(exc).__name__


def _aad(run_id: str, field: str) -> bytes:
    return f"{len(run_id)}:{run_id}/{field}".encode()


def _with(record: _Record, **changes: Any) -> _Record:
    """``dataclasses.replace`` for the store's frozen records (none has ``__post_init__``)
    at a quarter of its cost; every field is copied, so fields added later carry over."""
    clone: _Record = object.__new__(type(record))
    clone.__dict__.update(record.__dict__, **changes)
    return clone


class Cipher:
    """Seals and opens text for a run and field, under per-process data keys from ``keys``.

    Thread-safe. ``data_keys_made`` and ``data_keys_opened`` count the data keys this process
    made and unwrapped (for tests: with KMS, the ``GenerateDataKey`` and ``Decrypt`` calls).
    """

    def __init__(self, keys: KeyWrap, *, max_uses: int = MAX_USES) -> None:
        self.keys = keys
        self.max_uses = max_uses
        self.data_keys_made = 0
        self.data_keys_opened = 0
        self._lock = threading.Lock()
        self._sealing: tuple[AESGCM, bytes] | None = None
        self._uses = 0
        self._opened: dict[bytes, AESGCM] = {}

    def __repr__(self) -> str:
        return f"Cipher({self.describe()})"

    @property
    def remote(self) -> bool:
        """True when opening or sealing can call a network service (KMS)."""
        return self.keys.remote

    def describe(self) -> str:
        return self.keys.describe()

    def seal(self, text: str, run_id: str, field: str) -> str:
        aead, header = self._current()
        nonce = os.urandom(12)
        body = aead.encrypt(nonce, text.encode("utf-8"), _aad(run_id, field))
        return PREFIX + base64.b64encode(header + nonce + body).decode("ascii")

    def open(self, text: str, run_id: str, field: str) -> str:
        where = f"run {run_id}: {field}"
        try:
            raw = binascii.a2b_base64(text[len(PREFIX) :], strict_mode=True)
        except (binascii.Error, ValueError):
            raise StoreError(f"{where} is not valid sealed text: it was altered") from None
        end = 3 + int.from_bytes(raw[1:3], "big")
        if len(raw) < end + 28:
            raise StoreError(f"{where} is truncated sealed text: it was altered")
        kind = raw[:1]
        if kind != self.keys.kind:
            used = _KINDS.get(kind, "an unknown kind of key")
            raise StoreError(
                f"{where} was encrypted with {used}, but the store is configured with "
                f"{self.describe()}"
            )
        wrapped = raw[3:end]
        aead = self._opened.get(wrapped) or self._unwrap(wrapped, where)
        try:
            return aead.decrypt(raw[end : end + 12], raw[end + 12 :], _aad(run_id, field)).decode(
                "utf-8"
            )
        except _invalid_tag():
            raise StoreError(
                f"{where} fails authentication under its data key ({self.describe()}): the "
                "ciphertext was altered, or moved here from another run or field"
            ) from None

    def _current(self) -> tuple[AESGCM, bytes]:
        self._uses += 1
        sealing = self._sealing
        if sealing is None or self._uses > self.max_uses:
            with self._lock:
                if self._sealing is None or self._uses > self.max_uses:
                    data_key, wrapped = self.keys.new_data_key()
                    aead = _aesgcm(data_key)
                    header = self.keys.kind + len(wrapped).to_bytes(2, "big") + wrapped
                    self._sealing = aead, header
                    self._remember(wrapped, aead)
                    self._uses = 1
                    self.data_keys_made += 1
                sealing = self._sealing
        return sealing

    def _unwrap(self, wrapped: bytes, where: str) -> AESGCM:
        with self._lock:  # one unwrap (one KMS Decrypt) per data key, even across threads
            aead = self._opened.get(wrapped)
            if aead is None:
                try:
                    data_key = self.keys.unwrap(wrapped)
                except StoreError as exc:
                    raise StoreError(f"{where} cannot be decrypted: {exc}") from None
                aead = _aesgcm(data_key)
                self._remember(wrapped, aead)
                self.data_keys_opened += 1
        return aead

    def _remember(self, wrapped: bytes, aead: AESGCM) -> None:
        if len(self._opened) >= _CACHED_KEYS:
            self._opened.pop(next(iter(self._opened)))
        self._opened[wrapped] = aead


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


# Settings ---------------------------------------------------------------------------------


def cipher_from_setting(
    setting: str, *, kms: Any = None, environ: Mapping[str, str] | None = None
) -> Cipher | None:
    """The cipher a ``store_encryption`` value names (``None`` for ``off``). Local keys are read
    now (from the value, ``environ`` or a file); a KMS client is made on first use unless given."""
    from relaykit.settings import ENCRYPTION_FORMS, FIELDS_BY_NAME

    try:
        spec: str = FIELDS_BY_NAME["store_encryption"].parse(setting)
    except ValueError as exc:
        raise ConfigError("store_encryption", str(exc.args[0]), ENCRYPTION_FORMS) from None
    if spec == "off":
        return None
    scheme, _, rest = spec.partition(":")
    parts = rest.split(",")
    if scheme == "kms":
        return Cipher(KmsKeys(parts, kms))
    env = os.environ if environ is None else environ
    return Cipher(
        LocalKeys([_local_key(part, number, env) for number, part in enumerate(parts, 1)])
    )


def _local_key(part: str, number: int, environ: Mapping[str, str]) -> bytes:
    from relaykit.settings import ENCRYPTION_FORMS

    source, _, name = part.partition(":")
    if source == "env":
        if not environ.get(name):
            raise ConfigError(
                "store_encryption",
                f"local key {number}: environment variable {name} is not set",
                ENCRYPTION_FORMS,
            )
        raw, origin = environ[name].encode(), f"environment variable {name}"
    elif source == "file":
        try:
            raw, origin = Path(name).read_bytes(), f"file {name}"
        except OSError as exc:
            problem = f"local key {number}: cannot read {name} ({exc.strerror})"
            raise ConfigError("store_encryption", problem, ENCRYPTION_FORMS) from None
        if len(raw) == 32:
            return raw  # 32 raw bytes (base64 of 32 bytes is 44 characters)
    else:
        raw, origin = part.encode(), "the setting"
    try:
        text = raw.strip().replace(b"-", b"+").replace(b"_", b"/")
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != 32:
        problem = f"local key {number} (from {origin}) is not 32 bytes, base64-encoded"
        raise ConfigError("store_encryption", problem, ENCRYPTION_FORMS)
    return key

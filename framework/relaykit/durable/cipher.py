"""The envelope format of store encryption: ``Cipher`` seals text for a run and field under a
per-process data key (from a ``KeyWrap``, see ``relaykit.durable.keys``) and opens it again.

Sealed text is::

    rk1:BASE64(kind (L local, K KMS) | wrapped key length (2 bytes) | wrapped data key
               | nonce (12 bytes) | ciphertext and 16-byte tag)

The associated data names the run and the field, so a ciphertext altered, or moved to another
run or field, fails to open. ``cipher_from_setting`` builds the cipher a ``store_encryption``
value names.
"""

from __future__ import annotations

import base64
import binascii
import os
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from relaykit.durable.keys import KeyWrap, KmsKeys, LocalKeys, aesgcm, invalid_tag, local_key
from relaykit.errors import ConfigError, StoreError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX = "rk1:"
MAX_USES = 1 << 31
"""Values sealed under one data key before a new one is made (random 96-bit nonces)."""
_KINDS = {b"L": "a local key", b"K": "a KMS key"}
_CACHED_KEYS = 1024


def _aad(run_id: str, field: str) -> bytes:
    return f"{len(run_id)}:{run_id}/{field}".encode()


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
        except invalid_tag():
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
                    aead = aesgcm(data_key)
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
                aead = aesgcm(data_key)
                self._remember(wrapped, aead)
                self.data_keys_opened += 1
        return aead

    def _remember(self, wrapped: bytes, aead: AESGCM) -> None:
        if len(self._opened) >= _CACHED_KEYS:
            self._opened.pop(next(iter(self._opened)))
        self._opened[wrapped] = aead


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
    return Cipher(LocalKeys([local_key(part, number, env) for number, part in enumerate(parts, 1)]))

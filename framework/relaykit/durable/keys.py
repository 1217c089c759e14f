"""Where the data keys of store encryption come from: local 32-byte keys (``LocalKeys``) or AWS
KMS (``KmsKeys``), behind one small ``KeyWrap`` protocol; and the local keys a
``store_encryption`` setting names (inline, from an environment variable or a file).

``cryptography`` and boto3 are imported where first used. Errors name key ids, never keys.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from relaykit.errors import ConfigError, MissingExtraError, StoreError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KMS_CONTEXT = {"relaykit": "durable-store"}
"""The KMS encryption context of every data key (``GenerateDataKey`` and ``Decrypt``)."""
_WRAP_AAD = b"relaykit data key"


def aesgcm(key: bytes) -> AESGCM:
    try:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    except ImportError:
        raise MissingExtraError("cryptography", "encryption", "store encryption") from None
    return AESGCM(key)


def invalid_tag() -> type[Exception]:
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
        return data_key, kid + nonce + aesgcm(key).encrypt(nonce, data_key, _WRAP_AAD)

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
            return aesgcm(key).decrypt(nonce, sealed, _WRAP_AAD)
        except invalid_tag():
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


def local_key(part: str, number: int, environ: Mapping[str, str]) -> bytes:
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

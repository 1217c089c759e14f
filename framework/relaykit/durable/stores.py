"""``open_store(url)``: a store from its URL (the ``store`` setting)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from relaykit.durable.store import Store
from relaykit.errors import ConfigError

ACCEPTED = "sqlite:///PATH, dynamodb://TABLE?bucket=NAME, memory://"


def open_store(
    url: str, *, encryption: str = "off", plaintext: str = "read", **clients: Any
) -> Store:
    """Open the store named by ``url``.

    ``sqlite:///relative/path.db`` or ``sqlite:////absolute/path.db``; ``memory://`` (SQLite in
    memory, one process); ``dynamodb://TABLE?bucket=NAME&offload_bytes=N`` with optional
    ``dynamodb=``/``s3=`` boto3 clients (created from the environment when not given).

    ``encryption`` (the ``store_encryption`` setting) wraps the store in an ``EncryptedStore``:
    ``local:...`` or ``kms:...`` (with an optional ``kms=`` boto3 client); ``plaintext`` (the
    ``store_encryption_plaintext`` setting) says whether unencrypted values still read.
    """
    if encryption == "off":
        return _open(url, clients)
    from relaykit.durable.encryption import EncryptedStore, cipher_from_setting

    cipher = cipher_from_setting(encryption, kms=clients.get("kms"))  # keys first: fail early
    store = _open(url, clients)
    return store if cipher is None else EncryptedStore(store, cipher, plaintext=plaintext)


def _open(url: str, clients: dict[str, Any]) -> Store:
    parts = urlsplit(url)
    scheme = parts.scheme
    if scheme == "memory":
        from relaykit.durable.sqlite_store import SQLiteStore

        return SQLiteStore(":memory:")
    if scheme == "sqlite":
        path = url[len("sqlite:///") :] if url.startswith("sqlite:///") else ""
        if not path:
            raise ConfigError("store", f"{url!r} names no database file", ACCEPTED)
        from relaykit.durable.sqlite_store import SQLiteStore

        return SQLiteStore(path)
    if scheme == "dynamodb":
        table = parts.netloc
        if not table:
            raise ConfigError("store", f"{url!r} names no table", ACCEPTED)
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        from relaykit.durable.dynamodb_store import DynamoDBStore

        return DynamoDBStore(
            table,
            bucket=query.get("bucket"),
            offload_bytes=int(query.get("offload_bytes", 200_000)),
            dynamodb=clients.get("dynamodb"),
            s3=clients.get("s3"),
        )
    raise ConfigError("store", f"unknown store {url!r}", ACCEPTED)

"""DynamoDB attribute values and errors, for the DynamoDB store: typed attribute builders and
readers, which client errors are transient (trying later can cure them) or a failed condition,
the table's index definitions, the boto3 client factory and the runs-page cursor."""

from __future__ import annotations

import base64
import json
from typing import Any

from relaykit.errors import MissingExtraError, StoreError

DAY = 86_400.0


def attr_s(value: str) -> dict[str, str]:
    return {"S": value}


def attr_n(value: float) -> dict[str, str]:
    return {"N": repr(float(value)) if isinstance(value, float) else str(value)}


def num_of(item: dict[str, Any], key: str, default: float | None = None) -> Any:
    raw = item.get(key)
    if raw is None:
        return default
    text = raw["N"]
    return float(text) if any(c in text for c in ".eE") else int(text)


def str_of(item: dict[str, Any], key: str) -> str | None:
    raw = item.get(key)
    return None if raw is None else str(raw["S"])


_TRANSIENT_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionConflictException",
        "TransactionInProgressException",
    }
)
_TRANSIENT_CLASSES = frozenset(
    {"EndpointConnectionError", "ConnectionClosedError", "ReadTimeoutError", "ConnectTimeoutError"}
)


def is_transient(exc: BaseException) -> bool:
    """Throttling, a 5xx, a lost or timed-out connection: worth trying again later."""
    code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
    if code in _TRANSIENT_CODES:
        return True
    status = getattr(exc, "response", {}).get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    if isinstance(status, int) and status >= 500:
        return True
    return any(cls.__name__ in _TRANSIENT_CLASSES for cls in type(exc).__mro__)


def failed(what: str, exc: BaseException) -> StoreError:
    """The ``StoreError`` for a failed call, marked ``transient`` when trying later can help."""
    return StoreError(f"{what} failed: {exc}", transient=is_transient(exc))


def is_conditional_failure(exc: Exception) -> bool:
    code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
    return code in ("ConditionalCheckFailedException", "TransactionCanceledException")


def gsi(name: str, hash_key: str, range_key: str) -> dict[str, Any]:
    return {
        "IndexName": name,
        "KeySchema": [
            {"AttributeName": hash_key, "KeyType": "HASH"},
            {"AttributeName": range_key, "KeyType": "RANGE"},
        ],
        "Projection": {"ProjectionType": "ALL"},
    }


def boto3_client(service: str) -> Any:
    try:
        import boto3
    except ImportError:
        raise MissingExtraError("boto3", "lambda", f"the DynamoDB store ({service})") from None
    factory: Any = boto3.client
    return factory(service)


def parse_cursor(cursor: str) -> dict[str, Any]:
    """The ``ExclusiveStartKey`` a page of runs returned as its cursor; ``ValueError`` for
    anything else (never a key the client made up reaching DynamoDB)."""
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode("ascii")))
    except (ValueError, UnicodeError):
        key = None
    ok = (
        isinstance(key, dict)
        and key
        and all(isinstance(v, dict) and len(v) == 1 and set(v) <= {"S", "N"} for v in key.values())
    )
    if not ok:
        raise ValueError("the cursor is not one a page of runs returned")
    start: dict[str, Any] = key
    return start

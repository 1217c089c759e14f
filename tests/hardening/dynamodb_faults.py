"""A fault-injecting HTTP proxy in front of a moto server: real boto3 talks to it as DynamoDB.

Each request is forwarded to moto unchanged, unless the proxy's ``plan`` picks a fault for it:

- ``throttle``: answer ``400 ProvisionedThroughputExceededException`` without forwarding (the
  table's capacity was exceeded; nothing was written);
- ``throttling``: the same with ``ThrottlingException`` (the control plane's limit);
- ``lost``: forward the request (moto applies it) and answer ``500 InternalFailure``: the write
  happened but the client saw an error, as after a timeout on the way back.

botocore retries all three (its own retries, before relaykit sees anything). ``counts`` records
the faults served by kind and by operation (``X-Amz-Target``), and every request seen.

DynamoDB makes ``TransactWriteItems`` idempotent by its ``ClientRequestToken`` (botocore fills
one in per call and keeps it across its retries): a retry of a transaction that was applied
answers success without applying it again. moto does not, so the proxy does it for moto: it
remembers the tokens of applied transactions and answers a repeat with the first answer.
DynamoDB's transactions are also isolated from concurrent ones; moto's are not (it snapshots a
whole table and restores it on a failed condition, over a concurrent write), so the proxy
forwards one request at a time. Clients still race: two executors read the same version and
one of their conditional writes fails, as on DynamoDB.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx

from stubs.http_server import Request, Responder, StubServer

Plan = Callable[[str], str | None]
"""Given the DynamoDB operation (``TransactWriteItems``...), the fault to inject or None."""

WRITES = frozenset({"TransactWriteItems", "UpdateItem", "PutItem", "DeleteItem"})
_ERRORS = {
    "throttle": (
        400,
        "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
        "The level of configured provisioned throughput for the table was exceeded.",
    ),
    "throttling": (400, "com.amazon.coral.availability#ThrottlingException", "Rate exceeded"),
    "lost": (500, "com.amazon.coral.service#InternalFailure", "Internal server error"),
}


def no_faults(operation: str) -> str | None:
    return None


def random_faults(
    seed: int, rate: float, kinds: tuple[str, ...], operations: frozenset[str] = WRITES
) -> Plan:
    """A seeded plan: each request of ``operations`` gets a fault with probability ``rate``."""
    rng = random.Random(seed)
    lock = threading.Lock()

    def plan(operation: str) -> str | None:
        with lock:
            if operation in operations and rng.random() < rate:
                return rng.choice(kinds)
            return None

    return plan


def scripted(operation: str, skip: int, faults: list[str]) -> Plan:
    """A plan that lets ``skip`` requests of ``operation`` through, then faults the next ones
    with ``faults`` in order (one each), then nothing."""
    seen = 0
    lock = threading.Lock()

    def plan(requested: str) -> str | None:
        nonlocal seen
        if requested != operation:
            return None
        with lock:
            seen += 1
            index = seen - skip - 1
            return faults[index] if 0 <= index < len(faults) else None

    return plan


class FaultProxy:
    """The proxy (see the module docstring); ``plan`` may be replaced between requests."""

    def __init__(self, upstream: str, plan: Plan = no_faults) -> None:
        self.upstream = upstream
        self.plan = plan
        self.counts: Counter[str] = Counter()
        self.requests: Counter[str] = Counter()
        self._client: httpx.AsyncClient | None = None
        self._applied: dict[str, tuple[int, dict[str, str], bytes]] = {}
        self._serial: asyncio.Lock | None = None
        self.server = StubServer(self.handle)

    @property
    def url(self) -> str:
        return self.server.url

    def __enter__(self) -> FaultProxy:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()

    async def handle(self, request: Request, respond: Responder) -> None:
        operation = request.headers.get("x-amz-target", "").rpartition(".")[2] or request.path
        self.requests[operation] += 1
        fault = self.plan(operation)
        if fault is not None:
            self.counts[fault] += 1
            self.counts[f"{fault}:{operation}"] += 1
        if fault in ("throttle", "throttling"):
            await self._error(respond, fault)
            return
        token = _client_token(operation, request.body)
        if token is not None and token in self._applied:
            self.counts["idempotent_repeat"] += 1
            status, headers, body = self._applied[token]
        else:
            status, headers, body = await self._forward(request)
            if token is not None and status == 200:
                self._applied[token] = (status, headers, body)
        if fault == "lost":
            await self._error(respond, fault)
            return
        await respond.send(status, body, headers)

    async def _forward(self, request: Request) -> tuple[int, dict[str, str], bytes]:
        if self._client is None or self._serial is None:  # made on the proxy's own loop
            self._client = httpx.AsyncClient(base_url=self.upstream, timeout=30)
            self._serial = asyncio.Lock()
        skip = {"host", "content-length", "connection", "accept-encoding"}
        async with self._serial:
            response = await self._client.request(
                request.method,
                request.path,
                content=request.body,
                headers={k: v for k, v in request.headers.items() if k not in skip},
            )
        keep = {"content-type", "x-amzn-requestid", "x-amz-crc32"}
        headers = {k: v for k, v in response.headers.items() if k.lower() in keep}
        return response.status_code, headers, response.content

    async def _error(self, respond: Responder, fault: str) -> None:
        status, kind, message = _ERRORS[fault]
        body: dict[str, Any] = {"__type": kind, "message": message}
        await respond.send(
            status,
            json.dumps(body).encode(),
            {"content-type": "application/x-amz-json-1.0", "x-amzn-requestid": "fault"},
        )


def _client_token(operation: str, body: bytes) -> str | None:
    if operation != "TransactWriteItems":
        return None
    token = json.loads(body or b"{}").get("ClientRequestToken")
    return str(token) if token else None

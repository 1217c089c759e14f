"""Continuations on Lambda: how a split or woken run gets its next invocation.

``SelfInvokeContinuation`` invokes the same function asynchronously (``InvocationType=Event``)
with ``{"relaykit": "continue", "run_id": ...}``: ids only, never values, so the payload stays far
below the 1 MB asynchronous limit. Lambda retries a failed asynchronous invocation twice, and a
duplicate delivery is harmless (the engine's lease makes the second a no-op). A wake-up later than
now (a timer) cannot be delayed by an asynchronous invoke: the scheduled sweep
(``{"relaykit": "sweep"}`` from an EventBridge schedule) finds it when it is due.
``SqsContinuation`` sends the same message to a queue with ``DelaySeconds`` (up to 15 minutes).
The invoke happens before ``schedule`` returns, so it is never lost to a frozen environment.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from typing import Any

from relaykit.errors import ConfigError, MissingExtraError
from relaykit.settings import Settings

logger = logging.getLogger("relaykit.durable")
SQS_MAX_DELAY = 900


def continuation_payload(run_id: str) -> bytes:
    return json.dumps({"relaykit": "continue", "run_id": run_id}).encode()


def _boto3_client(service: str) -> Any:
    try:
        import boto3
    except ImportError:
        raise MissingExtraError("boto3", "lambda", f"workflow continuations ({service})") from None
    return boto3.client(service)  # type: ignore[call-overload]


class SelfInvokeContinuation:
    """Resume runs by invoking this function asynchronously (see the module docstring)."""

    def __init__(self, settings: Settings, client: Any = None, function: str | None = None):
        self.function = function or os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        if not self.function:
            raise ConfigError(
                "workflow_continuation",
                "is lambda, but AWS_LAMBDA_FUNCTION_NAME is not set (not running on Lambda)",
                "auto, inprocess, sqs",
            )
        self._client = client
        self.sent: list[str] = []
        if client is None:
            # Built now (with the engine, before any step's deadline check) rather than at the
            # first split: importing boto3 and making a client takes a few hundred ms, which
            # would otherwise come out of the margin kept for the commit and the invoke.
            with contextlib.suppress(Exception):
                self._client = _boto3_client("lambda")

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = _boto3_client("lambda")
        return self._client

    def schedule(self, run_id: str, *, not_before: float | None = None) -> None:
        if not_before is not None and not_before > time.time() + 1.0:
            logger.info("run %s waits until %.0f: the next sweep resumes it", run_id, not_before)
            return
        self.client.invoke(
            FunctionName=self.function,
            InvocationType="Event",
            Payload=continuation_payload(run_id),
        )
        self.sent.append(run_id)


class SqsContinuation:
    """Resume runs through an SQS queue (``workflow_queue_url``), delayed up to 15 minutes."""

    def __init__(self, settings: Settings, client: Any = None) -> None:
        if not settings.workflow_queue_url:
            raise ConfigError(
                "workflow_queue_url", "is required when workflow_continuation is sqs", "a queue URL"
            )
        self.queue_url = settings.workflow_queue_url
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = _boto3_client("sqs")
        return self._client

    def schedule(self, run_id: str, *, not_before: float | None = None) -> None:
        delay = 0 if not_before is None else int(max(0.0, not_before - time.time()))
        if delay > SQS_MAX_DELAY:
            logger.info("run %s waits past SQS's delay limit: the next sweep resumes it", run_id)
            return
        self.client.send_message(
            QueueUrl=self.queue_url,
            MessageBody=continuation_payload(run_id).decode(),
            DelaySeconds=delay,
        )

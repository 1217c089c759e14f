"""relaykit.durable: durable workflows (layer 2): the engine, its stores and continuations.

Importing this package loads only the standard library and relaykit's core; a store's client
(boto3 for DynamoDB) is imported when that store is opened.
"""

from __future__ import annotations

from relaykit.durable.context import Suspend, WorkflowContext
from relaykit.durable.continuation import Continuation, InProcessContinuation
from relaykit.durable.deadline import Clock, DeadlinePolicy, SystemClock
from relaykit.durable.engine import Engine
from relaykit.durable.retry import NO_RETRY, RetryPolicy
from relaykit.durable.spec import RunOutcome
from relaykit.durable.store import Store
from relaykit.durable.stores import open_store
from relaykit.durable.view import RunView

__all__ = [
    "NO_RETRY",
    "Clock",
    "Continuation",
    "DeadlinePolicy",
    "Engine",
    "InProcessContinuation",
    "RetryPolicy",
    "RunOutcome",
    "RunView",
    "Store",
    "Suspend",
    "SystemClock",
    "WorkflowContext",
    "open_store",
]

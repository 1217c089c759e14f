"""Fan-out: run workflow branches concurrently, each in a child context with its own positions,
and combine their outcomes the way one sequential workflow would.

Branch ``i`` of the fan-out at position ``p`` numbers its steps ``p.i.0``, ``p.i.1``...,
whatever order the branches finish in, so a replay finds every branch's records. When branches
suspend, the fan-out suspends until the earliest timer among them (the others replay); a
``BaseException`` that is not a suspension (``Stop``, cancellation) wins over everything; then
the first failed branch's exception is raised.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from relaykit.durable.execution import Suspend

if TYPE_CHECKING:
    from relaykit.durable.context import WorkflowContext

T = TypeVar("T")
Branch = Callable[["WorkflowContext"], Awaitable[Any]]


async def gather(
    child: Callable[[int], WorkflowContext],
    branches: Sequence[Branch],
    concurrency: int,
    raise_fatal: Callable[[], None],
) -> list[Any]:
    """Each ``branch(child(i))``, at most ``concurrency`` at once; results in order."""
    semaphore = asyncio.Semaphore(max(1, concurrency))

    async def run(index: int, branch: Branch) -> Any:
        async with semaphore:
            return await branch(child(index))

    tasks = [asyncio.ensure_future(run(i, branch)) for i, branch in enumerate(branches)]
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    raise_fatal()
    suspends = [o for o in outcomes if isinstance(o, Suspend)]
    for outcome in outcomes:
        if isinstance(outcome, BaseException) and not isinstance(outcome, Suspend | Exception):
            raise outcome
    if suspends:
        dues = [s.due_at for s in suspends]
        timed = [d for d in dues if d is not None]
        raise Suspend(min(timed) if timed else None, suspends[0].reason)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
    return list(outcomes)


def step_branch(name: str, fn: Callable[[T], Any], item: T, options: dict[str, Any]) -> Branch:
    """The branch of ``ctx.map`` for one item: one step ``name`` running ``fn(item)``."""

    async def run(child: WorkflowContext) -> Any:
        return await child.step(name, fn, item, **options)

    return run

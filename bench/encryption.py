"""Encryption at rest: durable steps/s on SQLite with and without ``store_encryption`` (a local
key), the ratio, replay time per step, the cost of one seal/open, and bytes added per value.

Run: ``.venv/bin/python bench/encryption.py [--steps N] [--rounds N]``. Both sides run the same
engine on fresh SQLite files (WAL, synchronous=NORMAL) in this process, rounds interleaved and
alternating which side goes first; figures are medians. Ratios are given on wall time and on the
process's CPU time (user + system), which other load on a shared machine disturbs less.
Each step seals two fields (its name and value) and writes one progress entry; a resume opens
the step log (two fields per step).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "framework"))

from relaykit.durable import Engine, Store, WorkflowContext, open_store
from relaykit.durable.encryption import Cipher, LocalKeys, generate_key

INFINITE: Callable[[], float] = lambda: math.inf  # noqa: E731


class NoContinuation:
    def schedule(self, run_id: str, *, not_before: float | None = None) -> None:
        return None


async def _value(i: int) -> dict[str, Any]:
    return {"i": i, "text": f"note {i}: a short model answer of a few words"}


def _sequential(n: int) -> Callable[..., Any]:
    async def workflow(ctx: WorkflowContext) -> int:
        for i in range(n):
            await ctx.step(f"search:{i}", _value, i)
        return n

    return workflow


def _then_wait(n: int) -> Callable[..., Any]:
    async def workflow(ctx: WorkflowContext) -> int:
        for i in range(n):
            await ctx.step(f"search:{i}", _value, i)
        await ctx.wait_for_event("go")
        return n

    return workflow


async def run_steps(store: Store, n: int) -> tuple[float, float]:
    """Wall and CPU seconds for one run of ``n`` sequential steps in one invocation."""
    engine = Engine(store, NoContinuation())
    run_id = await engine.start("seq", _sequential(n), schedule=False)
    started, cpu = time.perf_counter(), time.process_time()
    outcome = await engine.resume(run_id, remaining=INFINITE)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    assert outcome.status == "completed", outcome
    return elapsed, cpu


async def replay(store: Store, n: int) -> float:
    """Seconds for a resume that replays ``n`` committed steps and finishes."""
    engine = Engine(store, NoContinuation())
    run_id = await engine.start("wait", _then_wait(n), schedule=False)
    first = await engine.resume(run_id, remaining=INFINITE)
    assert first.status == "suspended", first
    await engine.send_event(run_id, "go", True)
    started = time.perf_counter()
    done = await engine.resume(run_id, remaining=INFINITE)
    elapsed = time.perf_counter() - started
    assert done.status == "completed", done
    return elapsed


def micro(samples: int = 20_000) -> tuple[float, float, int]:
    """Microseconds to seal and to open one 60-byte value, and the bytes sealing adds."""
    cipher = Cipher(LocalKeys([os.urandom(32)]))
    text = '{"i":1,"text":"note 1: a short model answer of a few words"}'
    sealed = cipher.seal(text, "r" * 32, "step/1/value")
    started = time.perf_counter()
    for _ in range(samples):
        cipher.seal(text, "r" * 32, "step/1/value")
    seal_us = (time.perf_counter() - started) / samples * 1e6
    started = time.perf_counter()
    for _ in range(samples):
        cipher.open(sealed, "r" * 32, "step/1/value")
    open_us = (time.perf_counter() - started) / samples * 1e6
    return seal_us, open_us, len(sealed) - len(text)


async def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--replay-steps", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="relaykit-bench-enc-"))
    key = generate_key()

    def plain() -> Store:
        return open_store(f"sqlite:///{tmp / (uuid.uuid4().hex + '.db')}")

    def encrypted() -> Store:
        return open_store(
            f"sqlite:///{tmp / (uuid.uuid4().hex + '.db')}", encryption=f"local:{key}"
        )

    for make in (plain, encrypted):  # first use imports pydantic's serialisers and cryptography
        warm = make()
        await run_steps(warm, 10)
        warm.close()
    rates: dict[str, list[float]] = {"plain": [], "encrypted": []}
    replays: dict[str, list[float]] = {"plain": [], "encrypted": []}
    ratios, cpu_ratios, replay_ratios = [], [], []
    for round_ in range(args.rounds):
        order = [("plain", plain), ("encrypted", encrypted)]
        if round_ % 2:
            order.reverse()
        seconds: dict[str, float] = {}
        cpu: dict[str, float] = {}
        replay_seconds: dict[str, float] = {}
        for label, make in order:
            store = make()
            seconds[label], cpu[label] = await run_steps(store, args.steps)
            replay_seconds[label] = await replay(store, args.replay_steps)
            store.close()
            rates[label].append(args.steps / seconds[label])
            replays[label].append(replay_seconds[label] / args.replay_steps * 1e6)
        ratios.append(seconds["plain"] / seconds["encrypted"])
        cpu_ratios.append(cpu["plain"] / cpu["encrypted"])
        replay_ratios.append(replay_seconds["plain"] / replay_seconds["encrypted"])
    seal_us, open_us, added = micro()
    ratio = statistics.median(ratios)
    print(f"encryption on {os.cpu_count()} cpu(s), python {sys.version.split()[0]}")
    print(
        f"sqlite steps/s: plain {statistics.median(rates['plain']):,.0f}, encrypted "
        f"{statistics.median(rates['encrypted']):,.0f}, ratio {ratio:.2f}x; CPU-time ratio "
        f"{statistics.median(cpu_ratios):.2f}x; {args.steps} steps x {args.rounds} rounds"
    )
    print(
        f"sqlite replay of {args.replay_steps:,} steps: plain "
        f"{statistics.median(replays['plain']):.1f} us/step, encrypted "
        f"{statistics.median(replays['encrypted']):.1f} us/step, ratio "
        f"{statistics.median(replay_ratios):.2f}x"
    )
    print(
        f"one value (60 bytes of JSON): seal {seal_us:.1f} us, open {open_us:.1f} us; "
        f"sealing adds {added} characters (local key; a KMS data key adds ~150 more)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

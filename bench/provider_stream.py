"""Provider overhead per streamed token: relaykit's Anthropic stream against the raw SDK stream.

One Messages API stub (``tests/stubs/anthropic_api.py``) runs in its own process on 127.0.0.1
and streams ``--tokens`` text deltas per request. In this process, one ``AsyncAnthropic`` client
(retries off) serves both sides: the raw SDK (``messages.create(stream=True)``, counting
``text_delta`` events) and relaykit (``AnthropicModel.stream``, ``async for text in stream``; and
``stream.events()``). Rounds are interleaved A B, B A ... and the median tokens/s is reported, with
the ratio relaykit/raw (goal: >= 0.9).

    python bench/provider_stream.py [--tokens 2000] [--rounds 7] [--strict]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "framework"))

from relaykit.llm.anthropic import AnthropicModel, shared_client  # noqa: E402
from relaykit.llm.retry import RetryPolicy  # noqa: E402
from relaykit.model import TextDelta  # noqa: E402

MODEL = "claude-haiku-4-5"
KEY = "bench-key-not-secret"
ASK = [{"role": "user", "content": "count"}]
GOAL = 0.9


def start_stub() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "stubs" / "anthropic_api.py")],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


async def raw_sdk(url: str, tokens: int) -> int:
    client = shared_client(KEY, url)
    stream = await client.messages.create(
        model=MODEL, max_tokens=tokens, messages=ASK, stream=True, timeout=60
    )
    count = 0
    async with stream:
        async for event in stream:
            if event.type == "content_block_delta" and event.delta.type == "text_delta":
                count += 1
    return count


async def relaykit_text(url: str, tokens: int) -> int:
    model = AnthropicModel(MODEL, api_key=KEY, base_url=url, retry=RetryPolicy(max_retries=0))
    count = 0
    async for _ in model.stream(ASK, max_tokens=tokens):  # type: ignore[arg-type]
        count += 1
    return count


async def relaykit_events(url: str, tokens: int) -> int:
    model = AnthropicModel(MODEL, api_key=KEY, base_url=url, retry=RetryPolicy(max_retries=0))
    count = 0
    async for event in model.stream(ASK, max_tokens=tokens).events():  # type: ignore[arg-type]
        count += type(event) is TextDelta
    return count


async def rate(run: Callable[[str, int], Awaitable[int]], url: str, tokens: int) -> float:
    start = time.perf_counter()
    count = await run(url, tokens)
    elapsed = time.perf_counter() - start
    if count != tokens:
        raise SystemExit(f"{run.__name__}: got {count} tokens, expected {tokens}")
    return count / elapsed


async def measure(url: str, tokens: int, rounds: int) -> dict[str, list[float]]:
    sides = [raw_sdk, relaykit_text, relaykit_events]
    results: dict[str, list[float]] = {side.__name__: [] for side in sides}
    for side in sides:  # warm-up: imports, connection, first-call costs
        await rate(side, url, min(tokens, 50))
    for index in range(rounds):
        order = sides if index % 2 == 0 else list(reversed(sides))
        for side in order:
            results[side.__name__].append(await rate(side, url, tokens))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--tokens", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--strict", action="store_true", help="exit 1 when below the goal")
    args = parser.parse_args()
    proc, url = start_stub()
    try:
        results = asyncio.run(measure(url, args.tokens, args.rounds))
    finally:
        proc.terminate()
        proc.wait(10)
    raw = statistics.median(results["raw_sdk"])
    print(f"provider stream, {args.tokens} tokens/request, {args.rounds} rounds, median tokens/s")
    print(f"  raw anthropic SDK            {raw:10.0f}")
    ok = True
    for name in ("relaykit_text", "relaykit_events"):
        value = statistics.median(results[name])
        ratio = value / raw
        ok &= ratio >= GOAL
        mark = "ok" if ratio >= GOAL else "BELOW GOAL"
        print(f"  {name:<28} {value:10.0f}   ratio {ratio:.3f}x (goal >= {GOAL}x) {mark}")
    return 0 if ok or not args.strict else 1


if __name__ == "__main__":
    sys.exit(main())

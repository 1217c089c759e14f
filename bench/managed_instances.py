"""Invocations per second and resident memory at concurrency 1, 16 and 64 for an I/O-bound
handler (a 1 s model call), relaykit's runtime serving all slots from one process
(Lambda Managed Instances) against AWS's process-per-slot model (one awslambdaric process per
slot), both on the local emulator behind a Function URL. Goal: >= 10x less memory at 64 slots
with the same throughput.

    .venv/bin/python bench/managed_instances.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

import httpx

from relaykit.local.emulator import Emulator, FunctionConfig

HERE = Path(__file__).resolve().parent / "_functions"


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def configs(slots: int) -> list[FunctionConfig]:
    env = {"PYTHONPATH": str(HERE), "RELAYKIT_LAMBDA_RESPONSE_MODE": "buffered"}
    return [
        FunctionConfig(
            name="relaykit",
            handler="mi_relaykit:app",
            task_root=str(HERE),
            env=env,
            command=[sys.executable, "-m", "relaykit.lambda_runtime", "mi_relaykit:app"],
            timeout=30,
            concurrency=1,
            max_concurrency=slots,
        ),
        FunctionConfig(
            name="ric",
            handler="mi_ric.handler",
            task_root=str(HERE),
            env=env,
            command=[sys.executable, "-m", "awslambdaric", "mi_ric.handler"],
            timeout=30,
            concurrency=slots,
            max_concurrency=1,
        ),
    ]


async def burst(client: httpx.AsyncClient, url: str, count: int) -> float:
    began = time.perf_counter()
    responses = await asyncio.gather(*(client.post(url) for _ in range(count)))
    elapsed = time.perf_counter() - began
    bad = [r.status_code for r in responses if r.status_code != 200]
    if bad:
        raise RuntimeError(f"{len(bad)} failed invocations: {bad[:5]}")
    return count / elapsed


async def measure(slots: int, rounds: int) -> dict[str, tuple[float, int]]:
    results: dict[str, tuple[float, int]] = {}
    async with Emulator(configs(slots)) as emu:
        limits = httpx.Limits(max_connections=slots + 8)
        async with httpx.AsyncClient(timeout=120, limits=limits) as client:
            urls = {
                "relaykit": emu.function_url("relaykit") + "/call",
                "ric": emu.function_url("ric") + "/call",
            }
            for url in urls.values():
                await burst(client, url, slots)  # warm: every environment started
            rates: dict[str, list[float]] = {name: [] for name in urls}
            for _ in range(rounds):
                for name, url in urls.items():
                    rates[name].append(await burst(client, url, slots))
            for name in urls:
                pids = [env.pid for env in emu.pools[name].environments if env.pid]
                memory = sum(rss_kib(pid) for pid in pids)
                results[name] = (statistics.median(rates[name]), memory)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(
        f"{'slots':>5}  {'relaykit inv/s':>14}  {'ric inv/s':>9}  {'ratio':>5}  "
        f"{'relaykit RSS MiB':>16}  {'ric RSS MiB':>11}  {'memory ratio':>12}"
    )
    for slots in (1, 16, 64):
        result = asyncio.run(measure(slots, args.rounds))
        (rk_rate, rk_mem), (ric_rate, ric_mem) = result["relaykit"], result["ric"]
        print(
            f"{slots:>5}  {rk_rate:>14.1f}  {ric_rate:>9.1f}  {rk_rate / ric_rate:>5.2f}  "
            f"{rk_mem / 1024:>16.1f}  {ric_mem / 1024:>11.1f}  {ric_mem / max(rk_mem, 1):>11.1f}x"
        )


if __name__ == "__main__":
    main()

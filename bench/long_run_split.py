"""Overhead of deadline-aware splitting: examples/research_agent.py on emulated Lambda (timeout
5 s) against the same run in a container (``relaykit serve``), on SQLite stores.

Run: ``.venv/bin/python bench/long_run_split.py [--timeout 5] [--margin 0.5] [--io-delay 0.5]``.

Figures: wall time from the POST to the completed run on each side (goal: Lambda <= 1.25x the
container), and the invocations that ran the workflow (one, plus one per ``suspended`` progress
entry) against the ideal: total step time / usable invocation time, usable = timeout - margin
(goal: <= 1.2x the ideal). The emulator's worker exit codes are checked: no invocation may be
killed by the timeout (-9). Both sides read the same request; results must be equal.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "framework"))

import httpx  # noqa: E402

from relaykit import App  # noqa: E402
from relaykit.local.emulator import Emulator, FunctionConfig  # noqa: E402

EXAMPLES = ROOT / "examples"
QUESTION = "How does a long agent run on Lambda?"


def common_env(store_url: str, model_delay: float) -> dict[str, str]:
    return {
        "RELAYKIT_STORE": store_url,
        "RELAYKIT_MODEL": "local",
        "RELAYKIT_LOCAL_MODEL_DELAY": str(model_delay),
        "RELAYKIT_METRICS": "false",
    }


def follow(store_url: str, run_id: str, limit: float = 600) -> tuple[dict[str, Any], list[str]]:
    observer = App("bench-observer", settings={"store": store_url, "model": "local"})

    async def poll() -> tuple[dict[str, Any], list[str]]:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            view = (await observer.engine.get(run_id)).to_dict()
            if view["status"] in ("completed", "failed", "cancelled"):
                kinds = [p.kind for p in await observer.engine.progress(run_id, limit=100_000)]
                return view, kinds
            await asyncio.sleep(0.02)
        raise TimeoutError(f"run {run_id} did not finish in {limit} s")

    return asyncio.run(poll())


def start(url: str, io_delay: float) -> tuple[str, float]:
    began = time.monotonic()
    response = httpx.post(
        f"{url}/research", json={"question": QUESTION, "io_delay": io_delay}, timeout=30
    )
    response.raise_for_status()
    return str(response.json()["run_id"]), began


def on_lambda(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    store_url = f"sqlite:///{folder / 'lambda.db'}"
    env = {
        **common_env(store_url, args.model_delay),
        "PYTHONPATH": str(EXAMPLES),
        "RELAYKIT_WORKFLOW_MARGIN": str(args.margin),
        "RELAYKIT_WORKFLOW_INVOCATION_BUDGET": str(args.timeout),
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    config = FunctionConfig(
        name="research",
        command=[sys.executable, "-m", "relaykit.lambda_runtime", "research_agent:app"],
        env=env,
        handler="research_agent:app",
        task_root=str(EXAMPLES),
        timeout=args.timeout,
        invoke_mode="RESPONSE_STREAM",
        concurrency=4,
    )
    with Emulator([config], retry_delay_scale=0.001).running() as emu:
        env["AWS_ENDPOINT_URL_LAMBDA"] = emu.invoke_url
        run_id, began = start(emu.function_url("research"), args.io_delay)
        view, kinds = follow(store_url, run_id)
        wall = time.monotonic() - began
        exit_codes = list(emu.pools["research"].exit_codes)
    return {"view": view, "kinds": kinds, "wall": wall, "exit_codes": exit_codes}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def in_container(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    store_url = f"sqlite:///{folder / 'container.db'}"
    port = free_port()
    env = {**os.environ, **common_env(store_url, args.model_delay)}
    command = [str(Path(sys.executable).with_name("relaykit")), "serve"]
    command += [str(EXAMPLES / "research_agent.py"), "--port", str(port)]
    command += ["--log-level", "warning"]
    with (folder / "serve.log").open("wb") as log:
        server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                httpx.get(f"{url}/runs", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        run_id, began = start(url, args.io_delay)
        view, kinds = follow(store_url, run_id)
        wall = time.monotonic() - began
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    return {"view": view, "kinds": kinds, "wall": wall}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=5.0, help="function timeout, seconds")
    parser.add_argument("--margin", type=float, default=0.5, help="workflow_margin, seconds")
    parser.add_argument("--io-delay", type=float, default=0.5, help="seconds per tool call")
    parser.add_argument("--model-delay", type=float, default=0.0125, help="seconds per word")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="long-run-split-") as tmp:
        folder = Path(tmp)
        container = in_container(args, folder)
        lam = on_lambda(args, folder)

    for name, side in (("container", container), ("lambda", lam)):
        if side["view"]["status"] != "completed":
            print(f"{name}: the run did not complete: {json.dumps(side['view'])[:500]}")
            return 1
    same = container["view"]["result"] == lam["view"]["result"]
    work = sum(step["duration"] for step in lam["view"]["steps"])
    invocations = 1 + lam["kinds"].count("suspended")
    usable = args.timeout - args.margin
    ideal = math.ceil(work / usable)
    killed = lam["exit_codes"].count(-9)
    wall_ratio = lam["wall"] / container["wall"]
    inv_ratio = invocations / ideal

    def verdict(ok: bool) -> str:
        return "ok" if ok else "BELOW GOAL"

    print(
        f"long_run_split: research agent, {len(lam['view']['steps'])} steps, "
        f"{work:.1f} s of step time, timeout {args.timeout:g} s, margin {args.margin:g} s"
    )
    print(
        f"  container wall      {container['wall']:7.2f} s  (splits: "
        f"{container['kinds'].count('suspended')})"
    )
    print(
        f"  lambda wall         {lam['wall']:7.2f} s  ratio {wall_ratio:.2f}x "
        f"(goal <= 1.25x: {verdict(wall_ratio <= 1.25)})"
    )
    print(
        f"  invocations         {invocations:7d}    ideal {ideal} (step time / {usable:g} s) "
        f"ratio {inv_ratio:.2f}x (goal <= 1.2x: {verdict(inv_ratio <= 1.2)})"
    )
    print(f"  work / timeout      {work / args.timeout:7.1f}x")
    print(f"  killed by timeout   {killed:7d}    same result: {same}")
    return 0 if same and killed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

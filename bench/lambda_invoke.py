"""Lambda target benchmarks: per-invoke overhead and cold start, relaykit against bare Mangum.

Run: ``.venv/bin/python bench/lambda_invoke.py [--n 2000] [--runs 7] [--cold-runs 9]``.

Per invoke: the same HTTP API v2 ``POST /echo`` event (a 3-field JSON body, validated by a pydantic
model and echoed) through ``app.lambda_handler``, through a bare FastAPI app with the same route
under ``Mangum(app, lifespan="off")``, and under Mangum's default ``lifespan="auto"``. Variants are
interleaved round-robin; the figure is the median of the runs' µs per invoke. relaykit runs with
its defaults (EMF metrics on, written to stdout, redirected to /dev/null here) and with
``metrics`` off.

Cold start: a fresh interpreter imports the app module and handles one event, timed from process
start to the answer; relaykit against bare FastAPI+Mangum, median of the runs (interleaved), with
bytecode (after a warm-up run wrote it) and without (a temporary copy of the sources and of
site-packages with no ``__pycache__`` and ``PYTHONDONTWRITEBYTECODE=1``).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

EVENT: dict[str, Any] = {
    "version": "2.0",
    "routeKey": "POST /echo",
    "rawPath": "/echo",
    "rawQueryString": "",
    "headers": {
        "accept": "application/json",
        "content-type": "application/json",
        "content-length": "52",
        "host": "r3pmxmplak.execute-api.us-east-2.amazonaws.com",
        "user-agent": "bench/1.0",
        "x-amzn-trace-id": "Root=1-6a1f0c2e-3b5d7e9f1a2c4e6a8b0d2f4a",
        "x-forwarded-for": "198.51.100.7",
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
    },
    "requestContext": {
        "accountId": "123456789012",
        "apiId": "r3pmxmplak",
        "domainName": "r3pmxmplak.execute-api.us-east-2.amazonaws.com",
        "domainPrefix": "r3pmxmplak",
        "http": {
            "method": "POST",
            "path": "/echo",
            "protocol": "HTTP/1.1",
            "sourceIp": "198.51.100.7",
            "userAgent": "bench/1.0",
        },
        "requestId": "JKJaXmPLvHcESHA=",
        "routeKey": "POST /echo",
        "stage": "$default",
        "time": "28/Nov/2026:06:33:00 +0000",
        "timeEpoch": 1795847580000,
    },
    "body": json.dumps({"name": "ada", "count": 3, "tags": ["a", "b"]}),
    "isBase64Encoded": False,
}

APP_MODULES = {
    "relaykit_app.py": """
        from pydantic import BaseModel
        from relaykit import App

        class Item(BaseModel):
            name: str
            count: int
            tags: list[str]

        app = App("bench", settings={"log_level": "WARNING"})

        @app.task("/echo")
        async def echo(body: Item) -> Item:
            return body

        handler = app.lambda_handler
    """,
    "bare_app.py": """
        from fastapi import FastAPI
        from mangum import Mangum
        from pydantic import BaseModel

        class Item(BaseModel):
            name: str
            count: int
            tags: list[str]

        api = FastAPI()

        @api.post("/echo")
        async def echo(body: Item) -> Item:
            return body

        handler = Mangum(api, lifespan="off")
        handler_auto = Mangum(api, lifespan="auto")
    """,
}


class Context:
    """A Lambda context object, as the managed runtime passes it."""

    aws_request_id = "8f6c3b1e-2d4a-4c5e-9f7a-1b2c3d4e5f60"
    invoked_function_arn = "arn:aws:lambda:us-east-2:123456789012:function:bench"
    function_name = "bench"
    function_version = "$LATEST"
    memory_limit_in_mb = 1024

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def write_apps(folder: Path) -> None:
    for name, source in APP_MODULES.items():
        (folder / name).write_text(textwrap.dedent(source))


def per_invoke(n: int, runs: int) -> dict[str, float]:
    folder = Path(tempfile.mkdtemp(prefix="relaykit-bench-"))
    write_apps(folder)
    sys.path.insert(0, str(folder))
    os.environ["RELAYKIT_METRICS"] = "true"
    import bare_app
    import relaykit_app

    from relaykit import App

    quiet = App("bench-quiet", settings={"log_level": "WARNING", "metrics": False})
    quiet.add_task("/echo", relaykit_app.echo)
    variants: dict[str, Callable[[dict[str, Any], Any], Any]] = {
        "relaykit (metrics on)": relaykit_app.handler,
        "relaykit (metrics off)": quiet.lambda_handler,
        "Mangum lifespan=off": bare_app.handler,
        "Mangum lifespan=auto": bare_app.handler_auto,
    }
    context = Context()
    expected = json.loads(EVENT["body"])
    samples: dict[str, list[float]] = {name: [] for name in variants}
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        for handler in variants.values():
            for _ in range(200):
                out = handler(copy.deepcopy(EVENT), context)
            assert json.loads(out["body"]) == expected, out
        events = [copy.deepcopy(EVENT) for _ in range(n)]
        for _ in range(runs):
            for name, handler in variants.items():
                batch = [dict(event) for event in events]
                start = time.perf_counter()
                for event in batch:
                    handler(event, context)
                samples[name].append((time.perf_counter() - start) / n * 1e6)
    relaykit_app.handler.close()
    quiet.lambda_handler.close()
    shutil.rmtree(folder, ignore_errors=True)
    return {name: statistics.median(values) for name, values in samples.items()}


COLD_SCRIPT = """
import time, json, sys
t0 = time.perf_counter()
import {module} as m
out = m.handler({event}, type("C", (), {{
    "aws_request_id": "r", "invoked_function_arn": "arn", "function_name": "f",
    "get_remaining_time_in_millis": lambda self: 30000}})())
assert out["statusCode"] == 200, out
print(json.dumps({{"ms": (time.perf_counter() - t0) * 1000}}))
"""


def cold_once(folder: Path, module: str, env: dict[str, str], python: str) -> float:
    script = COLD_SCRIPT.format(module=module, event=repr(EVENT))
    start = time.perf_counter()
    subprocess.run(
        [python, "-c", script], cwd=folder, env=env, check=True, capture_output=True, text=True
    )
    return (time.perf_counter() - start) * 1000


def no_bytecode_copy(dest: Path) -> tuple[str, dict[str, str]]:
    """A copy of site-packages and of relaykit with no __pycache__: what a zip without .pyc is."""
    site = Path(sysconfig.get_paths()["purelib"])
    target = dest / "site"
    shutil.copytree(site, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copytree(
        ROOT / "framework" / "relaykit",
        target / "relaykit",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        dirs_exist_ok=True,
    )
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONPATH": f"{dest}:{target}",
        "PYTHONNOUSERSITE": "1",
    }
    return sys.executable, env


def cold_start(runs: int) -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="relaykit-cold-") as tmp:
        folder = Path(tmp)
        write_apps(folder)
        base_env = {
            "PATH": os.environ.get("PATH", ""),
            "PYTHONPATH": f"{folder}:{ROOT / 'framework'}",
            "RELAYKIT_METRICS": "true",
        }
        modes: dict[str, tuple[str, dict[str, str]]] = {"with bytecode": (sys.executable, base_env)}
        nobc_dir = folder / "nobc"
        nobc_dir.mkdir()
        write_apps(nobc_dir)
        python, env = no_bytecode_copy(nobc_dir)
        modes["no bytecode"] = (python, dict(env, RELAYKIT_METRICS="true"))
        for mode, (python, env) in modes.items():
            cwd = nobc_dir if mode == "no bytecode" else folder
            samples: dict[str, list[float]] = {"relaykit_app": [], "bare_app": []}
            for module in samples:
                cold_once(cwd, module, env, python)
            for _ in range(runs):
                for module in samples:
                    samples[module].append(cold_once(cwd, module, env, python))
            results[mode] = {module: statistics.median(v) for module, v in samples.items()}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="invokes per run")
    parser.add_argument("--runs", type=int, default=7, help="runs per variant (per invoke)")
    parser.add_argument("--cold-runs", type=int, default=9, help="fresh processes per variant")
    args = parser.parse_args()

    print(f"Per-invoke overhead, HTTP API v2 POST /echo, median of {args.runs} x {args.n}")
    figures = per_invoke(args.n, args.runs)
    base = figures["Mangum lifespan=off"]
    for name, value in figures.items():
        print(f"  {name:<26} {value:8.1f} us/invoke   {value / base:5.2f}x Mangum lifespan=off")
    auto = figures["Mangum lifespan=auto"]
    print(f"  relaykit vs Mangum lifespan=auto: {figures['relaykit (metrics on)'] / auto:.2f}x")

    print(f"\nCold start, fresh process to first answer, median of {args.cold_runs}")
    for mode, values in cold_start(args.cold_runs).items():
        ratio = values["relaykit_app"] / values["bare_app"]
        print(
            f"  {mode:<14} relaykit {values['relaykit_app']:7.1f} ms   "
            f"FastAPI+Mangum {values['bare_app']:7.1f} ms   {ratio:5.2f}x"
        )


if __name__ == "__main__":
    main()

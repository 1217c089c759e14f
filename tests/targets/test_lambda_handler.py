"""The Lambda handler object: one loop and one startup per environment, Lambda context on ctx
and in every log line, EMF metrics per invocation, shutdown on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import math
import os
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from relaykit import App, Context
from relaykit.targets.lambda_handler import LambdaHandler

MakeHandler = Callable[..., LambdaHandler]
ROOT = Path(__file__).resolve().parents[2]


def v2(event: Callable[[str], dict[str, Any]], path: str, body: str) -> dict[str, Any]:
    data = event("http_api_v2")
    data.update(rawPath=path, rawQueryString="", body=body, isBase64Encoded=False, cookies=[])
    data["requestContext"]["http"]["path"] = path
    data["headers"].pop("content-length")
    return data


def test_startup_runs_once_and_its_client_survives_warm_invokes(
    make_handler: MakeHandler, lambda_context: Any, event: Any, tmp_path: Path
) -> None:
    """Startup hooks and the ASGI lifespan run once across many invocations; the client built
    at startup is the same object, on the same running loop, in every invocation."""
    app = App("lifespan", settings={"metrics": False}, config_dir=tmp_path)
    calls = {"startup": 0, "shutdown": 0}
    clients: dict[str, Any] = {}

    @app.on_startup
    async def connect() -> None:
        calls["startup"] += 1
        clients["http"] = object()
        clients["loop"] = asyncio.get_running_loop()

    @app.on_shutdown
    def disconnect() -> None:
        calls["shutdown"] += 1

    @app.task("/who")
    async def who() -> dict[str, Any]:
        same_loop = asyncio.get_running_loop() is clients["loop"]
        return {"client": id(clients["http"]), "same_loop": same_loop}

    handler = make_handler(app)
    answers = [
        json.loads(handler(v2(event, "/who", ""), lambda_context(f"r{i}"))["body"])
        for i in range(5)
    ]
    assert calls == {"startup": 1, "shutdown": 0}
    assert answers == [{"client": id(clients["http"]), "same_loop": True}] * 5
    handler.close()
    assert calls == {"startup": 1, "shutdown": 1}


def test_asgi_lifespan_runs_once(
    make_handler: MakeHandler, lambda_context: Any, event: Any, tmp_path: Path
) -> None:
    """A lifespan on the FastAPI app itself is entered once, not per invocation (mangum#342)."""
    from contextlib import asynccontextmanager

    app = App("asgi-lifespan", settings={"metrics": False}, config_dir=tmp_path)
    entered: list[str] = []

    @app.task("/ping")
    async def ping() -> str:
        return "pong"

    @asynccontextmanager
    async def lifespan(_: Any) -> AsyncIterator[dict[str, Any]]:
        entered.append("startup")
        yield {"pool": "shared"}
        entered.append("shutdown")

    app.asgi().router.lifespan_context = lifespan
    handler = make_handler(app)
    for i in range(3):
        assert handler(v2(event, "/ping", ""), lambda_context(f"r{i}"))["body"] == '"pong"'
    assert entered == ["startup"]
    handler.close()
    assert entered == ["startup", "shutdown"]


def test_context_and_logs_carry_lambda_fields(
    make_handler: MakeHandler,
    lambda_context: Any,
    event: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """ctx.remaining_seconds() follows the Lambda deadline; request id, function ARN and X-Ray
    trace id are on ctx and, with cold_start and the correlation id, on every log line."""
    monkeypatch.setenv("_X_AMZN_TRACE_ID", "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1")
    app = App("ctx", settings={"metrics": False}, config_dir=tmp_path)

    @app.task("/ctx")
    async def show(ctx: Context) -> dict[str, Any]:
        ctx.logger.info("inside")
        return {
            "request_id": ctx.request_id,
            "function_arn": ctx.function_arn,
            "trace_id": ctx.trace_id,
            "target": ctx.target,
            "remaining_ok": 9.0 < ctx.remaining_seconds() <= 10.0,
        }

    handler = make_handler(app)
    out = handler(v2(event, "/ctx", ""), lambda_context("req-42", ms=10_000))
    assert json.loads(out["body"]) == {
        "request_id": "req-42",
        "function_arn": "arn:aws:lambda:eu-west-1:210987654321:function:relaykit-test",
        "trace_id": "1-5759e988-bd862e3fe1be46a994272793",
        "target": "lambda",
        "remaining_ok": True,
    }
    handler(v2(event, "/ctx", ""), lambda_context("req-43"))
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    inside = [line for line in lines if line["message"] == "inside"]
    for line, request_id, cold in zip(inside, ["req-42", "req-43"], [True, False], strict=True):
        assert line.pop("location").startswith("show:")
        assert line.pop("timestamp").endswith("Z")
        assert line == {
            "level": "INFO",
            "message": "inside",
            "service": "ctx",
            "logger": "relaykit.handler",
            "request_id": request_id,
            "correlation_id": "cQ2zLhMpoAMEVxw=",
            "handler": "/ctx",
            "xray_trace_id": "1-5759e988-bd862e3fe1be46a994272793",
            "function_arn": "arn:aws:lambda:eu-west-1:210987654321:function:relaykit-test",
            "cold_start": cold,
        }


def test_context_outside_lambda_has_no_deadline(tmp_path: Path) -> None:
    """The container path is unchanged: no Lambda context, no deadline."""
    app = App("plain", config_dir=tmp_path)
    assert app.new_context().remaining_seconds() == math.inf


def test_metrics_are_flushed_as_emf_each_invocation(
    make_handler: MakeHandler,
    lambda_context: Any,
    event: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Each invocation prints one EMF document: invocations, errors, latency per handler, plus
    cold_starts on the first."""
    handler = make_handler(metrics=True)
    handler(v2(event, "/ask", '{"question": "a"}'), lambda_context("r1"))
    handler(v2(event, "/nowhere", "{}"), lambda_context("r2"))
    docs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    for doc in docs:
        assert doc["latency"][0] >= 0
        doc["latency"] = ["masked"]
        del doc["_aws"]["Timestamp"]
    names = ["invocations", "errors", "latency"]
    definition = {"Namespace": "relaykit", "Dimensions": [["handler", "service"]]}
    assert docs == [
        {
            "_aws": {
                "CloudWatchMetrics": [
                    {
                        **definition,
                        "Metrics": [
                            {"Name": "invocations", "Unit": "Count"},
                            {"Name": "errors", "Unit": "Count"},
                            {"Name": "latency", "Unit": "Milliseconds"},
                            {"Name": "cold_starts", "Unit": "Count"},
                        ],
                    }
                ]
            },
            "handler": "/ask",
            "service": "lambda-test",
            "invocations": [1.0],
            "errors": [0.0],
            "latency": ["masked"],
            "cold_starts": [1.0],
        },
        {
            "_aws": {
                "CloudWatchMetrics": [
                    {
                        **definition,
                        "Metrics": [
                            {"Name": name, "Unit": "Milliseconds" if name == "latency" else "Count"}
                            for name in names
                        ],
                    }
                ]
            },
            "handler": "other",
            "service": "lambda-test",
            "invocations": [1.0],
            "errors": [0.0],
            "latency": ["masked"],
        },
    ]


def test_sigterm_runs_shutdown_hooks(tmp_path: Path) -> None:
    """On Lambda, SIGTERM runs the shutdown hooks before the process exits."""
    (tmp_path / "fn.py").write_text(
        textwrap.dedent(
            """
            import os, signal
            from relaykit import App

            app = App("term", settings={"metrics": False})

            @app.on_shutdown
            def bye() -> None:
                print("shutdown hook ran", flush=True)

            @app.task("/ping")
            async def ping() -> str:
                return "pong"

            handler = app.lambda_handler
            handler({"version": "2.0", "rawPath": "/ping", "rawQueryString": "", "headers": {},
                     "requestContext": {"http": {"method": "POST", "path": "/ping",
                     "sourceIp": "1.1.1.1"}}, "body": "", "isBase64Encoded": False}, None)
            print("invoked", flush=True)
            os.kill(os.getpid(), signal.SIGTERM)
            print("not reached", flush=True)
            """
        )
    )
    env = dict(
        os.environ,
        AWS_LAMBDA_FUNCTION_NAME="term",
        PYTHONPATH=str(ROOT / "framework"),
    )
    done = subprocess.run(
        [sys.executable, "fn.py"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert (done.returncode, done.stdout) == (0, "invoked\nshutdown hook ran\n"), done.stderr

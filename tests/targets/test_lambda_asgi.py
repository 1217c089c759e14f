"""``asgi_lambda_handler(api)`` for an ASGI app with no relaykit code: the lean handler answers
every HTTP event shape exactly as ``app.lambda_handler`` does, runs the lifespan once, writes the
metrics line, and hands any other event to a relaykit app built on first use."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from relaykit import App, ConfigError, UnknownEventError, asgi_lambda_handler
from relaykit.invocation import from_lambda
from relaykit.targets.lambda_asgi import AsgiLambdaHandler, log_fields
from relaykit.targets.lambda_handler import LambdaHandler

SHAPES = ["http_api_v2", "function_url", "apigw_rest", "http_api_v1", "alb", "alb_multi_value"]
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01"
Load = Callable[[str], dict[str, Any]]


def build_api(starts: list[str]) -> FastAPI:
    """A FastAPI app with no relaykit code: a lifespan, a route echoing what the request
    carried (setting two cookies), a binary route."""

    @asynccontextmanager
    async def lifespan(api: FastAPI) -> AsyncIterator[dict[str, Any]]:
        starts.append("start")
        yield {"greeting": "hello"}
        starts.append("stop")

    api = FastAPI(lifespan=lifespan)

    @api.post("/inspect")
    async def inspect(request: Request) -> Response:
        response = JSONResponse(
            {
                "method": request.method,
                "path": request.url.path,
                "query": [list(item) for item in request.query_params.multi_items()],
                "custom": request.headers.getlist("x-custom"),
                "cookies": dict(request.cookies),
                "body": (await request.body()).decode(),
                "state": request.state.greeting,
            }
        )
        response.set_cookie("a", "1")
        response.set_cookie("b", "2")
        return response

    @api.get("/binary")
    async def binary() -> Response:
        return Response(PNG, media_type="image/png")

    return api


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    (tmp_path / "relaykit.toml").write_text('api_gateway_base_path = "/prod"\nmetrics = false\n')
    return tmp_path


@pytest.fixture
def pair(config_dir: Path) -> Iterator[tuple[AsgiLambdaHandler, LambdaHandler]]:
    """The lean handler and ``app.lambda_handler``, each over its own copy of the same API."""
    lean = AsgiLambdaHandler(build_api([]), config_dir=config_dir)
    app = App("asgi", config_dir=config_dir)
    app.serve_asgi(build_api([]))
    full = app.lambda_handler
    yield lean, full
    lean.close()
    full.close()


@pytest.mark.parametrize("shape", SHAPES)
def test_each_shape_answers_as_app_lambda_handler_does(
    shape: str,
    pair: tuple[AsgiLambdaHandler, LambdaHandler],
    event: Load,
    lambda_context: Any,
) -> None:
    """The same event gets the same whole response from both handlers (relaykit's translation
    replaces Mangum's on both paths; the lean one just loads less)."""
    lean, full = pair
    out = lean(event(shape), lambda_context())
    assert out == full(event(shape), lambda_context())
    assert out["statusCode"] == 200
    assert json.loads(out["body"])["state"] == "hello"


def test_binary_bad_base64_and_unknown_route(
    pair: tuple[AsgiLambdaHandler, LambdaHandler], event: Load, lambda_context: Any
) -> None:
    """A binary body goes out base64-encoded, a bad base64 body gets the 400, an unknown route
    the app's 404: as through ``app.lambda_handler``."""
    lean, full = pair
    get = event("http_api_v2")
    get.update(rawPath="/binary", body=None, isBase64Encoded=False)
    get["requestContext"]["http"].update(method="GET", path="/binary")
    broken = event("apigw_rest")
    broken.update(body="abc", isBase64Encoded=True)
    missing = event("alb")
    missing["path"] = "/nowhere"
    for sample in (get, broken, missing):
        assert lean(json.loads(json.dumps(sample)), lambda_context()) == full(
            sample, lambda_context()
        )
    assert lean(get, lambda_context())["isBase64Encoded"] is True
    assert lean(broken, lambda_context())["statusCode"] == 400
    assert lean(missing, lambda_context())["statusCode"] == 404


def test_lifespan_runs_once_and_shuts_down_on_close(
    config_dir: Path, event: Load, lambda_context: Any
) -> None:
    """Startup on the first event, never again on warm ones; shutdown when the environment
    closes (SIGTERM or interpreter exit call ``close``)."""
    starts: list[str] = []
    handler = AsgiLambdaHandler(build_api(starts), config_dir=config_dir)
    assert starts == []
    for _ in range(3):
        assert handler(event("http_api_v2"), lambda_context())["statusCode"] == 200
    assert starts == ["start"]
    handler.close()
    assert starts == ["start", "stop"]


def test_metrics_line_follows_each_invocation(
    tmp_path: Path, event: Load, lambda_context: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """With the defaults, one EMF line per invocation on stdout, cold start on the first."""
    handler = AsgiLambdaHandler(build_api([]), name="storyteller", config_dir=tmp_path)
    try:
        handler(event("function_url"), lambda_context())
        handler(event("function_url"), lambda_context())
    finally:
        handler.close()
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["service"] for line in lines] == ["storyteller", "storyteller"]
    assert [line["handler"] for line in lines] == ["other", "other"]
    assert [line.get("cold_starts") for line in lines] == [[1.0], None]
    assert [line["errors"] for line in lines] == [[0.0], [0.0]]


def test_other_events_get_the_app_handlers_errors(
    pair: tuple[AsgiLambdaHandler, LambdaHandler], event: Load, lambda_context: Any
) -> None:
    """An SQS event (no relaykit handler for it) raises the same error as through
    ``app.lambda_handler``; an event of no known kind gets the same error document."""
    lean, full = pair
    with pytest.raises(UnknownEventError) as lean_error:
        lean(event("sqs"), lambda_context())
    with pytest.raises(UnknownEventError) as full_error:
        full(event("sqs"), lambda_context())
    assert str(lean_error.value) == str(full_error.value)
    assert lean({"ping": 1}, lambda_context()) == full({"ping": 1}, lambda_context())
    assert lean.app.name == "asgi"


def test_settings_are_validated_when_the_handler_is_built(tmp_path: Path) -> None:
    """A bad value in relaykit.toml fails at import of the handler module, as App does."""
    (tmp_path / "relaykit.toml").write_text('log_level = "chatty"\n')
    with pytest.raises(ConfigError, match="log_level"):
        AsgiLambdaHandler(FastAPI(), config_dir=tmp_path)
    with pytest.raises(ConfigError, match="log_level"):
        App("asgi", config_dir=tmp_path)


def test_asgi_lambda_handler_picks_the_path(tmp_path: Path) -> None:
    """Without a relaykit app: the lean handler, settings from next to the calling module; with
    one: that app's ``lambda_handler``, serving the given ASGI app."""
    lean = asgi_lambda_handler(FastAPI())
    assert isinstance(lean, AsgiLambdaHandler)
    assert lean.config_dir == Path(__file__).resolve().parent
    app = App("with-app", settings={"metrics": False}, config_dir=tmp_path)
    api = FastAPI()
    full = asgi_lambda_handler(api, app)
    assert full is app.lambda_handler
    assert app.asgi() is api


class TracedContext:
    aws_request_id = "req-9"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:f"
    function_name = "f"
    trace_id = "Root=1-5e1b4151-5ac6c58f5b5daa6532e9ed2f;Parent=53995c3f42cd8ad8;Sampled=1"

    def get_remaining_time_in_millis(self) -> int:
        return 1000


@pytest.mark.parametrize("context", [None, TracedContext(), object()])
@pytest.mark.parametrize("cold", [True, False])
def test_log_fields_are_those_of_an_invocation(context: Any, cold: bool) -> None:
    """The lean path's log fields equal ``Invocation.log_fields()`` for the same context."""
    assert log_fields(context, cold) == from_lambda(context, cold_start=cold).log_fields()


def test_sigterm_runs_the_lifespan_shutdown(tmp_path: Path) -> None:
    """On Lambda, SIGTERM runs the ASGI app's lifespan shutdown before the process exits."""
    (tmp_path / "fn.py").write_text(
        textwrap.dedent(
            """
            import os, signal
            from contextlib import asynccontextmanager
            from fastapi import FastAPI
            from relaykit import asgi_lambda_handler

            @asynccontextmanager
            async def lifespan(api):
                yield
                print("lifespan shutdown ran", flush=True)

            api = FastAPI(lifespan=lifespan)

            @api.get("/ping")
            async def ping() -> str:
                return "pong"

            handler = asgi_lambda_handler(api)
            out = handler({"version": "2.0", "rawPath": "/ping", "rawQueryString": "",
                           "headers": {}, "requestContext": {"http": {"method": "GET",
                           "path": "/ping", "sourceIp": "1.1.1.1"}}, "isBase64Encoded": False},
                          None)
            print("invoked", out["body"], flush=True)
            os.kill(os.getpid(), signal.SIGTERM)
            print("not reached", flush=True)
            """
        )
    )
    env = dict(os.environ, AWS_LAMBDA_FUNCTION_NAME="term", RELAYKIT_METRICS="false")
    done = subprocess.run(
        [sys.executable, "fn.py"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert (done.returncode, done.stdout) == (0, 'invoked "pong"\nlifespan shutdown ran\n'), (
        done.stderr
    )


LEAN_MODULES = {
    "relaykit",
    "relaykit.lambda_event",
    "relaykit.logs",
    "relaykit.settings",
    "relaykit.targets",
    "relaykit.targets.lambda_asgi",
    "relaykit.targets.lambda_environment",
    "relaykit.targets.lambda_http",
    "relaykit.targets.lambda_http_shapes",
    "relaykit.targets.lambda_observe",
}


def test_the_lean_path_stays_within_its_module_budget(event: Load) -> None:
    """Cold start budget: importing a module costs about 0.1 ms on top of its code, so building
    the handler and answering an HTTP event loads these relaykit modules and no other (with no
    setting set: the declared settings, ``relaykit.settings_fields``, load when a source sets a
    key)."""
    code = f"""
import contextlib, io, json, sys
from fastapi import FastAPI
from relaykit import asgi_lambda_handler
handler = asgi_lambda_handler(FastAPI())
with contextlib.redirect_stdout(io.StringIO()):
    out = handler({event("http_api_v2")!r}, None)
assert out["statusCode"] == 404, out
print(json.dumps(sorted(name for name in sys.modules if name.startswith("relaykit"))))
"""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    loaded = set(json.loads(done.stdout.splitlines()[-1]))
    assert sorted(loaded - LEAN_MODULES) == []

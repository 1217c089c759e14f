"""Fitting into an existing FastAPI service: relaykit mounted with `app.router()`, served by
uvicorn, by relaykit's Lambda runtime (BUFFERED and RESPONSE_STREAM Function URLs), and
compared with plain Mangum."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from relaykit.local.emulator import Emulator, FunctionConfig
from support import ROOT, free_port, wait_for_text

APPS = ROOT / "tests" / "apps"
KEY = {"x-api-key": "let-me-in"}


def read_gated(url: str, folder: Path, **kwargs: Any) -> list[str]:
    """Read a gated download: after each chunk, open the gate for the next one."""
    seen: list[str] = []
    with httpx.stream(
        "GET", url, params={"folder": str(folder), "count": 3}, timeout=30, **kwargs
    ) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if line:
                seen.append(line)
                (folder / f"gate-{len(seen)}").write_text("open")
    return seen


@pytest.fixture(scope="module")
def uvicorn_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("host")
    port = free_port()
    log = tmp / "uvicorn.log"
    env = {**os.environ, "PYTHONPATH": str(APPS), "RELAYKIT_STORE": f"sqlite:///{tmp}/runs.db"}
    with log.open("w") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "existing_api:api",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=tmp,
        )
    try:
        assert wait_for_text(log.read_text, "Application startup complete", 30), log.read_text()
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_container_host_dependency_middleware_and_lifespan_apply(uvicorn_server: str) -> None:
    """Mounted relaykit routes obey the host's auth dependency and middleware, and relaykit's
    startup hook ran with the host's lifespan."""
    refused = httpx.post(f"{uvicorn_server}/ai/ask", json={"question": "hi"})
    assert refused.status_code == 401
    answer = httpx.post(f"{uvicorn_server}/ai/ask", json={"question": "hi"}, headers=KEY)
    assert answer.status_code == 200
    assert answer.headers["x-served-by"] == "existing-service"
    assert answer.json()["starts"] == ["host", "relaykit"]
    document = httpx.get(f"{uvicorn_server}/openapi.json").json()
    assert "/ai/ask" in document["paths"] and "/items/{item_id}" in document["paths"]
    assert "Ask" in document["components"]["schemas"]


def test_container_streams_and_workflows_work_together(uvicorn_server: str, tmp_path: Path) -> None:
    """The host's StreamingResponse streams chunk by chunk; relaykit's stream and workflow
    routes work under the prefix, with run URLs under it too."""
    assert read_gated(f"{uvicorn_server}/download", tmp_path) == ["chunk-0", "chunk-1", "chunk-2"]
    chat = httpx.post(f"{uvicorn_server}/ai/chat", json={"question": "yo"}, headers=KEY)
    assert "data: Local" in chat.text and "event: end" in chat.text
    started = httpx.post(f"{uvicorn_server}/ai/brief", json={"question": "yo"}, headers=KEY)
    assert started.status_code == 202
    assert started.json()["status_url"].startswith("/ai/runs/")


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    tmp = tmp_path_factory.mktemp("lambda-host")

    def config(name: str, mode: str, response_mode: str) -> FunctionConfig:
        return FunctionConfig(
            name=name,
            command=[sys.executable, "-m", "relaykit.lambda_runtime", "existing_api:api"],
            env={
                "PYTHONPATH": str(APPS),
                "RELAYKIT_STORE": f"sqlite:///{tmp}/runs.db",
                "RELAYKIT_LAMBDA_RESPONSE_MODE": response_mode,
            },
            handler="existing_api:api",
            task_root=str(APPS),
            invoke_mode=mode,  # type: ignore[arg-type]
            timeout=20,
        )

    functions = [
        config("streamed", "RESPONSE_STREAM", "auto"),
        config("buffered", "BUFFERED", "buffered"),
    ]
    with Emulator(functions).running() as running:
        yield running


def test_lambda_response_stream_streams_the_hosts_streaming_response(
    emu: Emulator, tmp_path: Path
) -> None:
    """Through a RESPONSE_STREAM Function URL the host's StreamingResponse arrives chunk by
    chunk (each chunk before the next is produced); middleware and auth still apply."""
    url = emu.function_url("streamed")
    assert read_gated(f"{url}/download", tmp_path) == ["chunk-0", "chunk-1", "chunk-2"]
    assert httpx.post(f"{url}/ai/ask", json={"question": "q"}).status_code == 401
    answer = httpx.post(f"{url}/ai/ask", json={"question": "q"}, headers=KEY, timeout=30)
    assert answer.headers["x-served-by"] == "existing-service"
    assert sorted(answer.json()["starts"]) == ["host", "relaykit"]


def test_lambda_buffered_mode_and_lifespan_once(emu: Emulator) -> None:
    """In BUFFERED mode the same app answers whole responses; lifespan ran once across warm
    invocations (one 'host' and one 'relaykit' start in the same process)."""
    url = emu.function_url("buffered")
    first = httpx.post(f"{url}/ai/ask", json={"question": "a"}, headers=KEY, timeout=30).json()
    second = httpx.post(f"{url}/ai/ask", json={"question": "b"}, headers=KEY, timeout=30).json()
    assert first["pid"] == second["pid"]
    assert sorted(second["starts"]) == ["host", "relaykit"]
    events = httpx.get(f"{url}/events", timeout=30)
    assert events.text == "data: tick 0\n\ndata: tick 1\n\ndata: tick 2\n\n"


def function_url_event(path: str, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {
            "content-type": "application/json",
            "x-api-key": "let-me-in",
            "host": "abc.lambda-url.us-east-1.on.aws",
        },
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "abc",
            "domainName": "abc.lambda-url.us-east-1.on.aws",
            "domainPrefix": "abc",
            "http": {
                "method": "POST",
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "test",
            },
            "requestId": "r1",
            "routeKey": "$default",
            "stage": "$default",
            "time": "28/Nov/2026:07:00:00 +0000",
            "timeEpoch": 1795849200000,
        },
        "body": json.dumps(body),
        "isBase64Encoded": False,
    }


class FakeLambdaContext:
    aws_request_id = "req-1"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:host"
    function_name = "host"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def test_plain_mangum_runs_lifespan_per_invocation_where_relaykit_runs_it_once() -> None:
    """The difference users hit (Kludex/mangum#342): Mangum's default lifespan starts the host
    app on every invocation; relaykit's handler starts it once per execution environment."""
    code = f"""
import json, sys
sys.path.insert(0, {str(APPS)!r})
sys.path.insert(0, {str(ROOT / "tests" / "targets")!r})
sys.path.insert(0, {str(ROOT / "tests")!r})
from test_existing_fastapi_app import function_url_event, FakeLambdaContext
import existing_api
from mangum import Mangum
from relaykit import asgi_lambda_handler
event = function_url_event("/ai/ask", {{"question": "hi"}})
mangum = Mangum(existing_api.api)
for _ in range(3):
    mangum(event, FakeLambdaContext())
mangum_starts = existing_api.STARTS.count("host")
existing_api.STARTS.clear()
handler = asgi_lambda_handler(existing_api.api, existing_api.ai)
for _ in range(3):
    out = handler(event, FakeLambdaContext())
print(json.dumps({{"mangum": mangum_starts, "relaykit": existing_api.STARTS.count("host"),
                  "status": out["statusCode"]}}))
handler.close()
"""
    env = {**os.environ, "RELAYKIT_STORE": "memory://"}
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"mangum": 3, "relaykit": 1, "status": 200}

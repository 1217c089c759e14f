"""relaykit's Lambda runtime against a tiny scripted Runtime API: the paths the emulator, being
correct, never takes (a 500 from the API, a 413 on a response), and init failures seen on the wire.

``ScriptedRuntimeAPI`` is a real HTTP/1.1 server on loopback (the standard library's, enough for
the runtime's Content-Length requests). Each ``GET /next`` takes the next scripted invocation
(or answers 500 when the script is exhausted, which makes the runtime exit); every request is
recorded with its headers and body. The runtime is a real ``python -m relaykit.lambda_runtime``
subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

APPS = Path(__file__).resolve().parent.parent / "apps"
BASE = "/2018-06-01/runtime"
ERROR_TYPE = "lambda-runtime-function-error-type"


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict[str, object]:
        return dict(json.loads(self.body))


@dataclass
class ScriptedRuntimeAPI:
    """The invocations to hand out, the status to answer per path, and what the runtime sent."""

    invocations: list[bytes] = field(default_factory=list)
    status: dict[str, int] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    address: str = ""

    def posted(self, suffix: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == "POST" and r.path.endswith(suffix)]


def _handler(api: ScriptedRuntimeAPI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            return None

        def _record(self) -> None:
            size = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(size) if size else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            api.requests.append(Recorded(self.command, self.path, headers, body))

        def _answer(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            self._record()
            number = sum(1 for r in api.requests if r.method == "GET")
            if self.path != f"{BASE}/invocation/next" or not api.invocations:
                self._answer(500, b'{"errorType":"ServiceException"}')
                return
            headers = {
                "lambda-runtime-aws-request-id": f"req-{number}",
                "lambda-runtime-deadline-ms": "9999999999999",
                "lambda-runtime-invoked-function-arn": "arn:aws:lambda:us-east-1:1:function:f",
                "lambda-runtime-trace-id": "Root=1-00000000-000000000000000000000000",
            }
            self._answer(200, api.invocations.pop(0), headers)

        def do_POST(self) -> None:
            self._record()
            suffix = self.path.rsplit("/", 1)[-1]
            self._answer(api.status.get(suffix, 202), b'{"status":"OK"}')

    return Handler


@pytest.fixture
def api() -> Iterator[ScriptedRuntimeAPI]:
    scripted = ScriptedRuntimeAPI()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(scripted))
    scripted.address = f"127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield scripted
    server.shutdown()
    server.server_close()


def run_runtime(api: ScriptedRuntimeAPI, ref: str, folder: Path = APPS) -> int:
    """Run the runtime on ``ref`` against ``api`` until it exits; its exit status."""
    env = {
        **os.environ,
        "AWS_LAMBDA_RUNTIME_API": api.address,
        "PYTHONPATH": str(folder),
        "RELAYKIT_LAMBDA_RESPONSE_MODE": "buffered",
    }
    result = subprocess.run(
        [sys.executable, "-m", "relaykit.lambda_runtime", ref],
        cwd=folder,
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    return result.returncode


def url_event(path: str) -> bytes:
    return json.dumps(
        {
            "version": "2.0",
            "rawPath": path,
            "rawQueryString": "",
            "headers": {"content-type": "application/json"},
            "requestContext": {
                "domainName": "abc.lambda-url.us-east-1.on.aws",
                "http": {"method": "POST", "path": path, "sourceIp": "127.0.0.1"},
            },
            "body": "{}",
            "isBase64Encoded": False,
        }
    ).encode()


def test_a_500_on_next_makes_the_runtime_exit(api: ScriptedRuntimeAPI) -> None:
    """The first /next answers 500: the runtime exits non-zero at once, posting nothing."""
    assert run_runtime(api, "runtime_app:app") == 2
    assert [r.method for r in api.requests] == ["GET"]


def test_a_500_on_a_response_post_makes_the_runtime_exit(api: ScriptedRuntimeAPI) -> None:
    """A 500 answering /response ends the process; no /error follows and no further /next."""
    api.invocations = [url_event("/whoami"), url_event("/whoami")]
    api.status["response"] = 500
    assert run_runtime(api, "runtime_app:app") == 2
    assert [(r.method, r.path.rsplit("/", 1)[-1]) for r in api.requests] == [
        ("GET", "next"),
        ("POST", "response"),
    ]
    assert len(api.invocations) == 1, "the second invocation was never taken"


def test_a_413_on_a_response_is_not_followed_by_an_error_post(api: ScriptedRuntimeAPI) -> None:
    """Lambda records an oversized response itself (and would refuse an /error post): the
    runtime sends none and takes the next invocation."""
    api.invocations = [url_event("/whoami")]
    api.status["response"] = 413
    assert run_runtime(api, "runtime_app:app") == 2  # the exhausted script's 500 ends it
    assert [(r.method, r.path.rsplit("/", 1)[-1]) for r in api.requests] == [
        ("GET", "next"),
        ("POST", "response"),
        ("GET", "next"),
    ]
    assert api.posted("/error") == []


def test_an_app_that_does_not_import_reports_init_error_and_exits(
    api: ScriptedRuntimeAPI, tmp_path: Path
) -> None:
    """Import failure: POST /runtime/init/error with the standard JSON and an error type header,
    then exit 1 without ever asking for an invocation."""
    (tmp_path / "broken_app.py").write_text("raise ValueError('the app is broken')\n")
    assert run_runtime(api, "broken_app:app", tmp_path) == 1
    assert [r.path for r in api.requests] == [f"{BASE}/init/error"]
    (posted,) = api.requests
    assert posted.headers[ERROR_TYPE] == "Runtime.ImportModuleError"
    assert posted.headers["content-type"] == "application/json"
    error = posted.json()
    assert set(error) == {"errorMessage", "errorType", "stackTrace"}
    assert error["errorType"] == "AppLoadError" and error["stackTrace"] == []
    assert "broken_app" in str(error["errorMessage"])


def test_a_failing_startup_hook_reports_init_error_without_its_message(
    api: ScriptedRuntimeAPI, tmp_path: Path
) -> None:
    """A startup hook that raises: /init/error names the exception type and an error id (the
    message stays in the log), then exit 1."""
    (tmp_path / "hook_app.py").write_text(
        "from relaykit import App\n"
        "app = App('hook', settings={'metrics': False})\n"
        "@app.on_startup\n"
        "def boom() -> None:\n"
        "    raise KeyError('secret-hook-detail')\n"
    )
    api.invocations = [url_event("/whoami")]
    assert run_runtime(api, "hook_app:app", tmp_path) == 1
    assert [r.path for r in api.requests] == [f"{BASE}/init/error"]
    (posted,) = api.requests
    assert posted.headers[ERROR_TYPE] == "Runtime.InitKeyError"
    error = posted.json()
    assert error["errorType"] == "KeyError" and error["stackTrace"] == []
    assert "error id err_" in str(error["errorMessage"])
    assert b"secret-hook-detail" not in posted.body

"""relaykit's Lambda runtime writes an invocation's metrics line after posting its response.

A real ``python -m relaykit.lambda_runtime`` subprocess serves ``examples/from_lwa/main.py:api``
(an ASGI app, metrics on) against a scripted Runtime API on loopback. The API reads the runtime's
stdout at the moment each request arrives: when the response is posted the invocation's EMF line
must not be written yet (it would have delayed the caller), and by the next ``GET /next`` it must
be there, once. Then the API answers 500, which makes the runtime exit.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from support import ROOT

APP = ROOT / "examples" / "from_lwa"
NEXT = "/2018-06-01/runtime/invocation/next"
BODY = json.dumps({"topic": "otter"})
EVENT = {
    "version": "2.0",
    "routeKey": "POST /title",
    "rawPath": "/title",
    "rawQueryString": "",
    "headers": {"content-type": "application/json", "host": "api.example.com"},
    "requestContext": {
        "accountId": "123456789012",
        "apiId": "api",
        "domainName": "api.example.com",
        "http": {
            "method": "POST",
            "path": "/title",
            "protocol": "HTTP/1.1",
            "sourceIp": "198.51.100.7",
            "userAgent": "test",
        },
        "requestId": "r-1",
        "routeKey": "POST /title",
        "stage": "$default",
        "time": "28/Nov/2026:06:33:00 +0000",
        "timeEpoch": 1795847580000,
    },
    "body": BODY,
    "isBase64Encoded": False,
}


class Script:
    """One invocation to hand out; what stdout held when each request arrived."""

    def __init__(self, stdout: Path) -> None:
        self.stdout = stdout
        self.pending = [json.dumps(EVENT).encode()]
        self.seen: list[tuple[str, str, bytes, str]] = []  # method, path, body, stdout then

    def handler(self) -> type[BaseHTTPRequestHandler]:
        script = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                return None

            def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _record(self) -> None:
                size = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(size) if size else b""
                printed = script.stdout.read_text(errors="replace")
                script.seen.append((self.command, self.path, body, printed))

            def do_GET(self) -> None:
                self._record()
                if self.path != NEXT or not script.pending:
                    self._answer(500, b'{"errorType":"ServiceException"}', {})
                    return
                headers = {
                    "lambda-runtime-aws-request-id": "req-1",
                    "lambda-runtime-deadline-ms": "9999999999999",
                    "lambda-runtime-invoked-function-arn": "arn:aws:lambda:us-east-1:1:function:f",
                }
                self._answer(200, script.pending.pop(0), headers)

            def do_POST(self) -> None:
                self._record()
                self._answer(202, b'{"status":"OK"}', {})

        return Handler


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Script, subprocess.CompletedProcess[bytes]]]:
    stdout = tmp_path / "stdout.log"
    stdout.touch()
    script = Script(stdout)
    server = ThreadingHTTPServer(("127.0.0.1", 0), script.handler())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    env = {
        **os.environ,
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{server.server_address[1]}",
        "PYTHONUNBUFFERED": "1",
        "RELAYKIT_METRICS": "true",
    }
    try:
        with stdout.open("wb") as out:
            done = subprocess.run(
                [sys.executable, "-m", "relaykit.lambda_runtime", "main:api"],
                cwd=APP,
                env=env,
                stdout=out,
                stderr=subprocess.PIPE,
                timeout=60,
                check=False,
            )
        yield script, done
    finally:
        server.shutdown()
        server.server_close()


def emf_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith('{"_aws"')]


def test_metrics_line_follows_the_posted_response(
    served: tuple[Script, subprocess.CompletedProcess[bytes]],
) -> None:
    """At the POST of the response no EMF line is written; by the next /next there is one,
    for this cold invocation, and the runtime then exits on the API's 500 (status 2)."""
    script, done = served
    assert done.returncode == 2, done.stderr.decode()[-2000:]
    methods = [(method, path.rsplit("/", 1)[-1]) for method, path, _, _ in script.seen]
    assert methods == [("GET", "next"), ("POST", "response"), ("GET", "next")]
    _, _, response, at_response = script.seen[1]
    answer = json.loads(response)
    assert answer["statusCode"] == 200
    assert json.loads(answer["body"]) == {"topic": "otter", "title": "The Otter Who Streamed"}
    assert emf_lines(at_response) == []
    (metrics,) = emf_lines(script.seen[2][3])
    assert metrics["invocations"] == [1.0] and metrics["cold_starts"] == [1.0]
    assert metrics["errors"] == [0.0]

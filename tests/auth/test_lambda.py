"""The Lambda HTTP paths enforce the same authentication: `app.lambda_handler` with Function URL
and HTTP API events (AuthType NONE with API keys; AWS_IAM and JWT-authorizer identities read
from the event), and streaming through relaykit's runtime under the emulator."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from auth.apps import build
from auth.kit import ALICE_KEY, KEYS, LambdaContext
from relaykit import App, Context
from relaykit.auth import ApiKeyAuth, principal_of
from relaykit.local.emulator import Emulator, FunctionConfig

EVENTS = Path(__file__).resolve().parent.parent / "events"
HERE = Path(__file__).resolve().parent
ROLE = "arn:aws:sts::210987654321:assumed-role/ops"


def http_event(shape: str, path: str, body: Any, **headers: str) -> dict[str, Any]:
    """tests/events/SHAPE.json aimed at ``path`` with a JSON body and extra headers."""
    event: dict[str, Any] = json.loads((EVENTS / f"{shape}.json").read_text())
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["requestContext"]["http"]["method"] = "POST" if body is not None else "GET"
    event["rawQueryString"] = ""
    event.pop("queryStringParameters", None)
    event["body"] = json.dumps(body) if body is not None else ""
    event["isBase64Encoded"] = False
    event["headers"].pop("content-length", None)
    event["headers"].update(headers)
    return event


def invoke(app: App, event: dict[str, Any]) -> dict[str, Any]:
    handler = app.lambda_handler
    try:
        out: dict[str, Any] = handler(event, LambdaContext())
    finally:
        handler.close()
    return out


def test_function_url_with_authtype_none_needs_a_key(tmp_path: Path) -> None:
    """A Function URL event without a key gets 401 and the ApiKey challenge; with alice's key
    the task answers as alice; the public handler answers anyone."""
    app = build(tmp_path, auth=ApiKeyAuth(KEYS))
    handler = app.lambda_handler
    try:
        refused = handler(http_event("function_url", "/ask", {"q": 1}), LambdaContext())
        assert refused["statusCode"] == 401
        assert refused["headers"]["www-authenticate"].startswith("ApiKey")
        assert json.loads(refused["body"])["error"]["type"] == "unauthenticated"
        event = http_event("function_url", "/ask", {"q": 1}, **{"x-api-key": ALICE_KEY})
        answer = handler(event, LambdaContext())
        assert answer["statusCode"] == 200
        assert json.loads(answer["body"]) == {"echo": {"q": 1}, "subject": "alice"}
        public = handler(http_event("function_url", "/ping", {}), LambdaContext())
        assert public["statusCode"] == 200
        runs = handler(http_event("function_url", "/runs", None), LambdaContext())
        assert runs["statusCode"] == 401
    finally:
        handler.close()


def test_aws_iam_callers_own_their_runs(tmp_path: Path) -> None:
    """`auth = aws` on an AWS_IAM Function URL: the caller is the signed request's role (the
    session name dropped), its workflow run records that owner, and an event without a
    verified identity (AuthType NONE) is refused."""
    app = App(
        "iam",
        settings={"store": "memory://", "metrics": False, "auth": "aws"},
        config_dir=tmp_path,
    )

    @app.workflow("/job")
    async def job(body: dict[str, str]) -> str:
        return "done"

    event = http_event("function_url", "/job", {})
    assert invoke(app, event)["statusCode"] == 401
    signed = http_event("function_url", "/job", {})
    signed["requestContext"]["authorizer"] = {
        "iam": {
            "accessKey": "ASIAEXAMPLE",
            "accountId": "210987654321",
            "callerId": "AROAEXAMPLE:session-7",
            "userArn": f"{ROLE}/session-7",
            "userId": "AROAEXAMPLE:session-7",
        }
    }
    started = invoke(app, signed)
    assert started["statusCode"] == 202, started
    run_id = json.loads(started["body"])["run_id"]
    loaded = app.engine.store.load(run_id)
    assert loaded is not None and loaded[0].owner == f"aws:{ROLE}"


def test_http_api_jwt_authorizer_claims_are_the_caller(tmp_path: Path) -> None:
    """`auth = aws` behind an HTTP API JWT authorizer: the verified claims' `sub` is the caller
    (method `jwt`) and the authorizer's scopes are its scopes."""
    app = App("gw", settings={"metrics": False, "auth": "aws"}, config_dir=tmp_path)

    @app.task("/who", scopes=["read"])
    async def who(body: dict[str, str], ctx: Context) -> str:
        principal = principal_of(ctx)
        return principal.owner if principal else "nobody"

    event = http_event("http_api_v2", "/who", {})
    event["requestContext"]["authorizer"] = {
        "jwt": {"claims": {"sub": "user-9", "iss": "https://id.example"}, "scopes": ["read"]}
    }
    answer = invoke(app, event)
    assert answer["statusCode"] == 200 and json.loads(answer["body"]) == "jwt:user-9"
    event["requestContext"]["authorizer"]["jwt"]["scopes"] = ["write"]
    assert invoke(app, event)["statusCode"] == 403


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    env = {
        "PYTHONPATH": str(HERE),
        "PYTHONUNBUFFERED": "1",
        "RELAYKIT_AUTH": "api-key",
        "RELAYKIT_AUTH_API_KEYS": f"alice:{ALICE_KEY}",
    }
    ref = "secured_runtime_app:app"
    config = FunctionConfig(
        name="secured",
        command=[sys.executable, "-m", "relaykit.lambda_runtime", ref],
        env=env,
        handler=ref,
        task_root=str(HERE),
        invoke_mode="RESPONSE_STREAM",
        timeout=20,
    )
    with Emulator([config]).running() as running:
        yield running


def test_streaming_function_url_through_the_runtime(emu: Emulator) -> None:
    """relaykit's runtime behind a RESPONSE_STREAM Function URL: no key is 401 with the
    challenge (streamed as the prelude's status); with a key the chunks stream as SSE."""
    url = emu.function_url("secured")
    refused = httpx.post(f"{url}/chat", json={"text": "a b"}, timeout=30)
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"].startswith("ApiKey")
    with httpx.stream(
        "POST",
        f"{url}/chat",
        json={"text": "one two three"},
        headers={"x-api-key": ALICE_KEY},
        timeout=30,
    ) as response:
        assert response.status_code == 200
        words = [line[6:] for line in response.iter_lines() if line.startswith("data: ")]
    assert words[:3] == ["one", "two", "three"]
    assert httpx.post(f"{url}/ping", timeout=30).json() == "pong"

"""API keys from every source: given, an environment variable, Secrets Manager and SSM Parameter
Store (moto's server on loopback, real boto3, Powertools parameters); rotation; errors that name
the problem and never the key."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from auth.apps import build
from auth.kit import ALICE_KEY, KEYS, aws_client, moto, serve
from relaykit import App, ConfigError
from relaykit.auth import ApiKeyAuth, AuthRequest, AuthUnavailable, Unauthenticated

NEW_KEY = "rotated-key-0123456789abcdef"


@pytest.fixture(scope="module")
def aws() -> Iterator[str]:
    with moto() as endpoint:
        yield endpoint


def keyed(key: str) -> AuthRequest:
    return AuthRequest({"x-api-key": key})


async def test_keys_from_a_secret_and_a_rotation(aws: str) -> None:
    """Keys in a Secrets Manager secret (JSON with scopes) authenticate; a key added to the
    secret later works once the unknown key triggers a re-read; a removed key stops working
    after the next read."""
    secrets = aws_client("secretsmanager", aws)
    secrets.create_secret(Name="app/keys", SecretString=json.dumps(KEYS))
    auth = ApiKeyAuth(secret="app/keys", client=secrets, min_refresh_seconds=0)
    ops = await auth.authenticate(keyed(KEYS["ops"]["key"]))  # type: ignore[index]
    assert ops is not None and ops.subject == "ops" and "reports" in ops.scopes
    secrets.put_secret_value(SecretId="app/keys", SecretString=f"carol:{NEW_KEY}")
    carol = await auth.authenticate(keyed(NEW_KEY))
    assert carol is not None and carol.owner == "api-key:carol"
    with pytest.raises(Unauthenticated, match="not valid"):
        await auth.authenticate(keyed(ALICE_KEY))


async def test_keys_from_an_ssm_secure_string(aws: str) -> None:
    """A SecureString parameter holding `name:key` text is decrypted and used."""
    ssm = aws_client("ssm", aws)
    ssm.put_parameter(Name="/app/keys", Value=f"alice:{ALICE_KEY}", Type="SecureString")
    auth = ApiKeyAuth(parameter="/app/keys", client=ssm)
    found = await auth.authenticate(keyed(ALICE_KEY))
    assert found is not None and found.subject == "alice" and not found.scopes
    assert await auth.authenticate(AuthRequest({})) is None


async def test_an_unreadable_secret_is_unavailable_not_unauthenticated(aws: str) -> None:
    """A secret that does not exist: AuthUnavailable naming the secret and the permission to
    check (the caller is not told its key is wrong)."""
    auth = ApiKeyAuth(secret="app/missing", client=aws_client("secretsmanager", aws))
    with pytest.raises(AuthUnavailable) as caught:
        await auth.authenticate(keyed(ALICE_KEY))
    assert "app/missing" in str(caught.value)
    assert "secretsmanager:GetSecretValue" in str(caught.value)


async def test_a_secret_with_unusable_keys_names_the_entry_not_the_key(aws: str) -> None:
    """A secret whose value holds a too-short key is refused naming the key's owner; the key
    itself is in no message."""
    secrets = aws_client("secretsmanager", aws)
    secrets.create_secret(Name="app/short", SecretString='{"dave": "tiny-key"}')
    auth = ApiKeyAuth(secret="app/short", client=secrets)
    with pytest.raises(AuthUnavailable) as caught:
        await auth.authenticate(keyed("tiny-key"))
    assert "'dave'" in str(caught.value) and "tiny-key" not in str(caught.value)


async def test_keys_from_an_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """env= reads the variable at each request (so a new value is used at once); an unset
    variable is AuthUnavailable naming it."""
    auth = ApiKeyAuth(env="MY_APP_KEYS")
    with pytest.raises(AuthUnavailable, match="MY_APP_KEYS"):
        await auth.authenticate(keyed(ALICE_KEY))
    monkeypatch.setenv("MY_APP_KEYS", f"alice:{ALICE_KEY}")
    found = await auth.authenticate(keyed(ALICE_KEY))
    assert found is not None and found.subject == "alice"


@pytest.mark.parametrize(
    ("keys", "reason"),
    [
        ({"alice": "short"}, "shorter than 16"),
        ({"alice": ALICE_KEY, "bob": ALICE_KEY}, "same key"),
        ("alice=" + ALICE_KEY, "no ':'"),
        ({"alice": {"key": ALICE_KEY, "scopes": "x", "role": "y"}}, "unknown fields"),
        ("{not json", "not valid JSON"),
        ({}, "no keys"),
    ],
)
def test_bad_keys_are_config_errors_that_never_quote_a_key(keys: object, reason: str) -> None:
    """Each malformed key table is a ConfigError on auth_api_keys with the reason; the key
    values appear nowhere in it."""
    with pytest.raises(ConfigError) as caught:
        ApiKeyAuth(keys)  # type: ignore[arg-type]
    message = str(caught.value)
    assert caught.value.key == "auth_api_keys" and reason in message
    assert ALICE_KEY not in message and "short'" not in message


def test_one_source_of_keys(tmp_path: Path) -> None:
    """ApiKeyAuth needs exactly one source; settings with keys but no `auth = api-key` are an
    error (a configuration that looks protected must be)."""
    with pytest.raises(ConfigError, match="exactly one source"):
        ApiKeyAuth(KEYS, env="X")
    with pytest.raises(ConfigError, match="does not include 'api-key'"):
        App("t", settings={"auth_api_keys": f"alice:{ALICE_KEY}"}, config_dir=tmp_path)
    with pytest.raises(ConfigError, match="auth_api_keys"):
        App("t", settings={"auth": "api-key"}, config_dir=tmp_path)


def test_settings_from_the_environment_protect_a_served_app(
    aws: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """RELAYKIT_AUTH=api-key with RELAYKIT_AUTH_API_KEYS_SECRET (boto3 pointed at moto through
    AWS_ENDPOINT_URL): the served app refuses no key and a wrong key, accepts the secret's
    key, and neither key reaches the server's output."""
    secrets = aws_client("secretsmanager", aws)
    secrets.create_secret(Name="served/keys", SecretString=json.dumps({"alice": ALICE_KEY}))
    for name, value in {
        "AWS_ENDPOINT_URL": aws,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "RELAYKIT_AUTH": "api-key",
        "RELAYKIT_AUTH_API_KEYS_SECRET": "served/keys",
    }.items():
        monkeypatch.setenv(name, value)
    app = build(tmp_path, log_format="text")
    wrong = "wrong-key-0123456789abcdef"
    with serve(app.asgi()) as url:
        assert httpx.post(f"{url}/ask", json={}).status_code == 401
        assert httpx.post(f"{url}/ask", json={}, headers={"x-api-key": wrong}).status_code == 401
        ok = httpx.post(f"{url}/ask", json={}, headers={"x-api-key": ALICE_KEY})
        assert ok.status_code == 200 and ok.json()["subject"] == "alice"
    output = capfd.readouterr()
    assert "401" in output.err  # the refusals were logged...
    assert ALICE_KEY not in output.out + output.err  # ...without the keys
    assert wrong not in output.out + output.err


def test_unavailable_keys_answer_503_without_details(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """Keys that cannot be read: the caller gets 503 with an error id and no secret name; the
    log has the reason under that id."""
    app = build(tmp_path, auth=ApiKeyAuth(env="RELAYKIT_TEST_UNSET_KEYS"), log_format="text")
    with serve(app.asgi()) as url:
        response = httpx.post(f"{url}/ask", json={}, headers={"x-api-key": ALICE_KEY})
    assert response.status_code == 503 and response.headers["retry-after"] == "5"
    error = response.json()["error"]
    assert error["type"] == "auth_unavailable"
    assert "RELAYKIT_TEST_UNSET_KEYS" not in error["message"]
    logged = capfd.readouterr().err
    assert error["error_id"] in logged and "RELAYKIT_TEST_UNSET_KEYS" in logged

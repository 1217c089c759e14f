"""The Anthropic API key read from Secrets Manager or SSM (moto server, real boto3, Powertools)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from relaykit.llm.anthropic import AnthropicModel
from relaykit.llm.retry import ProviderError
from relaykit.settings import load_settings
from stubs.anthropic_api import AnthropicStub
from support import free_port

SECRET_KEY = "sk-ant-from-secrets-manager-0001"
PARAM_KEY = "sk-ant-from-parameter-store-0002"


@pytest.fixture(scope="module")
def aws() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def client(service: str, url: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


async def test_key_from_a_json_secret(aws: str, anthropic_api: AnthropicStub) -> None:
    """A secret holding {"ANTHROPIC_API_KEY": ...} is the key the SDK sends."""
    secrets = client("secretsmanager", aws)
    secrets.create_secret(
        Name="app/anthropic", SecretString=f'{{"ANTHROPIC_API_KEY": "{SECRET_KEY}"}}'
    )
    s = load_settings(
        app_name="k", overrides={"anthropic_api_key_secret": "app/anthropic"}, environ={}
    )
    llm = AnthropicModel(
        "claude-haiku-4-5", settings=s, base_url=anthropic_api.url, secrets_client=secrets
    )
    await llm.complete([{"role": "user", "content": "hi"}])
    await llm.complete([{"role": "user", "content": "again"}])
    assert [r.headers["authorization"] for r in anthropic_api.requests] == [
        f"Bearer {SECRET_KEY}"
    ] * 2


async def test_key_from_an_ssm_secure_string(aws: str, anthropic_api: AnthropicStub) -> None:
    """A SecureString parameter is decrypted and used as the key."""
    ssm = client("ssm", aws)
    ssm.put_parameter(Name="/app/anthropic", Value=PARAM_KEY, Type="SecureString")
    s = load_settings(
        app_name="k", overrides={"anthropic_api_key_parameter": "/app/anthropic"}, environ={}
    )
    llm = AnthropicModel("claude-haiku-4-5", settings=s, base_url=anthropic_api.url, ssm_client=ssm)
    await llm.complete([{"role": "user", "content": "hi"}])
    assert anthropic_api.requests[0].headers["authorization"] == f"Bearer {PARAM_KEY}"


async def test_a_missing_secret_is_a_terminal_error_naming_it(aws: str) -> None:
    """An unknown secret name fails without a request, naming the secret and the permission."""
    s = load_settings(
        app_name="k", overrides={"anthropic_api_key_secret": "app/missing"}, environ={}
    )
    llm = AnthropicModel(
        "claude-haiku-4-5",
        settings=s,
        base_url="http://127.0.0.1:9",
        secrets_client=client("secretsmanager", aws),
    )
    with pytest.raises(
        ProviderError, match=r"'app/missing'.*secretsmanager:GetSecretValue"
    ) as caught:
        await llm.complete([{"role": "user", "content": "hi"}])
    assert caught.value.kind == "auth" and not caught.value.retryable

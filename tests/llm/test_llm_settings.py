"""The model settings: parsed, defaulted, and refused with the accepted form."""

from __future__ import annotations

import pytest

from relaykit import App, ConfigError
from relaykit.llm.anthropic import AnthropicModel
from relaykit.settings import default_model, load_settings


def settings(**values: object):  # type: ignore[no-untyped-def]
    return load_settings(app_name="s", overrides=values, environ={})


def test_defaults() -> None:
    """Retries 2, 120 s per attempt, 4096 max tokens; no secret, parameter, region or prices."""
    s = settings()
    assert (s.model_max_retries, s.model_timeout, s.model_max_tokens) == (2, 120.0, 4096)
    assert s.anthropic_api_key_secret is None and s.bedrock_region is None
    assert s.price_table is None


def test_environment_values_are_parsed() -> None:
    """Strings from RELAYKIT_* become numbers; names and regions are kept."""
    s = load_settings(
        app_name="s",
        environ={
            "RELAYKIT_MODEL_MAX_RETRIES": "0",
            "RELAYKIT_MODEL_TIMEOUT": "2.5",
            "RELAYKIT_ANTHROPIC_API_KEY_SECRET": "prod/anthropic",
            "RELAYKIT_ANTHROPIC_API_KEY_PARAMETER": "/prod/anthropic/key",
            "RELAYKIT_BEDROCK_REGION": "eu-central-1",
        },
    )
    assert (s.model_max_retries, s.model_timeout) == (0, 2.5)
    assert s.anthropic_api_key_secret == "prod/anthropic"
    assert s.anthropic_api_key_parameter == "/prod/anthropic/key"
    assert s.bedrock_region == "eu-central-1"


@pytest.mark.parametrize(
    ("key", "value", "accepted"),
    [
        ("model_max_retries", "11", "from 0 to 10"),
        ("model_max_retries", "many", "from 0 to 10"),
        ("model_timeout", "0", "above 0"),
        ("bedrock_region", "Frankfurt", "us-east-1"),
        ("anthropic_api_key_secret", "has space", "Secrets Manager"),
        ("price_table", "{not json", "per million tokens"),
        ("model", "bedrock", "bedrock:MODEL_ID"),
    ],
)
def test_bad_values_name_the_accepted_form(key: str, value: str, accepted: str) -> None:
    """Each bad value is a ConfigError naming the key and what is accepted."""
    with pytest.raises(ConfigError, match=key) as caught:
        settings(**{key: value})
    assert accepted in str(caught.value)


def test_anthropic_is_registered_and_configured_from_settings() -> None:
    """model=anthropic:ID builds an AnthropicModel with the settings' retries and timeout."""
    app = App(
        "a",
        settings={
            "model": "anthropic:claude-haiku-4-5",
            "model_max_retries": 4,
            "model_timeout": 30,
            "store": "memory://",
        },
    )
    llm = app.model
    assert isinstance(llm, AnthropicModel) and llm.name == "anthropic:claude-haiku-4-5"
    assert (llm.retry.max_retries, llm.retry.timeout) == (4, 30.0)
    assert default_model({"ANTHROPIC_API_KEY": "x"}) == "anthropic:claude-sonnet-4-6"

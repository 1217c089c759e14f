"""Fixtures of the provider tests: the stub servers (started per module, stopped at the end)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from stubs.anthropic_api import AnthropicStub
from stubs.bedrock_api import BedrockStub
from stubs.recording import Collect


@pytest.fixture(scope="module")
def anthropic_stub() -> Iterator[AnthropicStub]:
    with AnthropicStub() as stub:
        yield stub


@pytest.fixture
def anthropic_api(anthropic_stub: AnthropicStub) -> AnthropicStub:
    """The module's Messages API stub with an empty script and no recorded requests."""
    anthropic_stub.script.clear()
    anthropic_stub.requests.clear()
    return anthropic_stub


@pytest.fixture(scope="module")
def bedrock_stub() -> Iterator[BedrockStub]:
    with BedrockStub() as stub:
        yield stub


@pytest.fixture
def bedrock_api(bedrock_stub: BedrockStub, monkeypatch: pytest.MonkeyPatch) -> BedrockStub:
    """The module's Converse stub, emptied, with dummy AWS credentials in the environment."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    bedrock_stub.script.clear()
    bedrock_stub.requests.clear()
    return bedrock_stub


@pytest.fixture
def logs() -> Iterator[Collect]:
    """Every record written to the ``relaykit``, ``anthropic`` and ``botocore`` loggers."""
    handler = Collect()
    loggers = [logging.getLogger(name) for name in ("relaykit", "anthropic", "httpx2", "botocore")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    yield handler
    for logger, level in zip(loggers, levels, strict=True):
        logger.removeHandler(handler)
        logger.setLevel(level)

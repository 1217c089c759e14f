"""Placement: parsed from the settings, checked per handler, shown by ``relaykit routes``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from deploy.apps import make_app
from relaykit import App, ConfigError
from relaykit.placement import resolve
from support import ROOT


def rejected(placement: dict[str, Any], tmp: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        resolve(make_app(placement, tmp))
    return str(caught.value)


def test_defaults_put_streams_on_function_urls_and_the_rest_on_lambda(tmp_path: Path) -> None:
    """With no placement, streams go to lambda-stream and everything else to lambda, IAM auth."""
    placements = {p.name: p for p in resolve(make_app({}, tmp_path))}
    assert placements["/chat"].targets == ("lambda-stream",)
    assert placements["/ask"].targets == ("lambda",)
    assert placements["/research"].timeout == 900
    assert placements["sqs:orders"].targets == ("lambda",)
    assert placements["/ask"].auth == "AWS_IAM"


def test_defaults_table_applies_and_handler_tables_override(tmp_path: Path) -> None:
    """[placement.defaults] reaches every handler; a handler's own table wins."""
    app = make_app({"defaults": {"memory": 256}, "/ask": {"memory": 2048}}, tmp_path)
    placements = {p.name: p for p in resolve(app)}
    assert placements["/chat"].memory == 256
    assert placements["/ask"].memory == 2048


def test_stream_on_buffered_lambda_is_rejected_unless_buffered_ok(tmp_path: Path) -> None:
    """A stream behind an HTTP API buffers: rejected with the reason, accepted when marked."""
    message = rejected({"/chat": {"target": "lambda"}}, tmp_path)
    assert 'placement."/chat".target' in message and "buffers" in message
    app = make_app({"/chat": {"target": "lambda", "buffered_ok": True, "timeout": 20}}, tmp_path)
    assert resolve(app)[1].targets == ("lambda",)


def test_task_longer_than_lambda_is_rejected_and_a_workflow_is_not(tmp_path: Path) -> None:
    """A 20-minute task cannot split; a 1-hour workflow continues durably (function 900 s)."""
    message = rejected({"/ask": {"target": "lambda-stream", "timeout": 1200}}, tmp_path)
    assert 'placement."/ask".timeout' in message and "cannot be split" in message
    app = make_app({"/research": {"timeout": 3600}}, tmp_path)
    research = {p.name: p for p in resolve(app)}["/research"]
    assert research.timeout == 3600 and research.function_timeout == 900


def test_step_longer_than_an_invocation_is_rejected(tmp_path: Path) -> None:
    """A workflow step longer than one Lambda invocation is rejected; fine on a container."""
    message = rejected({"/research": {"timeout": 3600, "max_step": 1200}}, tmp_path)
    assert 'placement."/research".max_step' in message and "never split" in message
    app = make_app({"/research": {"target": "container", "max_step": 1200}}, tmp_path)
    assert resolve(app)[2].max_step == 1200


@pytest.mark.parametrize(
    ("placement", "key", "reason"),
    [
        ({"/ask": {"memory": 64}}, 'placement."/ask".memory', "outside Lambda's 128-10240"),
        ({"/ask": {"memory": 20000}}, 'placement."/ask".memory', "outside Lambda's"),
        ({"/chat": {"auth": "jwt"}}, 'placement."/chat".auth', "jwt_issuer"),
        ({"/ask": {"target": "container", "auth": "AWS_IAM"}}, 'placement."/ask".auth', "does not"),
        (
            {"/ask": {"target": ["lambda", "container"], "auth": "AWS_IAM"}},
            'placement."/ask".auth',
            "does not apply to lambda+container",
        ),
        ({"/ask": {"jwt_jwks_url": "http://x/k"}}, 'placement."/ask".jwt_jwks_url', "https"),
        ({"/ask": {"timeout": 60}}, 'placement."/ask".timeout', "30 s"),
        ({"/ask": {"target": "edge"}}, 'placement."/ask".target', "unknown target"),
        ({"/ask": {"target": ["lambda", "lambda-stream"]}}, 'placement."/ask".target', "two"),
        ({"/ask": {"colour": "red"}}, 'placement."/ask".colour', "unknown key"),
        ({"/nope": {"memory": 512}}, 'placement."/nope"', "names no handler"),
        ({"sqs:orders": {"target": "lambda-stream"}}, 'placement."sqs:orders".target', "not HTTP"),
        ({"/ask": {"max_step": 10}}, 'placement."/ask".max_step', "only workflows"),
        ({"/ask": {"auth": "jwt"}}, 'placement."/ask".auth', "jwt_issuer"),
        ({"/ask": {"target": "container", "memory": 3000}}, 'placement."/ask".memory', "Fargate"),
    ],
)
def test_bad_placements_name_the_handler_the_key_and_the_reason(
    placement: dict[str, Any], key: str, reason: str, tmp_path: Path
) -> None:
    """Every impossible placement is a ConfigError naming handler, key and why."""
    message = rejected(placement, tmp_path)
    assert key in message and reason in message, message


def test_placement_from_relaykit_toml_and_environment(tmp_path: Path) -> None:
    """A [placement] table in relaykit.toml is read into the settings; RELAYKIT_PLACEMENT
    (JSON) replaces it."""
    (tmp_path / "relaykit.toml").write_text('[placement."/ask"]\ntarget = "container"\n')
    app = App("t", config_dir=tmp_path)
    assert app.settings.placement is not None
    assert app.settings.placement.handlers["/ask"]["target"] == ("container",)
    (tmp_path / "relaykit.toml").write_text('[placement."/ask"]\nmemory = "big"\n')
    with pytest.raises(ConfigError, match=r'placement\."/ask"\.memory'):
        App("t", config_dir=tmp_path)


def test_routes_shows_the_placement(hybrid: App) -> None:
    """`relaykit routes --json` carries target, memory, timeout, concurrency and auth."""
    result = subprocess.run(
        [sys.executable, "-m", "relaykit", "routes", "examples/deploy/hybrid.py", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    rows = {row["path"]: row for row in json.loads(result.stdout)}
    assert rows["/chat"]["target"] == "lambda-stream" and rows["/chat"]["auth"] == "NONE"
    assert rows["/research"]["target"] == "lambda+container"
    assert rows["/ask"]["concurrency"] == 20

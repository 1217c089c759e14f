"""examples/emulator_usage.py (the code shown in docs/lambda-emulator.md) runs as documented."""

from __future__ import annotations

import os
import subprocess
import sys

from support import ROOT


def test_emulator_usage_example_runs() -> None:
    """Async invoke and stream, boto3 invoke, Function URL task and stream all succeed."""
    script = ROOT / "examples" / "emulator_usage.py"
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=ROOT,
        env={**os.environ, "RELAYKIT_LOCAL_MODEL_DELAY": "0"},
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "invoke: True" in out
    assert out.count("chunk: ") >= 2
    assert "boto3: 200" in out
    assert "URL: {'answer': 'Local model reply to: Hi'" in out
    assert "token: Local" in out

"""The durable example that docs/durable.md quotes runs and does what the page says."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "durable_research.py"


async def test_research_example_completes_after_approval() -> None:
    """The example run suspends for approval, then completes with its report."""
    spec = importlib.util.spec_from_file_location("durable_research_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    view = await module.main()
    assert view["status"] == "completed"
    assert view["result"]["approved"] is True
    assert "history" in view["result"]["report"]
    names = [step["name"] for step in view["steps"]]
    assert names == ["plan", "search", "search", "write", "event:approve", "now"]

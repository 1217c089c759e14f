"""Apps for the deploy tests: the hybrid example and a throwaway app placed as told."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from relaykit import App
from support import ROOT

EXAMPLE_DIR = ROOT / "examples" / "deploy"


def load_hybrid() -> App:
    """examples/deploy/hybrid.py, with its relaykit.toml placement."""
    sys.path.insert(0, str(EXAMPLE_DIR))
    try:
        import hybrid as module
    finally:
        sys.path.remove(str(EXAMPLE_DIR))
    app: App = module.app
    return app


def make_app(placement: dict[str, Any], tmp: Path) -> App:
    """An app with a task, a stream, a workflow and an SQS handler, placed by ``placement``."""
    app = App("shop", settings={"placement": placement, "model": "local"}, config_dir=tmp)

    async def ask(question: str) -> str:
        return question

    async def chat(question: str) -> Any:
        yield question

    async def research(question: str) -> str:
        return question

    async def ingest(record: dict[str, Any]) -> None:
        return None

    app.add_task("/ask", ask)
    app.add_stream("/chat", chat)
    app.add_workflow("/research", research)
    app.add_sqs("orders", ingest)
    return app

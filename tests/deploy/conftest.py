"""Fixtures of the deploy tests."""

from __future__ import annotations

import pytest

from deploy.apps import load_hybrid
from relaykit import App


@pytest.fixture(scope="session")
def hybrid() -> App:
    """examples/deploy/hybrid.py, placed by its relaykit.toml."""
    return load_hybrid()

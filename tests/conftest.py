"""Shared fixtures: real ``relaykit serve`` subprocesses on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support import Server, start_server, stop_server


@pytest.fixture(scope="module")
def probe_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The probe app served by a real ``relaykit serve`` with a 2 KiB body limit."""
    tmp = tmp_path_factory.mktemp("probe")
    server = start_server("probe_app:app", tmp, {"RELAYKIT_MAX_BODY_BYTES": "2048"})
    yield server
    stop_server(server)

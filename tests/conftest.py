"""Shared fixtures: real ``relaykit serve`` subprocesses on loopback; and the sentinel check:
no test may print the sentinel API key (``support.SENTINEL_KEY``) to stdout, stderr or the
log, in any phase."""

from __future__ import annotations

from collections.abc import Generator, Iterator

import pluggy
import pytest

from support import SENTINEL_KEY, Server, start_server, stop_server


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pluggy.Result[pytest.TestReport], None]:
    """Fail a test whose captured output (stdout, stderr, log records) shows the sentinel key:
    every key relaykit is given in the suite is that sentinel, so this covers the whole suite."""
    outcome = yield
    report = outcome.get_result()
    leaked = [name for name, text in report.sections if SENTINEL_KEY in text]
    if leaked and report.passed:
        report.outcome = "failed"
        report.longrepr = f"the sentinel API key appeared in {', '.join(leaked)}"


@pytest.fixture(scope="module")
def probe_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The probe app served by a real ``relaykit serve`` with a 2 KiB body limit."""
    tmp = tmp_path_factory.mktemp("probe")
    server = start_server("probe_app:app", tmp, {"RELAYKIT_MAX_BODY_BYTES": "2048"})
    yield server
    stop_server(server)

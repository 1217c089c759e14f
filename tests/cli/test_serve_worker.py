"""``relaykit serve`` with the event-source worker in the same process (the ``worker_in_serve``
setting, or ``serve --worker``): a real server subprocess polls a real SQS API (moto's server on
loopback) while it serves HTTP, and stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx

from relaykit.cli import _parser
from sqs_moto import CREDENTIALS, count, make_queue, moto_server, sqs
from support import start_server, stop_server


def test_serve_runs_the_worker_alongside_http(tmp_path: Path) -> None:
    """Messages sent to the app's queue are handled and deleted while /healthz answers; SIGTERM
    stops the server and, through the lifespan, the worker (which logs its final count).
    uvicorn re-raises the SIGTERM it handled once shut down, so the exit status is -15."""
    out = tmp_path / "notes.txt"
    with moto_server() as endpoint:
        client = sqs(endpoint)
        notes = make_queue(client, "notes", visibility=5)
        make_queue(client, "uploads")
        env = {
            **CREDENTIALS,
            "AWS_ENDPOINT_URL_SQS": endpoint,
            "RELAYKIT_WORKER_IN_SERVE": "true",
            "SOURCES_OUT": str(out),
        }
        server = start_server("sources_app:app", tmp_path, env)
        try:
            for index in range(3):
                client.send_message(QueueUrl=notes, MessageBody=json.dumps({"text": f"n{index}"}))
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and (
                not out.exists() or len(out.read_text().splitlines()) < 3
            ):
                time.sleep(0.05)
            assert httpx.get(f"{server.url}/healthz", timeout=5).status_code == 200
        finally:
            stop_server(server)
        assert server.process.returncode in (0, -15), server.log()
        assert "worker stopped: 3 processed, 0 failed" in server.log()
        assert sorted(line.split()[1] for line in out.read_text().splitlines()) == [
            "n0",
            "n1",
            "n2",
        ]
        assert count(client, notes) == 0


def test_serve_worker_flag_and_missing_queue(tmp_path: Path) -> None:
    """``serve --worker`` is a flag; a queue the worker cannot find fails the server's startup
    with the queue's name instead of serving without it."""
    assert _parser().parse_args(["serve", "app:app", "--worker"]).worker is True
    with moto_server() as endpoint:
        env = {**CREDENTIALS, "AWS_ENDPOINT_URL_SQS": endpoint, "RELAYKIT_WORKER_IN_SERVE": "1"}
        try:
            server = start_server("sources_app:app", tmp_path, env)
        except RuntimeError as exc:
            assert "cannot use the SQS queue 'notes'" in str(exc)
        else:
            stop_server(server)
            raise AssertionError("the server started without its queue")

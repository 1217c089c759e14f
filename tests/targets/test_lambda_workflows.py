"""Durable workflows on emulated Lambda: a run longer than the function timeout completes across
several invocations by deadline-aware splitting, continued by asynchronous self-invokes."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import httpx
import pytest

from esm import SqsEventSourceMapping
from relaykit import App
from relaykit.local.emulator import Emulator, FunctionConfig
from sqs_moto import CREDENTIALS, count, make_queue, moto_server, sqs

APPS = Path(__file__).resolve().parent.parent / "apps"


@pytest.fixture(scope="module")
def store_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('wf') / 'runs.db'}"


def workflow_function(name: str, store_url: str, concurrency: int, **env: str) -> FunctionConfig:
    """``workflow_lambda_app`` on relaykit's runtime: a 3 s timeout, a 0.4 s margin."""
    variables = {
        "PYTHONPATH": str(APPS),
        "RELAYKIT_STORE": store_url,
        "RELAYKIT_WORKFLOW_MARGIN": "0.4",
        "RELAYKIT_WORKFLOW_INVOCATION_BUDGET": "3",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        **env,
    }
    return FunctionConfig(
        name=name,
        command=[sys.executable, "-m", "relaykit.lambda_runtime", "workflow_lambda_app:app"],
        env=variables,
        handler="workflow_lambda_app:app",
        task_root=str(APPS),
        timeout=3.0,
        invoke_mode="RESPONSE_STREAM",
        concurrency=concurrency,
    )


@pytest.fixture(scope="module")
def emu(store_url: str) -> Iterator[Emulator]:
    config = workflow_function("workflows", store_url, 4)
    env = config.env  # the emulator reads it when a worker starts
    emulator = Emulator([config], retry_delay_scale=0.001)
    with emulator.running() as running:
        # Workers start on the first invocation and read their environment then: they reach the
        # emulator's Invoke API through the standard endpoint variable.
        env["AWS_ENDPOINT_URL_LAMBDA"] = running.invoke_url
        yield running


def wait_for_status(app: App, run_id: str, statuses: set[str], timeout: float = 60) -> dict:
    async def poll() -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            view = (await app.engine.get(run_id)).to_dict()
            if view["status"] in statuses:
                return view
            await asyncio.sleep(0.1)
        return view

    return asyncio.run(poll())


def test_run_longer_than_the_timeout_completes_across_invocations(
    emu: Emulator, store_url: str
) -> None:
    """12 steps of 0.5 s (6 s of work) under a 3 s timeout: the run splits before the deadline,
    continues in later invocations, and completes with every step committed once."""
    response = httpx.post(
        f"{emu.function_url('workflows')}/long", json={"steps": 12, "seconds": 0.5}, timeout=30
    )
    assert response.status_code == 202, response.text
    run_id = response.json()["run_id"]

    observer = App("observer", settings={"store": store_url})  # reads the same store
    view = wait_for_status(observer, run_id, {"completed", "failed"})
    assert view["status"] == "completed", json.dumps(view)[:2000]
    assert view["result"]["steps"] == 12
    assert view["result"]["processes"] >= 2
    assert [step["name"] for step in view["steps"]] == [f"work:{i}" for i in range(12)]
    assert all(step["attempts"] == 1 for step in view["steps"])
    progress = asyncio.run(observer.engine.progress(run_id))
    assert sum(1 for entry in progress if entry.kind == "suspended") >= 2


def test_sqs_continuations_carry_a_long_run_to_the_end(tmp_path: Path) -> None:
    """``workflow_continuation = "sqs"``: the run splits as before, but each continuation is a
    message on a queue (moto server, real boto3) that an event source mapping delivers to the
    function as an SQS batch. The run completes across several invocations; every message was
    a continuation for this run, handled and deleted, and none made the invocation fail."""
    store_url = f"sqlite:///{tmp_path / 'runs.db'}"
    with moto_server() as endpoint:
        queues = sqs(endpoint)
        queue_url = make_queue(queues, "continuations", visibility=10)
        config = workflow_function(
            "sqs-workflows",
            store_url,
            2,
            RELAYKIT_WORKFLOW_CONTINUATION="sqs",
            RELAYKIT_WORKFLOW_QUEUE_URL=queue_url,
            AWS_ENDPOINT_URL_SQS=endpoint,
            **CREDENTIALS,
        )
        with Emulator([config], retry_delay_scale=0.001).running() as emu:
            invoker = boto3.client(
                "lambda",
                endpoint_url=emu.invoke_url,
                region_name="us-east-1",
                aws_access_key_id="test",
                aws_secret_access_key="test",
            )
            mapping = SqsEventSourceMapping(queues, invoker, queue_url, "sqs-workflows")
            with mapping:
                response = httpx.post(
                    f"{emu.function_url('sqs-workflows')}/long",
                    json={"steps": 10, "seconds": 0.5},
                    timeout=30,
                )
                assert response.status_code == 202, response.text
                run_id = response.json()["run_id"]
                observer = App("observer", settings={"store": store_url})
                view = wait_for_status(observer, run_id, {"completed", "failed"})
            left_in_queue = count(queues, queue_url)
    assert view["status"] == "completed", json.dumps(view)[:2000]
    assert view["result"]["steps"] == 10 and view["result"]["processes"] >= 1
    assert all(step["attempts"] == 1 for step in view["steps"])
    invocations = view["invocations"]
    assert len(invocations) >= 2 and invocations[-1]["ended"] == "completed"
    # Every continuation went through the queue: the first one (at the start) and one per split.
    continued = [json.loads(body) for body in mapping.delivered]
    assert continued and all(c == {"relaykit": "continue", "run_id": run_id} for c in continued)
    assert len(continued) >= len(invocations) - 1
    assert mapping.failed_invocations == 0
    assert left_in_queue == 0

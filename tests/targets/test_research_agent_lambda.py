"""End to end: examples/research_agent.py, a run whose work is over 10x the function timeout, on
emulated Lambda (split across many invocations, streamed live through a Function URL), through
faults (a continuation delivered twice, a worker SIGKILLed mid-step, a 529 storm from the model
API), and in a container (``relaykit serve``), alone and handing one run to Lambda and back on
one store.

Assertions are on counts and contents; no wall-clock thresholds."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import httpx
import pytest

from relaykit import App, Reply
from relaykit.agents import ScriptedAgentModel
from relaykit.llm.local import LocalModel
from relaykit.local.emulator import Emulator, FunctionConfig
from relaykit.local.emulator.emulator import stderr_log_sink
from stubs.anthropic_api import AnthropicStub, Turn, error
from support import SENTINEL_KEY

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
TIMEOUT = 2.0  # the function timeout, seconds
IO_DELAY = 0.55  # seconds per tool call in the long run
MODEL_DELAY = 0.0135  # seconds per streamed word of the local model in the long run
QUESTION = "How does a long agent run on Lambda?"
FUNCTION = "research"


def lambda_env(store_url: str, model_delay: float) -> dict[str, str]:
    return {
        "PYTHONPATH": str(EXAMPLES),
        "RELAYKIT_STORE": store_url,
        "RELAYKIT_MODEL": "local",
        "RELAYKIT_LOCAL_MODEL_DELAY": str(model_delay),
        "RELAYKIT_WORKFLOW_MARGIN": "0.6",
        "RELAYKIT_WORKFLOW_INVOCATION_BUDGET": str(TIMEOUT),
        "RELAYKIT_WORKFLOW_LEASE_SECONDS": "2",
        "RELAYKIT_METRICS": "false",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }


def start_emulator(
    store_url: str, model_delay: float, extra_env: dict[str, str] | None = None
) -> tuple[Emulator, dict[str, str]]:
    env = {**lambda_env(store_url, model_delay), **(extra_env or {})}
    config = FunctionConfig(
        name=FUNCTION,
        command=[sys.executable, "-m", "relaykit.lambda_runtime", "research_agent:app"],
        env=env,
        handler="research_agent:app",
        task_root=str(EXAMPLES),
        timeout=TIMEOUT,
        invoke_mode="RESPONSE_STREAM",
        concurrency=6,
    )
    return Emulator([config], retry_delay_scale=0.001, log_sink=stderr_log_sink()), env


@pytest.fixture(scope="module")
def store_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('research') / 'runs.db'}"


@pytest.fixture(scope="module")
def emu(store_url: str) -> Iterator[Emulator]:
    emulator, env = start_emulator(store_url, MODEL_DELAY)
    with emulator.running() as running:
        env["AWS_ENDPOINT_URL_LAMBDA"] = running.invoke_url  # read by workers at their start
        yield running


@pytest.fixture(scope="module")
def expected(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The report of an uninterrupted in-process run (no delays): what every run must return."""
    store = f"sqlite:///{tmp_path_factory.mktemp('reference') / 'runs.db'}"
    module = load_example({"RELAYKIT_STORE": store, "RELAYKIT_LOCAL_MODEL_DELAY": "0"})
    return asyncio.run(run_in_process(module, io_delay=0))


def load_example(env: dict[str, str]) -> ModuleType:
    """A fresh import of the example under ``env`` (settings are read at import)."""
    with environ({"RELAYKIT_MODEL": "local", **env}):
        spec = importlib.util.spec_from_file_location(
            f"research_agent_{time.monotonic_ns()}", EXAMPLES / "research_agent.py"
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # pydantic resolves the models' annotations there
        spec.loader.exec_module(module)
        return module


def observe(store_url: str) -> App:
    return App("observer", settings={"store": store_url, "model": "local"})


def view_of(app: App, run_id: str) -> dict[str, Any]:
    async def get() -> dict[str, Any]:
        return (await app.engine.get(run_id)).to_dict()

    return asyncio.run(get())


def progress_kinds(app: App, run_id: str) -> list[str]:
    async def get() -> list[str]:
        return [entry.kind for entry in await app.engine.progress(run_id, limit=100_000)]

    return asyncio.run(get())


def wait_until(
    app: App, run_id: str, done: Any, timeout: float = 60, poke: Any = None
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    last_poke = time.monotonic()
    while True:
        view = view_of(app, run_id)
        if done(view) or time.monotonic() > deadline:
            return view
        if poke is not None and time.monotonic() - last_poke > 1.0:
            poke()
            last_poke = time.monotonic()
        time.sleep(0.05)


def finished(view: dict[str, Any]) -> bool:
    return view["status"] in ("completed", "failed", "cancelled")


def start_run(url: str, io_delay: float) -> str:
    response = httpx.post(
        f"{url}/research", json={"question": QUESTION, "io_delay": io_delay}, timeout=30
    )
    assert response.status_code == 202, response.text
    run_id: str = response.json()["run_id"]
    return run_id


def lambda_client(emu: Emulator) -> Any:
    return boto3.client(
        "lambda",
        endpoint_url=emu.invoke_url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def read_stream(
    url: str, last_id: int, stop_after: int | None = None
) -> tuple[list[tuple[int, str, str]], bool]:
    """One connection to the progress stream: its ``(id, event, data)`` entries and whether it
    ended with the ``end`` event. ``stop_after``: disconnect after that many events."""
    events: list[tuple[int, str, str]] = []
    headers = {"Last-Event-ID": str(last_id)} if last_id else {}
    fields: dict[str, str] = {}
    with httpx.stream("GET", url, headers=headers, timeout=30) as response:
        assert response.status_code == 200, response.read()
        for line in response.iter_lines():
            if line:
                key, _, value = line.partition(":")
                fields[key] = value.removeprefix(" ")
                continue
            if not fields:
                continue
            if fields.get("event") == "end":
                return events, True
            if "id" in fields:
                events.append((int(fields["id"]), fields.get("event", ""), fields.get("data", "")))
            fields = {}
            if stop_after is not None and len(events) >= stop_after:
                return events, False  # the client leaves mid-stream
    return events, False


def test_long_run_splits_streams_and_survives_a_duplicate_continuation(
    emu: Emulator, store_url: str, expected: dict[str, Any]
) -> None:
    pool = emu.pools[FUNCTION]
    run_id = start_run(emu.function_url(FUNCTION), IO_DELAY)
    stream_url = f"{emu.function_url(FUNCTION)}/runs/{run_id}/stream"
    observer = observe(store_url)

    # Follow the stream: the client leaves on purpose once it has seen 5 events, then
    # reconnects with Last-Event-ID until the end event (each stream invocation also ends
    # before its deadline, so there are many connections).
    seen: list[tuple[int, str, str]] = []
    ended = left_early = duplicated = False
    connections = 0
    while not ended:
        stop = None if left_early else 5 - len(seen)
        more, ended = read_stream(stream_url, seen[-1][0] if seen else 0, stop_after=stop)
        left_early = left_early or (stop is not None and len(more) >= stop)
        seen += more
        connections += 1
        if not duplicated and sum(1 for _, kind, _ in seen if kind == "step") >= 8:
            # A continuation delivered a second time, mid-run: harmless.
            payload = json.dumps({"relaykit": "continue", "run_id": run_id}).encode()
            answer = lambda_client(emu).invoke(
                FunctionName=FUNCTION, InvocationType="Event", Payload=payload
            )
            assert answer["StatusCode"] == 202
            duplicated = True
        assert connections < 500, "the stream never ended"

    view = wait_until(observer, run_id, finished)
    assert view["status"] == "completed", json.dumps(view)[:2000]
    assert view["result"] == expected

    # No gaps, no duplicates across every connection and invocation: ids 1..N in order.
    ids = [event_id for event_id, _, _ in seen]
    assert ids == list(range(1, len(ids) + 1))
    kinds = [kind for _, kind, _ in seen]
    assert kinds.count("step") == len(view["steps"]) == 41
    assert "token" in kinds and kinds[-1] == "completed"
    assert connections >= 3 and left_early and duplicated
    stored = progress_kinds(observer, run_id)
    assert stored == kinds  # the stream carried the whole progress log

    # Split across many invocations, none killed by the timeout.
    work = sum(step["duration"] for step in view["steps"])
    assert work >= 10 * TIMEOUT, work
    suspended = kinds.count("suspended")
    assert suspended >= 9, suspended
    assert -9 not in pool.exit_codes, pool.exit_codes
    assert all(step["attempts"] == 1 for step in view["steps"])
    names = [step["name"] for step in view["steps"]]
    assert names[:3] == ["plan", "turn:1", "tool:1:search"]
    assert names.count("tool:2:fetch") == 16 and names[-1] == "report"

    # The run record: each invocation, the steps it committed and why it yielded.
    invocations = view["invocations"]
    ended = [invocation["ended"] for invocation in invocations]
    assert ended == ["suspended"] * suspended + ["completed"]
    assert [name for i in invocations for name in i["steps"]] == names
    assert len({i["request_id"] for i in invocations}) == len(invocations)  # one per request
    assert all(i["target"] == "lambda" and not i["interrupted"] for i in invocations)
    assert all(0 < i["remaining_s"] <= TIMEOUT for i in invocations)
    reasons = [i["reason"] for i in invocations[:-1]]
    assert sum(r.startswith("deadline: step ") for r in reasons) >= suspended - 1, reasons

    # The same continuation once more, after the end: a no-op; the result is unchanged.
    payload = json.dumps({"relaykit": "continue", "run_id": run_id}).encode()
    answer = lambda_client(emu).invoke(FunctionName=FUNCTION, Payload=payload)
    assert answer["StatusCode"] == 200 and "FunctionError" not in answer
    again = view_of(observer, run_id)
    assert again["result"] == expected and again["steps"] == view["steps"]
    assert progress_kinds(observer, run_id) == stored
    assert -9 not in pool.exit_codes, pool.exit_codes


def test_worker_killed_mid_step_the_run_still_completes(
    tmp_path: Path, expected: dict[str, Any]
) -> None:
    store_url = f"sqlite:///{tmp_path / 'killed.db'}"
    observer = observe(store_url)
    emulator, env = start_emulator(store_url, 0.002)
    with emulator.running() as emu:
        env["AWS_ENDPOINT_URL_LAMBDA"] = emu.invoke_url
        pool = emu.pools[FUNCTION]
        run_id = start_run(emu.function_url(FUNCTION), 0.1)
        view = wait_until(observer, run_id, lambda v: len(v["steps"]) >= 6 or finished(v))
        assert not finished(view)
        killed = None
        deadline = time.monotonic() + 20
        while killed is None and time.monotonic() < deadline:
            busy = [env for env in pool.environments if env.reserved > 0 and env.alive]
            if busy and busy[0].pid is not None:
                killed = busy[0].pid
                os.kill(killed, signal.SIGKILL)
            else:
                time.sleep(0.005)
        assert killed is not None, "no worker was busy"
        at_kill = len(view_of(observer, run_id)["steps"])

        def sweep() -> None:
            # The scheduled sweep, once a second: it resumes the run once the killed
            # worker's lease (2 s) has expired.
            lambda_client(emu).invoke(
                FunctionName=FUNCTION,
                InvocationType="Event",
                Payload=json.dumps({"relaykit": "sweep"}).encode(),
            )

        view = wait_until(observer, run_id, finished, poke=sweep)
        exit_codes = list(pool.exit_codes)
    assert view["status"] == "completed", json.dumps(view)[:2000]
    assert view["result"] == expected
    assert len(view["steps"]) == 41 and at_kill < 41
    assert exit_codes.count(-9) == 1, exit_codes  # our SIGKILL, and no timeout
    # At least once: only the step in flight at the kill may have a second attempt.
    assert sum(step["attempts"] - 1 for step in view["steps"]) <= 1


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """``relaykit serve examples/research_agent.py`` on 127.0.0.1, stopped by ``stop``."""

    def __init__(self, store_url: str, log: Path) -> None:
        self.port = free_port()
        self.log = log
        env = {
            **os.environ,
            "RELAYKIT_STORE": store_url,
            "RELAYKIT_MODEL": "local",
            "RELAYKIT_LOCAL_MODEL_DELAY": "0.001",
            "RELAYKIT_WORKFLOW_LEASE_SECONDS": "2",
            "RELAYKIT_WORKFLOW_SWEEP_INTERVAL": "0.5",
        }
        relaykit = Path(sys.executable).with_name("relaykit")
        command = [str(relaykit), "serve", str(EXAMPLES / "research_agent.py")]
        with log.open("wb") as out:  # the child keeps its own copy of the descriptor
            self.process = subprocess.Popen(
                [*command, "--port", str(self.port)], env=env, stdout=out, stderr=subprocess.STDOUT
            )
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 30
        while True:
            assert self.process.poll() is None, self.output()
            try:
                httpx.get(f"{self.url}/runs", timeout=1)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "relaykit serve did not start"
                time.sleep(0.1)

    def output(self) -> str:
        self.stop()
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def test_the_same_file_in_a_container_gives_the_same_result_without_splitting(
    tmp_path: Path, expected: dict[str, Any]
) -> None:
    store_url = f"sqlite:///{tmp_path / 'container.db'}"
    server = Server(store_url, tmp_path / "serve.log")
    try:
        run_id = start_run(server.url, 0.02)
        observer = observe(store_url)
        view = wait_until(observer, run_id, finished)
    finally:
        server.stop()
    assert view["status"] == "completed", json.dumps(view)[:2000]
    assert view["result"] == expected
    assert len(view["steps"]) == 41
    kinds = progress_kinds(observer, run_id)
    assert "suspended" not in kinds and kinds[-1] == "completed"


def test_hybrid_container_to_lambda_to_container_on_one_store(
    tmp_path: Path, expected: dict[str, Any]
) -> None:
    """One run, three executors on one SQLite store: a container starts it and is SIGKILLed,
    emulated Lambda (its scheduled sweep) continues it across invocations and is stopped, and a
    second container's sweeper finishes it."""
    store_url = f"sqlite:///{tmp_path / 'hybrid.db'}"
    observer = observe(store_url)

    first = Server(store_url, tmp_path / "serve-1.log")
    try:
        run_id = start_run(first.url, 0.1)
        view = wait_until(observer, run_id, lambda v: len(v["steps"]) >= 4 or finished(v))
    finally:
        first.process.kill()  # the container dies mid-run, holding the run's lease
        first.stop()
    assert not finished(view)
    by_container = len(view_of(observer, run_id)["steps"])
    assert "suspended" not in progress_kinds(observer, run_id)

    emulator, env = start_emulator(store_url, 0.002)
    with emulator.running() as lam:
        env["AWS_ENDPOINT_URL_LAMBDA"] = lam.invoke_url

        def sweep() -> None:  # the EventBridge schedule, once a second
            lambda_client(lam).invoke(
                FunctionName=FUNCTION,
                InvocationType="Event",
                Payload=json.dumps({"relaykit": "sweep"}).encode(),
            )

        def lambda_split_once(view: dict[str, Any]) -> bool:
            return finished(view) or "suspended" in progress_kinds(observer, run_id)

        view = wait_until(observer, run_id, lambda_split_once, poke=sweep)
        exit_codes = list(lam.pools[FUNCTION].exit_codes)
    # Leaving the block stopped the emulator: its workers are killed, queued continuations lost.
    assert not finished(view), "Lambda finished the run before it could be stopped"
    by_lambda = len(view_of(observer, run_id)["steps"])
    assert by_lambda > by_container

    # The second container's sweeper finds the run once the Lambda side's lease has expired.
    second = Server(store_url, tmp_path / "serve-2.log")
    try:
        view = wait_until(observer, run_id, finished)
    finally:
        second.stop()
    assert view["status"] == "completed", json.dumps(view)[:2000]
    assert view["result"] == expected
    assert len(view["steps"]) == 41 and by_lambda < 41
    assert -9 not in exit_codes, exit_codes  # no Lambda invocation hit the timeout
    # At least once: only steps in flight when an executor died may have a second attempt.
    assert sum(step["attempts"] - 1 for step in view["steps"]) <= 2


def test_a_provider_is_chosen_by_configuration_alone(tmp_path: Path) -> None:
    """``RELAYKIT_MODEL=anthropic:...``: no scripted model is injected anywhere."""
    store = f"sqlite:///{tmp_path / 'runs.db'}"
    online = load_example({"RELAYKIT_STORE": store, "RELAYKIT_MODEL": "anthropic:claude-x"})
    assert not online.offline and online.planner is None and online.writer is None
    assert online.app.settings.model == "anthropic:claude-x"
    assert online.app.model.name.startswith("anthropic")
    offline = load_example({"RELAYKIT_STORE": store})
    assert offline.offline and offline.app.model.name == "local"


class HostedResearchModel:
    """Answers the research agent's Messages API requests as its offline scripted models would
    (the plan, the agent's tool calls, the writer's echo), so a run on the real ``anthropic``
    SDK against the stub is deterministic and comparable with another one."""

    def __init__(self) -> None:
        module = load_example({"RELAYKIT_STORE": "memory://"})
        self.agent = ScriptedAgentModel(module.AGENT_SCRIPT)
        self.plan = str(module.PLAN_SCRIPT[0])

    async def __call__(self, body: dict[str, Any]) -> Turn:
        messages = body["messages"]
        first = messages[0]["content"]
        text = first if isinstance(first, str) else first[0].get("text", "")
        if body.get("tools"):
            reply = await self.agent.complete(messages)
        elif text.startswith("Plan searches for"):
            reply = Reply(text=self.plan, model="stub")
        else:
            reply = await LocalModel(delay=0).complete(messages, max_tokens=body["max_tokens"])
        return Turn(
            text=reply.text,
            tool_calls=[(call.id, call.name, call.input) for call in reply.tool_calls],
            stop_reason=reply.stop_reason,
            usage={
                "input_tokens": max(1, reply.usage.input_tokens),
                "output_tokens": 1 + len(reply.text.split()),
            },
        )


@contextlib.contextmanager
def environ(values: dict[str, str]) -> Iterator[None]:
    """``values`` in ``os.environ`` inside the block; the previous values restored after."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def test_a_529_storm_from_the_model_api_delays_the_run_but_not_its_result(tmp_path: Path) -> None:
    """The agent on the real ``anthropic`` SDK (configuration only) against the Messages API
    stub, on emulated Lambda: mid-run the API answers 529 ``overloaded`` to four requests in
    a row, more than one call's own retries absorb. The step is retried, the run completes with
    the same result as an undisturbed run on the same stub, every 529 was served, the failed
    call is counted in the run record's usage, and no invocation hit the timeout."""
    with AnthropicStub(HostedResearchModel()) as stub:
        hosted = {
            "RELAYKIT_MODEL": "anthropic:claude-sonnet-4-6",
            "ANTHROPIC_API_KEY": SENTINEL_KEY,
            "ANTHROPIC_BASE_URL": stub.url,
        }
        calm_store = f"sqlite:///{tmp_path / 'calm.db'}"
        module = load_example({"RELAYKIT_STORE": calm_store, **hosted})
        with environ(hosted):  # the SDK reads its base URL from the environment
            calm = asyncio.run(run_in_process(module, io_delay=0))
        assert stub.statuses and set(stub.statuses) == {200}

        store_url = f"sqlite:///{tmp_path / 'storm.db'}"
        observer = observe(store_url)
        emulator, env = start_emulator(store_url, 0.0, hosted)
        with emulator.running() as emu:
            env["AWS_ENDPOINT_URL_LAMBDA"] = emu.invoke_url
            run_id = start_run(emu.function_url(FUNCTION), 0.05)
            wait_until(observer, run_id, lambda v: len(v["steps"]) >= 6 or finished(v))
            overloaded = error(529, "overloaded_error", "Overloaded", retry_after="0.05")
            stub.push(*[overloaded] * 4)

            def sweep() -> None:  # the EventBridge schedule: resumes runs whose retry is due
                lambda_client(emu).invoke(
                    FunctionName=FUNCTION,
                    InvocationType="Event",
                    Payload=json.dumps({"relaykit": "sweep"}).encode(),
                )

            view = wait_until(observer, run_id, finished, poke=sweep)
            exit_codes = list(emu.pools[FUNCTION].exit_codes)
    assert view["status"] == "completed", json.dumps(view)[:2000]
    assert view["result"] == calm
    assert stub.statuses.count(529) == 4 and not stub.script
    assert view["usage"]["failed_calls"] >= 1, view["usage"]
    assert any(step["attempts"] >= 2 for step in view["steps"])
    assert -9 not in exit_codes, exit_codes


async def run_in_process(module: ModuleType, io_delay: float) -> dict[str, Any]:
    app: App = module.app
    run_id = await app.engine.start(
        "/research", input=module.Research(question=QUESTION, io_delay=io_delay)
    )
    for _ in range(1200):
        view = await app.engine.get(run_id)
        if view.status in ("completed", "failed"):
            break
        await asyncio.sleep(0.05)
    assert view.status == "completed", view.error
    result: dict[str, Any] = view.result
    return result

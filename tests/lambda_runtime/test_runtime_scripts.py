"""The shipped launch scripts, run by the local emulator as Lambda runs them.

``examples/lambda_runtime/bootstrap`` (custom runtime, provided.al2023) and
``examples/lambda_runtime/relaykit-wrapper`` (``AWS_LAMBDA_EXEC_WRAPPER`` on a managed Python
runtime) are each the worker command of an emulated function, with only the environment Lambda
sets (no inherited variables): ``_HANDLER`` from the function's handler, ``LAMBDA_TASK_ROOT``,
``AWS_LAMBDA_RUNTIME_API``, and a ``PATH`` whose first entry holds ``python3`` (the test's
interpreter standing in for ``/var/lang/bin`` or a layer's ``/opt/bin``).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from relaykit.local.emulator import Emulator, FunctionConfig
from support import ROOT

SCRIPTS = ROOT / "examples" / "lambda_runtime"
PYTHON_BIN = str(Path(sys.executable).parent)


def lambda_env(**extra: str) -> dict[str, str]:
    return {
        "PATH": f"{PYTHON_BIN}:/usr/local/bin:/usr/bin:/bin:/opt/bin",
        "LANG": "en_US.UTF-8",
        "RELAYKIT_LOCAL_MODEL_DELAY": "0",
        **extra,
    }


def function(name: str, command: list[str], env: dict[str, str]) -> FunctionConfig:
    return FunctionConfig(
        name=name,
        command=command,
        env=env,
        handler="quickstart:app",
        task_root=str(ROOT / "examples"),
        timeout=20,
        invoke_mode="RESPONSE_STREAM",
        inherit_env=False,
    )


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    wrapper = str(SCRIPTS / "relaykit-wrapper")
    functions = [
        function("bootstrap", [str(SCRIPTS / "bootstrap")], lambda_env()),
        function(
            "wrapper",
            # What a managed runtime passes to the wrapper (the interpreter and its own
            # bootstrap); the wrapper must ignore all of it. These paths do not exist here.
            [wrapper, "/var/lang/bin/python3.12", "/var/runtime/bootstrap.py"],
            lambda_env(AWS_LAMBDA_EXEC_WRAPPER=wrapper),
        ),
    ]
    with Emulator(functions).running() as running:
        yield running


@pytest.mark.parametrize("name", ["bootstrap", "wrapper"])
def test_script_serves_a_task_and_a_stream_through_the_function_url(
    emu: Emulator, name: str
) -> None:
    """The script starts relaykit's runtime on _HANDLER: a task answers, a stream streams."""
    url = emu.function_url(name)
    answer = httpx.post(f"{url}/ask", json={"question": "Why?"}, timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.json()["answer"] == "Local model reply to: Why?"
    chat = httpx.post(f"{url}/chat", json={"question": "Hi"}, timeout=30)
    assert chat.status_code == 200
    assert chat.headers["content-type"].startswith("text/event-stream")
    assert "event: end" in chat.text


@pytest.mark.parametrize("script", ["bootstrap", "relaykit-wrapper"])
def test_scripts_are_executable(script: str) -> None:
    path = SCRIPTS / script
    assert path.stat().st_mode & 0o111 == 0o111
    assert path.read_text().startswith("#!/bin/sh\n")

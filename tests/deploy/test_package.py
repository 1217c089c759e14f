"""``relaykit package`` on examples/quickstart.py: a lean zip that imports and serves events in a
clean virtual environment with only the zip on its path, under the local Lambda emulator.

Wheels are manylinux wheels for this machine's architecture and Python 3.11, so the result runs
here; the download folder is cached in ~/.cache/relaykit/wheels between runs.
"""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import stat
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from relaykit.local.emulator import Emulator, FunctionConfig
from support import ROOT

pytestmark = pytest.mark.slow
ARCH = {"x86_64": "x86_64", "aarch64": "arm64"}.get(platform.machine())
if ARCH is None or sys.version_info[:2] != (3, 11):
    pytest.skip(
        "the package test runs its zip here: needs Linux x86_64/aarch64 and Python 3.11",
        allow_module_level=True,
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path, str]]:
    """(zip, extracted read-only task root, clean interpreter)."""
    folder = tmp_path_factory.mktemp("package")
    out = folder / "quickstart.zip"
    result = subprocess.run(
        [
            *(sys.executable, "-m", "relaykit", "package", "examples/quickstart.py"),
            *("-o", str(out), "--python", "3.11", "--arch", str(ARCH)),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "MB zipped of Lambda's 50 MB" in result.stdout
    task = folder / "task"
    with zipfile.ZipFile(out) as archive:
        archive.extractall(task)
    (task / "relaykit-wrapper").chmod(0o755)  # zipfile does not restore modes
    clean = folder / "clean"
    base = Path(sys.base_prefix) / "bin" / "python3.11"
    subprocess.run([str(base), "-m", "venv", "--without-pip", str(clean)], check=True)
    for path in [task, *task.rglob("*")]:  # /var/task is read-only on Lambda
        path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    yield out, task, str(clean / "bin" / "python")
    for path in [task, *task.rglob("*")]:
        path.chmod(path.stat().st_mode | stat.S_IWUSR)


def test_zip_is_lean_and_compiled_for_the_target(built: tuple[Path, Path, str]) -> None:
    """No boto3, no Mangum (relaykit translates HTTP events itself), tests, caches of other
    versions or install records; every module has an unchecked-hash .pyc of Python 3.11; the
    wrapper is executable in the zip."""
    out, _, _ = built
    with zipfile.ZipFile(out) as archive:
        names = archive.namelist()
        wrapper = archive.getinfo("relaykit-wrapper")
        assert (wrapper.external_attr >> 16) & 0o111
        magic = importlib.util.MAGIC_NUMBER
        pyc = archive.read("relaykit/__pycache__/app.cpython-311.pyc")
        assert pyc[:4] == magic and int.from_bytes(pyc[4:8], "little") == 0b01
    tops = {name.split("/")[0] for name in names}
    assert not tops & {"boto3", "botocore", "s3transfer", "h11", "uvicorn", "anthropic", "mangum"}
    assert {"quickstart.py", "relaykit_handler.py", "relaykit", "fastapi"} <= tops
    assert not [n for n in names if "/tests/" in n or n.endswith(("/RECORD", ".pyi"))]
    assert not [n for n in names if n.startswith("relaykit/local/")]
    sources = [n for n in names if n.endswith(".py") and n.startswith(("relaykit/", "pydantic/"))]
    for source in sources:
        folder, _, file = source.rpartition("/")
        assert f"{folder}/__pycache__/{file[:-3]}.cpython-311.pyc" in names, source
    assert out.stat().st_size < 0.5 * 50 * 1024 * 1024


def test_managed_runtime_handler_serves_an_event_in_a_clean_venv(
    built: tuple[Path, Path, str],
) -> None:
    """relaykit_handler.handler answers a Function URL event with only the zip on sys.path."""
    _, task, python = built
    event = json.loads((ROOT / "tests" / "events" / "function_url.json").read_text())
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/ask"
    script = (
        "import json, sys; sys.path.insert(0, sys.argv[1])\n"
        "import relaykit_handler\n"
        "class Ctx:\n"
        "    aws_request_id = 'r-1'; function_name = 'ask'; memory_limit_in_mb = 512\n"
        "    invoked_function_arn = 'arn:aws:lambda:us-east-1:123456789012:function:ask'\n"
        "    def get_remaining_time_in_millis(self): return 30000\n"
        "print(json.dumps(relaykit_handler.handler(json.loads(sys.argv[2]), Ctx())))\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore')))\n"
    )
    result = subprocess.run(
        [python, "-I", "-B", "-c", script, str(task), json.dumps(event)],
        cwd=task,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env={"RELAYKIT_LOG_LEVEL": "ERROR", "RELAYKIT_METRICS": "false"},
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    response = json.loads(lines[-2])
    assert response["statusCode"] == 200, response
    assert json.loads(response["body"])["answer"] == "Local model reply to: how?"


def test_exec_wrapper_streams_through_a_function_url_under_the_emulator(
    built: tuple[Path, Path, str],
) -> None:
    """The shipped relaykit-wrapper runs relaykit's runtime from the zip (clean interpreter,
    no inherited environment) and streams /chat through a RESPONSE_STREAM Function URL."""
    _, task, python = built
    config = FunctionConfig(
        name="chat",
        command=[str(task / "relaykit-wrapper"), python, "/var/runtime/bootstrap.py"],
        env={"LAMBDA_PYTHON": python, "PYTHONDONTWRITEBYTECODE": "1", "LANG": "C.UTF-8"},
        handler="quickstart:app",
        task_root=str(task),
        invoke_mode="RESPONSE_STREAM",
        timeout=30,
        inherit_env=False,
    )
    with Emulator([config]).running() as emu:
        response = httpx.post(
            f"{emu.function_url('chat')}/chat", json={"question": "hi there"}, timeout=60
        )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    assert "data: " in response.text and "event: end" in response.text


def test_other_python_without_its_interpreter_fails_clearly(tmp_path: Path) -> None:
    """--python 3.9 with no python3.9 to compile with is refused, naming the fix."""
    result = subprocess.run(
        [
            *(sys.executable, "-m", "relaykit", "package", "examples/quickstart.py"),
            *("-o", str(tmp_path / "x.zip"), "--python", "3.9", "--interpreter", sys.executable),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env={**os.environ},
    )
    assert result.returncode == 2
    assert "needs a Python 3.9 interpreter" in result.stderr and "--interpreter" in result.stderr

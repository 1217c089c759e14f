"""examples/from_lwa/ does what the Lambda Web Adapter guide in docs/fastapi.md says: the
unchanged FastAPI app, started by the image's own entry point script, is served by relaykit's
Lambda runtime under the local emulator and streams through a RESPONSE_STREAM Function URL; the
same script serves it with uvicorn where no Lambda Runtime API is set; the Dockerfile lints."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from relaykit.local.emulator import Emulator, FunctionConfig
from relaykit.local.emulator.url_event import HttpRequest, UrlIdentity, build_event
from support import ROOT, free_port, wait_for_text

EXAMPLE = ROOT / "examples" / "from_lwa"
ENTRYPOINT = EXAMPLE / "entrypoint.sh"
# `python` on PATH is this interpreter, as it is the image's interpreter in the container.
PATH = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
WORDS = ["Once", "upon", "a", "time", "a", "otter", "learned", "to", "stream"]
EVENTS = [f"data: {json.dumps({'token': word})}\n\n" for word in WORDS] + ["data: [DONE]\n\n"]


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    function = FunctionConfig(
        name="storyteller",
        command=["sh", str(ENTRYPOINT)],
        env={"PATH": PATH, "RELAYKIT_METRICS": "false"},
        handler="main:api",
        task_root=str(EXAMPLE),
        invoke_mode="RESPONSE_STREAM",
        timeout=20,
    )
    with Emulator([function]).running() as running:
        yield running


def test_function_url_streams_the_story_event_by_event(emu: Emulator) -> None:
    """Through the RESPONSE_STREAM Function URL the app's StreamingResponse arrives as
    text/event-stream with every token event in order; the JSON route answers too."""
    url = emu.function_url("storyteller")
    with httpx.stream("POST", f"{url}/story", json={"topic": "otter"}, timeout=30) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert "".join(response.iter_text()) == "".join(EVENTS)
    title = httpx.post(f"{url}/title", json={"topic": "otter"}, timeout=30)
    assert title.json() == {"topic": "otter", "title": "The Otter Who Streamed"}
    assert httpx.post(f"{url}/story", json={"topic": ""}, timeout=30).status_code == 422


def test_runtime_sends_each_event_as_its_own_chunk(emu: Emulator) -> None:
    """The Function URL event the front builds, invoked directly: the runtime answers in
    streaming mode with the prelude first, then one HTTP chunk per event the app yielded
    (nothing buffered, nothing coalesced), as the Runtime API received them."""
    request = HttpRequest(
        "POST", "/story", "", [("content-type", "application/json")], b'{"topic": "otter"}'
    )
    event = build_event(request, UrlIdentity(), "req-story")

    async def invoke() -> tuple[list[bytes], str, dict[str, object] | None]:
        invocation = emu.start_invocation("storyteller", json.dumps(event).encode())
        parts = [part async for part in invocation.stream()]
        result = await invocation.result()
        return parts, result.response_mode, result.prelude

    parts, mode, prelude = emu.call(invoke())
    assert mode == "streaming"
    assert prelude is not None and prelude["statusCode"] == 200
    head, body = parts[0], parts[1:]
    assert head.endswith(b"\x00" * 8)
    assert json.loads(head[:-8])["headers"]["content-type"].startswith("text/event-stream")
    assert [chunk.decode() for chunk in body] == EVENTS


def test_entrypoint_runs_uvicorn_outside_lambda(tmp_path: Path) -> None:
    """Without AWS_LAMBDA_RUNTIME_API the same entry point serves the app with uvicorn (the
    image's ECS / docker run path), streaming the same events."""
    port = free_port()
    log = tmp_path / "uvicorn.log"
    env = {k: v for k, v in os.environ.items() if k != "AWS_LAMBDA_RUNTIME_API"}
    env.update(PATH=PATH, HOST="127.0.0.1", PORT=str(port))
    with log.open("wb") as out:
        process = subprocess.Popen(
            ["sh", str(ENTRYPOINT)], stdout=out, stderr=subprocess.STDOUT, env=env, cwd=tmp_path
        )
    try:
        assert wait_for_text(log.read_text, "Application startup complete", 30), log.read_text()
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
        story = httpx.post(f"{base}/story", json={"topic": "otter"}, timeout=30)
        assert story.text == "".join(EVENTS)
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_dockerfile_passes_hadolint() -> None:
    """The example image's Dockerfile lints clean (no Docker engine runs here)."""
    hadolint = Path(sys.executable).parent / "hadolint"
    result = subprocess.run(
        [str(hadolint), "--no-color", str(EXAMPLE / "Dockerfile")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr

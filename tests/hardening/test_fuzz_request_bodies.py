"""Fuzzing request bodies for every route of the example apps, through the container target:
whatever the body, the answer is a handler result or a 400/413/422 naming what was wrong, never
a 500, and never a traceback."""

from __future__ import annotations

import asyncio
import dataclasses
import importlib.util
import json
import os
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150"))
ROOT = Path(__file__).resolve().parent.parent.parent


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"fuzz_{name}", ROOT / "examples" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


QUICKSTART = load("quickstart").app
QUICKSTART.settings = dataclasses.replace(
    QUICKSTART.settings, local_model_delay=0.0, max_body_bytes=4096
)
API = QUICKSTART.asgi()
PATHS = [spec.path for spec in QUICKSTART.handlers]

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
BODIES = st.one_of(
    JSON.map(lambda value: json.dumps(value).encode()),
    st.binary(max_size=200),
    st.just(b"[" * 50_000 + b"]" * 50_000),
    st.just(b'{"question": "' + b"x" * 5000 + b'"}'),
    st.fixed_dictionaries({"question": st.text(max_size=50)}).map(lambda v: json.dumps(v).encode()),
)


async def post(path: str, body: bytes) -> httpx.Response:
    transport = httpx.ASGITransport(app=API)
    async with httpx.AsyncClient(transport=transport, base_url="http://fuzz") as client:
        return await client.post(path, content=body, headers={"content-type": "application/json"})


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(PATHS), body=BODIES)
def test_any_body_gets_a_result_or_a_named_client_error(path: str, body: bytes) -> None:
    """Every route answers any body with 200 or a 4xx whose message names the problem."""
    response = asyncio.run(post(path, body))
    assert response.status_code in (200, 400, 413, 422), (response.status_code, response.text)
    assert "Traceback" not in response.text
    if response.status_code != 200:
        error: dict[str, Any] = response.json()["error"]
        assert error["message"] and error["type"] in (
            "bad_request",
            "payload_too_large",
            "validation_error",
        )

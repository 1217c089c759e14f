"""Cold start as a feature: importing relaykit and registering handlers loads nothing heavy."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

HEAVY = (
    "fastapi",
    "starlette",
    "uvicorn",
    "boto3",
    "botocore",
    "anthropic",
    "mangum",
    "aws_lambda_powertools",
    "pydantic",
    "httpx",
    "aws_xray_sdk",
)


def modules_after(code: str) -> set[str]:
    script = f"{code}\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    return set(json.loads(result.stdout.splitlines()[-1]))


def heavy_in(modules: set[str]) -> list[str]:
    return sorted(name for name in modules if name.split(".")[0] in HEAVY)


def test_import_relaykit_loads_only_the_standard_library() -> None:
    """`import relaykit` in a fresh process loads none of the heavy packages."""
    assert heavy_in(modules_after("import relaykit")) == []


def test_building_an_app_and_registering_handlers_stays_light() -> None:
    """Building an App and registering plain-typed handlers imports no web or SDK package."""
    code = """
import relaykit
app = relaykit.App("light", settings={"store": "memory://"})
@app.task("/t")
async def t(body: dict, ctx: relaykit.Context) -> dict:
    return body
@app.stream("/s")
async def s(ctx: relaykit.Context):
    yield "x"
"""
    assert heavy_in(modules_after(code)) == []


def test_import_relaykit_loads_none_of_its_modules() -> None:
    """The package's names load on first use (PEP 562), not with the package."""
    loaded = modules_after("import relaykit")
    assert sorted(name for name in loaded if name.startswith("relaykit.")) == []


def test_asgi_lambda_handler_leaves_the_app_layer_unloaded() -> None:
    """`from relaykit import asgi_lambda_handler` and building the handler for a plain ASGI app
    load the lean path only: no App, Context, model, dispatch, auth, handler registry, event
    sources or Mangum (relaykit.settings is loaded: it is the one source of the settings)."""
    code = """
from relaykit import asgi_lambda_handler

async def asgi(scope, receive, send):
    pass

handler = asgi_lambda_handler(asgi)
"""
    loaded = modules_after(code)
    app_layer = (
        "relaykit.app",
        "relaykit.context",
        "relaykit.model",
        "relaykit.dispatch",
        "relaykit.auth",
        "relaykit.handlers",
        "relaykit.sources",
        "relaykit.invocation",
        "relaykit.targets.lambda_handler",
    )
    assert sorted(name for name in app_layer if name in loaded) == []
    assert heavy_in(loaded) == []


def test_settings_behave_as_the_frozen_dataclass_they_are_typed_as() -> None:
    """``Settings`` is built without dataclass's per-class code generation (import cost), yet
    its instances construct, compare, hash, print and ``replace`` as ``@dataclass(frozen=True)``
    instances do."""
    import dataclasses

    from relaykit.settings import Settings, frozen_record

    @frozen_record(frozen=True)
    class Doc:
        name: str
        kind: type
        doc: str

    twin = dataclasses.make_dataclass(
        "Settings",
        [(f.name, f.type, f) for f in dataclasses.fields(Settings)],
        frozen=True,
    )
    ours, theirs = Settings(store="memory://"), twin(store="memory://")
    assert repr(ours) == repr(theirs)
    assert "store_encryption=" not in repr(ours)  # repr=False fields stay hidden
    assert ours == Settings(store="memory://") and ours != Settings()
    assert ours != theirs and Settings().__eq__(object()) is NotImplemented
    assert hash(ours) == hash(Settings(store="memory://"))
    assert dataclasses.replace(ours, model="local:x").model == "local:x"
    assert Settings().sources == {} and Settings().sources is not Settings().sources
    with pytest.raises(dataclasses.FrozenInstanceError):
        ours.store = "x"  # type: ignore[misc]
    typo: dict[str, Any] = {"stroe": "x"}
    with pytest.raises(TypeError, match="unexpected keyword argument 'stroe'"):
        Settings(**typo)
    with pytest.raises(TypeError, match="missing 1 required argument: 'doc'"):
        Doc("name", str)  # type: ignore[call-arg]
    assert Doc("n", str, "d") == Doc(name="n", kind=str, doc="d")
    with pytest.raises(TypeError, match="multiple values for argument 'name'"):
        Doc("n", str, "d", name="m")  # type: ignore[misc]


def test_a_pyproject_without_tool_relaykit_is_not_parsed(tmp_path: Path) -> None:
    """Settings look for [tool.relaykit] in the nearest pyproject.toml; one that cannot hold it
    is not parsed, so tomllib is not imported (a cold-start cost); one that can is read."""
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "relaykit-user"\n[project.scripts]\nrelaykit = "relaykit.cli:main"\n'
        "[tool.ruff]\nline-length = 100\n"
    )
    code = f"""
from pathlib import Path
from relaykit.settings import load_settings
settings = load_settings(app_name="a", environ={{}}, config_dir=Path({str(tmp_path)!r}))
assert settings.service == "a", settings.service
"""
    assert "tomllib" not in modules_after(code)
    (tmp_path / "pyproject.toml").write_text('[tool . "relaykit"]\nservice = "from-pyproject"\n')
    code = code.replace('== "a", settings.service', '== "from-pyproject", settings.service')
    assert "tomllib" in modules_after(code)

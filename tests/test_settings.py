"""Settings: sources and their priority, and errors that name the key and what is accepted."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from relaykit import App, ConfigError
from relaykit.settings import FIELDS, Settings, load_settings


def test_defaults_are_the_embedded_ones(tmp_path: Path) -> None:
    """With no configuration: SQLite store, local model, auto target, 6 MiB body limit."""
    settings = load_settings(app_name="demo", environ={}, config_dir=tmp_path)
    assert settings.store == "sqlite:///.relaykit/relaykit.db"
    assert settings.model == "local"
    assert settings.target == "auto"
    assert settings.max_body_bytes == 6 * 1024 * 1024
    assert settings.service == "demo"
    assert settings.sources["store"] == "default"


def test_priority_env_over_relaykit_toml_over_pyproject(tmp_path: Path) -> None:
    """RELAYKIT_* beats relaykit.toml, which beats [tool.relaykit] in pyproject.toml."""
    (tmp_path / "pyproject.toml").write_text(
        '[tool.relaykit]\nlog_level = "debug"\nstore = "memory://"\nservice = "from-pyproject"\n'
    )
    (tmp_path / "relaykit.toml").write_text('store = "sqlite:///x.db"\nservice = "from-toml"\n')
    settings = load_settings(
        app_name="demo", environ={"RELAYKIT_SERVICE": "from-env"}, config_dir=tmp_path
    )
    assert settings.service == "from-env"
    assert settings.store == "sqlite:///x.db"
    assert settings.log_level == "DEBUG"
    assert settings.sources["store"].endswith("relaykit.toml")
    assert settings.sources["service"] == "environment (RELAYKIT_*)"


def test_files_are_found_in_parent_folders(tmp_path: Path) -> None:
    """An app in a sub-folder picks up the project's relaykit.toml above it."""
    (tmp_path / "relaykit.toml").write_text("max_body_bytes = 1024\n")
    nested = tmp_path / "src" / "app"
    nested.mkdir(parents=True)
    assert load_settings(app_name="a", environ={}, config_dir=nested).max_body_bytes == 1024


def test_a_relative_config_dir_is_searched_up_to_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A relative folder is searched as ``Path.parents`` goes: its parents, then the working
    folder, and no higher."""
    (tmp_path / "relaykit.toml").write_text("max_body_bytes = 2048\n")
    (tmp_path / "work" / "src" / "app").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "work")
    relative = Path("src/app")
    assert load_settings(app_name="a", environ={}, config_dir=relative).max_body_bytes != 2048
    (tmp_path / "work" / "relaykit.toml").write_text("max_body_bytes = 1024\n")
    settings = load_settings(app_name="a", environ={}, config_dir=relative)
    assert settings.max_body_bytes == 1024
    assert settings.sources["max_body_bytes"] == "relaykit.toml"


def test_app_overrides_beat_everything(tmp_path: Path) -> None:
    """App(settings=...) wins over the environment."""
    app = App("demo", settings={"log_level": "error"}, config_dir=tmp_path)
    assert app.settings.log_level == "ERROR"


@pytest.mark.parametrize(
    ("environ", "key", "accepted"),
    [
        ({"RELAYKIT_TARGET": "kubernetes"}, "RELAYKIT_TARGET", "auto, container, lambda"),
        ({"RELAYKIT_STORE": "postgres://db"}, "RELAYKIT_STORE", "sqlite:///PATH"),
        ({"RELAYKIT_MODEL": "openai:gpt"}, "RELAYKIT_MODEL", "local"),
        ({"RELAYKIT_MAX_BODY_BYTES": "-5"}, "RELAYKIT_MAX_BODY_BYTES", "a whole number above 0"),
        ({"RELAYKIT_LOCAL_MODEL_DELAY": "soon"}, "RELAYKIT_LOCAL_MODEL_DELAY", "0 or more"),
        ({"RELAYKIT_COLOUR": "blue"}, "RELAYKIT_COLOUR", "target, store, model"),
    ],
)
def test_bad_values_and_unknown_keys_name_the_key(
    tmp_path: Path, environ: dict[str, str], key: str, accepted: str
) -> None:
    """Every bad setting names the key, the source and the accepted values."""
    with pytest.raises(ConfigError) as caught:
        load_settings(app_name="demo", environ=environ, config_dir=tmp_path)
    message = str(caught.value)
    assert key in message and accepted in message


def test_unknown_key_in_file_names_the_file(tmp_path: Path) -> None:
    """An unknown key in relaykit.toml is an error naming the file."""
    (tmp_path / "relaykit.toml").write_text('modle = "local"\n')
    with pytest.raises(ConfigError, match=r"relaykit.toml"):
        load_settings(app_name="demo", environ={}, config_dir=tmp_path)


def test_invalid_toml_is_reported(tmp_path: Path) -> None:
    """A file that is not TOML is an error naming the file, not a parser traceback."""
    (tmp_path / "relaykit.toml").write_text("store = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(app_name="demo", environ={}, config_dir=tmp_path)


def test_target_detection(tmp_path: Path) -> None:
    """auto means lambda when the Lambda environment variables are present, else container."""
    settings = load_settings(app_name="demo", environ={}, config_dir=tmp_path)
    assert settings.resolved_target({}) == "container"
    assert settings.resolved_target({"AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001"}) == "lambda"
    forced = load_settings(
        app_name="demo", environ={"RELAYKIT_TARGET": "container"}, config_dir=tmp_path
    )
    assert forced.resolved_target({"AWS_LAMBDA_FUNCTION_NAME": "f"}) == "container"


def test_every_setting_is_documented() -> None:
    """docs/settings.md has a section for every key, with its environment variable."""
    text = (Path(__file__).parent.parent / "docs" / "settings.md").read_text()
    for field in FIELDS:
        assert f"`{field.name}`" in text, field.name
        assert f"RELAYKIT_{field.name.upper()}" in text, field.name


def test_fields_document_the_settings_defaults() -> None:
    """``FIELDS`` (the docs) and ``Settings`` (the values) declare the same keys with the same
    defaults: unset keys take ``Settings``' own, but ``model`` and ``service``, derived."""
    record = {spec.name: spec for spec in dataclasses.fields(Settings) if spec.name != "sources"}
    assert set(record) == {field.name for field in FIELDS}
    for field in FIELDS:
        expected = None if field.name in ("model", "service") else record[field.name].default
        assert field.default == expected, field.name


def test_every_key_gets_a_source(tmp_path: Path) -> None:
    """``sources`` names where every key came from: the source that set it, else default."""
    settings = load_settings(app_name="a", environ={"RELAYKIT_METRICS": "0"}, config_dir=tmp_path)
    assert set(settings.sources) == {field.name for field in FIELDS}
    assert settings.sources["metrics"] == "environment (RELAYKIT_*)"
    assert settings.sources["model"] == settings.sources["service"] == "default"
    assert settings.metrics is False


def test_settings_read_with_no_key_set_build_no_parser(tmp_path: Path) -> None:
    """Cold start: reading settings that no source sets builds neither ``FIELDS`` (each key's
    parser) nor ``Settings``' dataclass fields; a key that is set builds them on first use."""
    code = f"""
from pathlib import Path
import relaykit.settings as settings
loaded = settings.load_settings(app_name="a", environ={{}}, config_dir=Path({str(tmp_path)!r}))
assert loaded.service == "a" and loaded.sources["metrics"] == "default", loaded
assert "FIELDS" not in vars(settings) and "FIELDS_BY_NAME" not in vars(settings)
assert not isinstance(vars(settings.Settings)["__dataclass_fields__"], dict)
environ = {{"RELAYKIT_METRICS": "false"}}
assert settings.load_settings(app_name="a", environ=environ).metrics is False
assert settings.FIELDS_BY_NAME["metrics"] in settings.FIELDS
"""
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)

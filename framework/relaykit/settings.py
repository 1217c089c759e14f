"""Settings: read when an ``App`` is built, never at import.

Sources, highest priority first: values passed to ``App(settings=...)``, ``RELAYKIT_*``
environment variables, ``relaykit.toml`` next to the app (or in a parent folder),
``[tool.relaykit]`` in the nearest ``pyproject.toml``, then the embedded defaults.
Every key is declared once in ``FIELDS``; ``docs/settings.md`` documents each of them and a test
keeps the two in step. An unknown key or a bad value raises ``ConfigError`` naming the key,
the source and what is accepted.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from relaykit.errors import ConfigError

ENV_PREFIX = "RELAYKIT_"
TARGETS = ("auto", "container", "lambda")
STORE_SCHEMES = ("sqlite", "dynamodb", "memory")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
LOG_FORMATS = ("json", "text")
# Model providers by name; a provider's module is imported only when a model is first used.
MODEL_PROVIDERS: dict[str, str] = {"local": "relaykit.llm.local:LocalModel"}


def _parse_choice(choices: tuple[str, ...], *, upper: bool = False) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        text = str(value).strip()
        text = text.upper() if upper else text.lower()
        if text not in choices:
            raise ValueError(f"got {value!r}", ", ".join(choices))
        return text

    return parse


def _parse_store(value: Any) -> str:
    text = str(value).strip()
    scheme, sep, _ = text.partition("://")
    if not sep or scheme not in STORE_SCHEMES:
        raise ValueError(
            f"got {value!r}",
            "sqlite:///PATH, dynamodb://TABLE[?bucket=NAME], memory://",
        )
    return text


def _parse_model(value: Any) -> str:
    text = str(value).strip()
    provider, _, model_id = text.partition(":")
    if provider not in MODEL_PROVIDERS:
        accepted = ", ".join(f"{name}[:MODEL_ID]" for name in MODEL_PROVIDERS)
        raise ValueError(f"unknown provider {provider!r} in {value!r}", accepted)
    if provider != "local" and not model_id:
        raise ValueError(f"{value!r} names no model id", f"{provider}:MODEL_ID")
    return text


def _parse_positive_int(value: Any) -> int:
    try:
        number = int(str(value).replace("_", "")) if not isinstance(value, int) else value
    except ValueError:
        raise ValueError(f"got {value!r}", "a whole number above 0") from None
    if isinstance(number, bool) or number <= 0:
        raise ValueError(f"got {value!r}", "a whole number above 0")
    return number


def _parse_non_negative_float(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"got {value!r}", "a number of seconds, 0 or more") from None
    if isinstance(value, bool) or not number >= 0 or number == float("inf"):
        raise ValueError(f"got {value!r}", "a number of seconds, 0 or more")
    return number


def _parse_service(value: Any) -> str:
    text = str(value).strip()
    if not text:
        raise ValueError("got an empty name", "a non-empty service name")
    return text


@dataclass(frozen=True)
class Field:
    """One setting: its parser, default and the sentence the docs show for it."""

    name: str
    parse: Callable[[Any], Any]
    default: Any
    doc: str


FIELDS: tuple[Field, ...] = (
    Field(
        "target",
        _parse_choice(TARGETS),
        "auto",
        "Where the app runs: `auto` detects Lambda from `AWS_LAMBDA_RUNTIME_API` or "
        "`AWS_LAMBDA_FUNCTION_NAME`, else `container`.",
    ),
    Field(
        "store",
        _parse_store,
        "sqlite:///.relaykit/relaykit.db",
        "Where durable state lives: `sqlite:///PATH` (embedded default), "
        "`dynamodb://TABLE?bucket=NAME`, or `memory://` for tests.",
    ),
    Field(
        "model",
        _parse_model,
        None,
        "The model behind `ctx.llm`, as `provider[:model-id]`. Default: `local`, the offline "
        "deterministic model, when no provider key is set.",
    ),
    Field(
        "max_body_bytes",
        _parse_positive_int,
        6 * 1024 * 1024,
        "Largest request body accepted, in bytes; larger bodies get a 413. Default 6 MiB, "
        "Lambda's synchronous payload limit.",
    ),
    Field(
        "log_level",
        _parse_choice(LOG_LEVELS, upper=True),
        "INFO",
        "Lowest level of the structured log: DEBUG, INFO, WARNING or ERROR.",
    ),
    Field(
        "log_format",
        _parse_choice(LOG_FORMATS),
        "json",
        "`json` (one object per line, the same keys on Lambda and in containers) or `text`.",
    ),
    Field(
        "local_model_delay",
        _parse_non_negative_float,
        0.05,
        "Seconds the local model waits between streamed words (0 streams at once).",
    ),
    Field(
        "service",
        _parse_service,
        None,
        "The service name in logs and metrics. Default: the app's name.",
    ),
)
FIELDS_BY_NAME = {f.name: f for f in FIELDS}


@dataclass(frozen=True)
class Settings:
    """The resolved settings of one app. ``sources`` says where each value came from."""

    target: str = "auto"
    store: str = "sqlite:///.relaykit/relaykit.db"
    model: str = "local"
    max_body_bytes: int = 6 * 1024 * 1024
    log_level: str = "INFO"
    log_format: str = "json"
    local_model_delay: float = 0.05
    service: str = "relaykit"
    sources: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    def resolved_target(self, environ: Mapping[str, str] | None = None) -> str:
        """``container`` or ``lambda``: the configured target, or the detected one for ``auto``."""
        if self.target != "auto":
            return self.target
        env = os.environ if environ is None else environ
        on_lambda = "AWS_LAMBDA_RUNTIME_API" in env or "AWS_LAMBDA_FUNCTION_NAME" in env
        return "lambda" if on_lambda else "container"


def _find_upwards(start: Path, filename: str) -> Path | None:
    for folder in (start, *start.parents):
        candidate = folder / filename
        if candidate.is_file():
            return candidate
    return None


def _read_toml(path: Path, table: tuple[str, ...]) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            data: Any = tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), f"is not valid TOML: {exc}") from None
    for key in table:
        data = data.get(key, {}) if isinstance(data, dict) else {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}:{'.'.join(table)}", "must be a table")
    return data


def _file_layers(config_dir: Path) -> list[tuple[str, dict[str, Any]]]:
    layers: list[tuple[str, dict[str, Any]]] = []
    pyproject = _find_upwards(config_dir, "pyproject.toml")
    if pyproject is not None:
        layers.append((f"{pyproject} [tool.relaykit]", _read_toml(pyproject, ("tool", "relaykit"))))
    own = _find_upwards(config_dir, "relaykit.toml")
    if own is not None:
        layers.append((str(own), _read_toml(own, ())))
    return layers


def _env_layer(environ: Mapping[str, str]) -> dict[str, Any]:
    return {
        key[len(ENV_PREFIX) :].lower(): value
        for key, value in environ.items()
        if key.startswith(ENV_PREFIX)
    }


def load_settings(
    *,
    app_name: str,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    config_dir: Path | None = None,
) -> Settings:
    """Merge every source (lowest priority first) and validate each key."""
    env = os.environ if environ is None else environ
    layers = _file_layers(config_dir or Path.cwd())
    layers.append(("environment (RELAYKIT_*)", _env_layer(env)))
    if overrides:
        layers.append(("App(settings=...)", dict(overrides)))

    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for source, layer in layers:
        for key, raw in layer.items():
            spec = FIELDS_BY_NAME.get(key)
            shown = f"{ENV_PREFIX}{key.upper()}" if source.startswith("environment") else key
            if spec is None:
                known = ", ".join(FIELDS_BY_NAME)
                raise ConfigError(shown, f"unknown key in {source}", known)
            try:
                values[key] = spec.parse(raw)
            except ValueError as exc:
                problem, accepted = exc.args if len(exc.args) == 2 else (str(exc), None)
                raise ConfigError(shown, f"{problem} (from {source})", accepted) from None
            sources[key] = source

    for spec in FIELDS:
        if spec.name not in values:
            values[spec.name] = spec.default
            sources[spec.name] = "default"
    if values["model"] is None:
        values["model"] = default_model(env)
    if values["service"] is None:
        values["service"] = app_name
    return Settings(**values, sources=sources)


def default_model(environ: Mapping[str, str]) -> str:
    """The local model unless a provider key is set and that provider is available."""
    if environ.get("ANTHROPIC_API_KEY") and "anthropic" in MODEL_PROVIDERS:
        return "anthropic:claude-sonnet-4-5"
    return "local"

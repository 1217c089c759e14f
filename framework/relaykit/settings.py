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
import sys
from collections.abc import Callable, Mapping
from dataclasses import MISSING, FrozenInstanceError, field
from dataclasses import Field as DataclassField
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from dataclasses import dataclass as frozen_record

    from relaykit.placement import PlacementTable
    from relaykit.settings_fields import Field

if TYPE_CHECKING:
    C = TypeVar("C", bound=type)

if not TYPE_CHECKING:

    def frozen_record(*, frozen: bool) -> Callable[[C], C]:
        """``@dataclass(frozen=True)`` at a fraction of its import cost (type checkers see the
        real decorator). ``dataclass`` compiles an ``__init__``, ``__repr__``, ``__eq__``,
        ``__hash__``, ``__setattr__`` and ``__delattr__`` for each class, about 3.5 ms for
        ``Settings``' 60-odd fields on every cold start; here one generic function of each does
        the same work, and the ``dataclasses.Field`` of each attribute is made only when asked
        for (``dataclasses.fields``, ``replace``). Instances behave as the dataclass's: keyword or
        positional construction with the same defaults and ``TypeError``s, ``repr`` without
        ``repr=False`` fields, equality and hashing over the compared fields, immutability."""
        assert frozen

        def build(cls: C) -> C:
            declared = _declared(cls)
            order = tuple(declared)
            names = frozenset(order)
            defaults: dict[str, Any] = {}
            factories: dict[str, Callable[[], Any]] = {}
            shown: list[str] = []  # in repr
            compared: list[str] = []  # in ==, hash
            required: list[str] = []  # no default
            for name, value in declared.items():
                spec = value if isinstance(value, DataclassField) else None
                default = value if spec is None else spec.default
                if spec is not None and spec.default_factory is not MISSING:
                    factories[name] = spec.default_factory
                elif default is not MISSING:
                    defaults[name] = default
                else:
                    required.append(name)
                if spec is None or spec.repr:
                    shown.append(name)
                if spec is None or spec.compare:
                    compared.append(name)

            def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
                if args:
                    if len(args) > len(order):
                        raise TypeError(
                            f"__init__() takes {len(order) + 1} positional arguments but "
                            f"{len(args) + 1} were given"
                        )
                    for name, value in zip(order, args, strict=False):
                        if name in kwargs:
                            raise TypeError(f"__init__() got multiple values for argument {name!r}")
                        kwargs[name] = value
                if kwargs.keys() != names:
                    kwargs = _filled(kwargs)
                self.__dict__.update(kwargs)  # what object.__setattr__ would do, field by field

            def _filled(given: dict[str, Any]) -> dict[str, Any]:
                for name in given:
                    if name not in names:
                        raise TypeError(f"__init__() got an unexpected keyword argument {name!r}")
                filled = {**defaults, **given}
                for name, factory in factories.items():
                    if name not in filled:
                        filled[name] = factory()
                for name in required:
                    if name not in filled:
                        raise TypeError(f"__init__() missing 1 required argument: {name!r}")
                return filled

            def __repr__(self: Any) -> str:
                shown_values = ", ".join(f"{name}={getattr(self, name)!r}" for name in shown)
                return f"{type(self).__qualname__}({shown_values})"

            def __eq__(self: Any, other: object) -> bool:
                if other.__class__ is not self.__class__:
                    return NotImplemented
                return _values(self, compared) == _values(other, compared)

            def __hash__(self: Any) -> int:
                return hash(_values(self, compared))

            def __setattr__(self: Any, name: str, value: Any) -> None:
                if type(self) is cls or name in names:
                    raise FrozenInstanceError(f"cannot assign to field {name!r}")
                super(cls, self).__setattr__(name, value)

            def __delattr__(self: Any, name: str) -> None:
                if type(self) is cls or name in names:
                    raise FrozenInstanceError(f"cannot delete field {name!r}")
                super(cls, self).__delattr__(name)

            for method in (__init__, __repr__, __eq__, __hash__, __setattr__, __delattr__):
                method.__qualname__ = f"{cls.__qualname__}.{method.__name__}"
                setattr(cls, method.__name__, method)
            cls.__dataclass_fields__ = _DataclassFields(cls, declared)
            return cls

        return build

    def _values(record: Any, names: tuple[str, ...]) -> tuple[Any, ...]:
        return tuple(getattr(record, name) for name in names)

    def _declared(cls: type) -> dict[str, Any]:
        """Each annotated attribute of ``cls`` and what the class body gave it: its default, a
        ``dataclasses.field(...)``, or ``MISSING``. A ``field(...)`` is replaced on the class by
        its default (or removed), as ``dataclass`` does."""
        declared: dict[str, Any] = {}
        for name in cls.__dict__.get("__annotations__", {}):  # noqa: RUF063
            value = declared[name] = cls.__dict__.get(name, MISSING)
            if isinstance(value, DataclassField):
                if value.default is MISSING:
                    delattr(cls, name)
                else:
                    setattr(cls, name, value.default)
        return declared

    class _DataclassFields:
        """``cls.__dataclass_fields__``, made on first use: the ``dataclasses.Field`` of each
        annotated attribute, as ``dataclass`` would make them (so ``dataclasses.fields`` and
        ``replace`` work), without its per-field parsing of string annotations."""

        def __init__(self, cls: type, declared: dict[str, Any]) -> None:
            self.cls, self.declared = cls, declared

        def __get__(self, record: Any, owner: type | None = None) -> dict[str, DataclassField[Any]]:
            import dataclasses

            marker = dataclasses._FIELD  # what fields() keeps
            annotations = self.cls.__dict__["__annotations__"]  # noqa: RUF063  # as _declared
            made: dict[str, DataclassField[Any]] = {}
            for name, value in self.declared.items():
                spec = value if isinstance(value, DataclassField) else field(default=value)
                spec.name, spec.type, spec.kw_only = name, annotations[name], False
                spec._field_type = marker
                made[name] = spec
            type.__setattr__(self.cls, "__dataclass_fields__", made)  # made once
            return made


ENV_PREFIX = "RELAYKIT_"
TARGETS = ("auto", "container", "lambda")
STORE_SCHEMES = ("sqlite", "dynamodb", "memory")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
LOG_FORMATS = ("json", "text")
# Model providers by name; a provider's module is imported only when a model is first used.
MODEL_PROVIDERS: dict[str, str] = {
    "local": "relaykit.llm.local:LocalModel",
    "anthropic": "relaykit.llm.anthropic:AnthropicModel",
    "bedrock": "relaykit.llm.bedrock:BedrockModel",
}


ENCRYPTION_FORMS = (
    "off, local:KEY (32 bytes, base64), local:env:VAR, local:file:PATH (several, comma-"
    "separated: the first encrypts, all decrypt), kms:KEY_ID_OR_ALIAS[,OLD_KEY...]"
)


if TYPE_CHECKING:
    FIELDS: tuple[Field, ...]
    """Every setting: ``docs/settings.md`` is written from these."""
    FIELDS_BY_NAME: dict[str, Field]


def __getattr__(name: str) -> Any:
    """``FIELDS`` and ``FIELDS_BY_NAME``, built on first use: ``load_settings`` needs them only
    for the keys a source sets, and building the parsers of every setting costs on each cold
    start (PEP 562)."""
    if name == "FIELDS_BY_NAME":
        return fields_by_name()
    if name == "FIELDS":
        fields = globals()["FIELDS"] = tuple(fields_by_name().values())  # later lookups: direct
        return fields
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_DECLARED: dict[str, Field] = {}


def fields_by_name() -> dict[str, Field]:
    """``FIELDS_BY_NAME``: each setting by its key (built on the first call)."""
    if not _DECLARED:
        from relaykit.settings_fields import declare

        _DECLARED.update((spec.name, spec) for spec in declare())
        globals()["FIELDS_BY_NAME"] = _DECLARED  # later lookups: direct
    return _DECLARED


@frozen_record(frozen=True)
class Settings:
    """The resolved settings of one app. ``sources`` says where each value came from."""

    target: str = "auto"
    store: str = "sqlite:///.relaykit/relaykit.db"
    store_encryption: str = field(default="off", repr=False)
    store_encryption_plaintext: str = "read"
    model: str = "local"
    max_body_bytes: int = 6 * 1024 * 1024
    serve_paths: tuple[str, ...] | None = None
    max_stream_seconds: float | None = None
    max_active_runs_per_caller: int | None = None
    log_level: str = "INFO"
    log_format: str = "json"
    local_model_delay: float = 0.05
    service: str = "relaykit"
    api_gateway_base_path: str = "/"
    lambda_max_response_bytes: int = 6 * 1024 * 1024
    lambda_eager_init: bool = False
    metrics: bool = True
    metrics_namespace: str = "relaykit"
    tracing: bool = False
    worker_in_serve: bool = False
    idempotency_in_progress_seconds: float = 60.0
    lambda_response_mode: str = "auto"
    workflow_margin: float = 2.0
    workflow_inline_wait_max: float = 5.0
    workflow_lease_seconds: float = 60.0
    workflow_max_interrupts: int = 10
    workflow_max_steps: int = 10_000
    workflow_invocation_budget: float | None = None
    workflow_continuation: str = "auto"
    workflow_queue_url: str | None = None
    workflow_sweep_interval: float = 30.0
    model_max_tokens: int = 4096
    model_timeout: float = 120.0
    model_max_retries: int = 2
    anthropic_api_key_secret: str | None = None
    anthropic_api_key_parameter: str | None = None
    bedrock_region: str | None = None
    auth: tuple[str, ...] = ()
    auth_api_keys: str | None = field(default=None, repr=False)
    auth_api_keys_secret: str | None = None
    auth_api_keys_parameter: str | None = None
    auth_api_key_header: str = "x-api-key"
    auth_jwt_issuer: str | None = None
    auth_jwt_audience: tuple[str, ...] | None = None
    auth_jwt_jwks_url: str | None = None
    auth_jwt_jwks: str | None = None
    auth_jwt_secret: str | None = field(default=None, repr=False)
    auth_jwt_algorithms: tuple[str, ...] | None = None
    auth_cache_seconds: float = 300.0
    auth_admin_scope: str = "relaykit:admin"
    auth_admins: tuple[str, ...] | None = None
    auth_public_paths: tuple[str, ...] = ("/healthz",)
    price_table: Mapping[str, Mapping[str, float]] | None = None
    placement: PlacementTable | None = None
    measure: str = "auto"
    sources: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    def resolved_target(self, environ: Mapping[str, str] | None = None) -> str:
        """``container`` or ``lambda``: the configured target, or the detected one for ``auto``."""
        if self.target != "auto":
            return self.target
        env = os.environ if environ is None else environ
        on_lambda = "AWS_LAMBDA_RUNTIME_API" in env or "AWS_LAMBDA_FUNCTION_NAME" in env
        return "lambda" if on_lambda else "container"


_NAMES = tuple(name for name in Settings.__annotations__ if name != "sources")
"""The key of every setting (those of ``FIELDS``), without building ``FIELDS``."""


def _find_upwards(start: Path, filename: str) -> Path | None:
    """``filename`` in ``start`` or the nearest of its parents (``start.parents``) that has it.
    String paths: this runs on every cold start, for each folder up to the root."""
    folder = os.fspath(start)
    while True:
        candidate = os.path.join(folder, filename)
        if os.path.isfile(candidate):
            return Path(candidate)
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent


def _read_toml(path: Path, table: tuple[str, ...]) -> dict[str, Any]:
    import tomllib

    try:
        with path.open("rb") as handle:
            data: Any = tomllib.load(handle)  # imported here: most apps have no config file
    except tomllib.TOMLDecodeError as exc:
        from relaykit.errors import ConfigError

        raise ConfigError(str(path), f"is not valid TOML: {exc}") from None
    for key in table:
        data = data.get(key, {}) if isinstance(data, dict) else {}
    if not isinstance(data, dict):
        from relaykit.errors import ConfigError

        raise ConfigError(f"{path}:{'.'.join(table)}", "must be a table")
    return data


def _file_layers(config_dir: Path) -> list[tuple[str, dict[str, Any]]]:
    layers: list[tuple[str, dict[str, Any]]] = []
    pyproject = _find_upwards(config_dir, "pyproject.toml")
    if pyproject is not None and _may_have_tool_relaykit(pyproject):
        layers.append((f"{pyproject} [tool.relaykit]", _read_toml(pyproject, ("tool", "relaykit"))))
    own = _find_upwards(config_dir, "relaykit.toml")
    if own is not None:
        layers.append((str(own), _read_toml(own, ())))
    return layers


# A line that may start the [tool.relaykit] table: its header (``[tool.relaykit]``,
# ``[tool.relaykit.placement]``, quoted or spaced), a dotted key ``tool.relaykit...``, a ``[tool]``
# table or an inline ``tool = {...}`` (which may hold it). Any other pyproject.toml (most hold
# only [project], [build-system] and other tools' tables) is not parsed: no tomllib import.
_TOOL_RELAYKIT = (
    rb"""(?m)^[ \t]*(?:\[[ \t]*)?["']?tool["']?[ \t]*(?:\.[ \t]*["']?relaykit\b|\]|=)"""
)


def _may_have_tool_relaykit(path: Path) -> bool:
    import re

    try:
        text = path.read_bytes()
    except OSError:
        return True  # let the parse report what is wrong with it
    return re.search(_TOOL_RELAYKIT, text) is not None


def _env_layer(environ: Mapping[str, str]) -> dict[str, Any]:
    # By key: os.environ decodes each value it yields, and most are not ours.
    return {
        key[len(ENV_PREFIX) :].lower(): environ[key]
        for key in environ
        if key.startswith(ENV_PREFIX)
    }


def caller_dir(depth: int) -> Path | None:
    """The folder of the module ``depth`` frames up from this call (where a constructor called
    with no ``config_dir`` looks for ``relaykit.toml``), or ``None`` when it has no file."""
    try:
        frame = sys._getframe(depth)
    except ValueError:
        return None
    filename = frame.f_globals.get("__file__")
    return Path(os.path.dirname(os.path.realpath(filename))) if filename else None


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
    sources: dict[str, str] = dict.fromkeys(_NAMES, "default")
    for source, layer in layers:
        for key, raw in layer.items():
            spec = fields_by_name().get(key)
            shown = f"{ENV_PREFIX}{key.upper()}" if source.startswith("environment") else key
            if spec is None:
                known = ", ".join(fields_by_name())
                from relaykit.errors import ConfigError

                raise ConfigError(shown, f"unknown key in {source}", known)
            try:
                values[key] = spec.parse(raw)
            except ValueError as exc:
                problem, accepted = exc.args if len(exc.args) == 2 else (str(exc), None)
                from relaykit.errors import ConfigError

                raise ConfigError(shown, f"{problem} (from {source})", accepted) from None
            sources[key] = source

    # Unset keys take ``Settings``' defaults (those ``FIELDS`` documents; a test keeps the two
    # equal), but for the two derived from the environment and the app.
    if "model" not in values:
        values["model"] = default_model(env)
    if "service" not in values:
        values["service"] = app_name
    return Settings(**values, sources=sources)


def default_model(environ: Mapping[str, str]) -> str:
    """The local model unless a provider key is set and that provider is available."""
    if environ.get("ANTHROPIC_API_KEY") and "anthropic" in MODEL_PROVIDERS:
        return "anthropic:claude-sonnet-4-6"
    return "local"

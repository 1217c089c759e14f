"""Per-handler placement: where each handler runs when the app is deployed, and with what.

Declared in ``relaykit.toml`` as a ``[placement]`` table (or ``[tool.relaykit.placement]``; JSON in
``RELAYKIT_PLACEMENT``): ``[placement.defaults]`` applies to every handler, and
``[placement."/chat"]`` (a handler path) or ``[placement."sqs:tickets"]`` (an event-source label,
as ``relaykit routes`` prints it) overrides it for one handler. See docs/deploy.md.

``parse_table`` checks the shape and the value of every key when the settings load;
``resolve`` then checks each handler's placement against what the handler is (a stream on a
buffering front, a task longer than Lambda's 15 minutes...). Every error is a ``ConfigError``
whose key names the handler and the setting, and whose message says why.

``auth`` says who may call an HTTP handler. ``AWS_IAM`` (Lambda only) is enforced by AWS (the
Function URL's AuthType, the HTTP API route's authorization); ``jwt`` on ``lambda`` is an HTTP API
JWT authorizer; ``api-key`` anywhere, and ``jwt`` on ``lambda-stream`` or ``container``, are
enforced by the app (the Function URL's AuthType is then NONE) from the settings the deploy
config passes it (see ``relaykit.deploy.auth`` and docs/security.md). ``NONE``: no one checks.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from relaykit.errors import ConfigError

if TYPE_CHECKING:
    from relaykit.app import App

TARGETS = ("lambda", "lambda-stream", "container")
LAMBDA_MAX_TIMEOUT = 900
HTTP_API_MAX_TIMEOUT = 30
"""API Gateway HTTP APIs end an integration after 30 s whatever the function's timeout."""
LAMBDA_MEMORY = (128, 10240)
AUTH = {
    "lambda": ("AWS_IAM", "NONE", "jwt", "api-key"),  # jwt: an HTTP API JWT authorizer
    "lambda-stream": ("AWS_IAM", "NONE", "api-key", "jwt"),  # Function URL AuthType or the app
    "container": ("NONE", "api-key", "jwt"),  # the app
}
FARGATE_CPU = {256: (512, 2048), 512: (1024, 4096), 1024: (2048, 8192), 2048: (4096, 16384)}
"""Fargate CPU units and the memory range (MiB, in 1024 steps above 1024) each one allows."""
KEYS = (
    "target",
    "memory",
    "timeout",
    "concurrency",
    "auth",
    "cors",
    "buffered_ok",
    "max_step",
    "jwt_issuer",
    "jwt_audience",
    "jwt_jwks_url",
    "api_keys_secret",
    "api_keys_parameter",
)
DEFAULT_ONLY = ("architecture",)
ARCHITECTURES = ("x86_64", "arm64")


@dataclass(frozen=True)
class PlacementTable:
    """The ``placement`` setting, shape-checked: defaults and per-handler tables."""

    defaults: Mapping[str, Any]
    handlers: Mapping[str, Mapping[str, Any]]

    @property
    def architecture(self) -> str:
        return str(self.defaults.get("architecture", "x86_64"))


@dataclass(frozen=True)
class Placement:
    """Where one handler runs and with what; see docs/deploy.md for each field."""

    name: str
    """The handler's path (``/chat``) or event-source label (``sqs:tickets``)."""
    kind: str
    """``task``, ``stream``, ``workflow``, or the event source (``sqs``, ``schedule``...)."""
    targets: tuple[str, ...]
    memory: int
    timeout: int
    concurrency: int | None
    auth: str
    cors: tuple[str, ...] = ()
    buffered_ok: bool = False
    max_step: int | None = None
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwt_jwks_url: str | None = None
    api_keys_secret: str | None = None
    """With ``auth = "api-key"``: the Secrets Manager secret (name or full ARN) of the keys."""
    api_keys_parameter: str | None = None
    """With ``auth = "api-key"``: the SSM parameter (name or ARN) of the keys."""

    @property
    def url_auth(self) -> str:
        """The Function URL's AuthType: ``AWS_IAM``, else ``NONE`` (the app checks the rest)."""
        return "AWS_IAM" if self.auth == "AWS_IAM" else "NONE"

    def app_auth(self, target: str) -> str | None:
        """The ``auth`` setting the app needs on ``target`` (``None``: nothing to check):
        ``aws`` reads the identity an AWS front verified (IAM, the HTTP API JWT authorizer)."""
        if self.auth == "api-key":
            return "api-key"
        if self.auth == "jwt":
            return "aws" if target == "lambda" else "jwt"
        if self.auth == "AWS_IAM":
            return "aws"
        return None

    @property
    def lambda_target(self) -> str | None:
        """``lambda``, ``lambda-stream`` or ``None`` when the handler is not on Lambda."""
        return next((t for t in self.targets if t.startswith("lambda")), None)

    @property
    def on_container(self) -> bool:
        return "container" in self.targets

    @property
    def is_http(self) -> bool:
        return self.kind in ("task", "stream", "workflow")

    @property
    def function_timeout(self) -> int:
        """The Lambda function timeout: a longer workflow continues in later invocations."""
        return min(self.timeout, LAMBDA_MAX_TIMEOUT)

    def as_row(self) -> dict[str, Any]:
        return {
            "target": "+".join(self.targets),
            "memory": self.memory,
            "timeout": self.timeout,
            "concurrency": self.concurrency,
            "auth": self.auth,
        }


def _bad(where: str, key: str, problem: str, accepted: str | None = None) -> ConfigError:
    return ConfigError(f'placement."{where}".{key}', problem, accepted)


def _int(where: str, key: str, value: Any, low: int, high: int | None = None) -> int:
    accepted = f"a whole number from {low}" + (f" to {high}" if high else " up")
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise _bad(where, key, f"got {value!r}", accepted)
    if high is not None and value > high:
        raise _bad(where, key, f"got {value!r}", accepted)
    return value


def _targets(where: str, value: Any) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    accepted = "lambda, lambda-stream, container, or a list of one Lambda target and container"
    if not isinstance(items, list) or not items or not all(isinstance(t, str) for t in items):
        raise _bad(where, "target", f"got {value!r}", accepted)
    unknown = [t for t in items if t not in TARGETS]
    if unknown:
        raise _bad(where, "target", f"unknown target {unknown[0]!r}", accepted)
    if len(set(items)) != len(items) or sum(t.startswith("lambda") for t in items) > 1:
        raise _bad(
            where, "target", f"{items!r} names a target twice or two Lambda targets", accepted
        )
    return tuple(items)


def _check_entry(where: str, entry: Any, *, defaults: bool) -> dict[str, Any]:
    if not isinstance(entry, Mapping):
        raise _bad(where, "", f"must be a table, got {entry!r}")
    allowed = KEYS + (DEFAULT_ONLY if defaults else ())
    checked: dict[str, Any] = {}
    for key, value in entry.items():
        if key not in allowed:
            raise _bad(where, key, "unknown key", ", ".join(allowed))
        if key == "target":
            checked[key] = _targets(where, value)
        elif key in ("memory", "timeout", "concurrency", "max_step"):
            checked[key] = _int(where, key, value, 1)
        elif key == "buffered_ok":
            if not isinstance(value, bool):
                raise _bad(where, key, f"got {value!r}", "true or false")
            checked[key] = value
        elif key == "cors":
            if not isinstance(value, list) or not all(isinstance(o, str) and o for o in value):
                raise _bad(where, key, f"got {value!r}", 'a list of origins, e.g. ["*"]')
            checked[key] = tuple(value)
        elif key == "architecture" and value not in ARCHITECTURES:
            raise _bad(where, key, f"got {value!r}", ", ".join(ARCHITECTURES))
        elif not isinstance(value, str) or not value.strip():
            raise _bad(where, key, f"got {value!r}", "a non-empty string")
        else:
            checked[key] = value
    return checked


def parse_table(value: Any) -> PlacementTable:
    """The ``placement`` setting's parser: a table (or JSON text) of handler tables."""
    data = value
    if isinstance(value, str):
        try:
            data = json.loads(value)
        except ValueError:
            raise ValueError(
                "is not valid JSON", "a TOML table, or JSON in the environment"
            ) from None
    if isinstance(data, PlacementTable):
        return data
    if not isinstance(data, Mapping):
        raise ValueError(f"got {value!r}", '[placement.defaults] and [placement."/path"] tables')
    defaults = _check_entry("defaults", data.get("defaults", {}), defaults=True)
    handlers = {
        str(name): _check_entry(str(name), entry, defaults=False)
        for name, entry in data.items()
        if name != "defaults"
    }
    return PlacementTable(defaults=defaults, handlers=handlers)


def resolve(app: App) -> list[Placement]:
    """Every handler's placement (HTTP handlers, then event sources), each one checked."""
    table = app.settings.placement or PlacementTable(defaults={}, handlers={})
    names = [spec.path for spec in app.handlers] + [source.label for source in app.sources]
    kinds = [str(spec.kind) for spec in app.handlers] + [str(s.source) for s in app.sources]
    for name in table.handlers:
        if name not in names:
            raise _bad(name, "", "names no handler", ", ".join(names) or "no handlers")
    return [
        check(name, kind, {**table.defaults, **table.handlers.get(name, {})})
        for name, kind in zip(names, kinds, strict=True)
    ]


def _defaults_for(kind: str) -> dict[str, Any]:
    if kind == "stream":
        return {"target": ("lambda-stream",), "timeout": 60}
    if kind == "workflow":
        return {"target": ("lambda",), "timeout": LAMBDA_MAX_TIMEOUT}
    return {"target": ("lambda",), "timeout": 30 if kind == "task" else 60}


def _fargate_memory_ok(memory: int) -> bool:
    return any(
        low <= memory <= high and (memory <= 1024 or memory % 1024 == 0)
        for low, high in FARGATE_CPU.values()
    )


def check(name: str, kind: str, given: Mapping[str, Any]) -> Placement:
    """One handler's placement from its merged table; ``ConfigError`` when it cannot work."""
    values = {**_defaults_for(kind), **given}
    targets: tuple[str, ...] = values["target"]
    on_lambda = next((t for t in targets if t.startswith("lambda")), None)
    container = "container" in targets
    http = kind in ("task", "stream", "workflow")
    # Lambda fronts default to IAM; a container (or a handler on both) to NONE, like `serve`.
    auth = values.get("auth") or ("NONE" if container or not on_lambda else "AWS_IAM")
    memory = values.get("memory", 1024)
    timeout = values["timeout"]
    if not http:
        if on_lambda == "lambda-stream":
            raise _bad(
                name, "target", "an event source is not HTTP: it cannot stream", "lambda, container"
            )
        if "auth" in given or "cors" in given:
            raise _bad(
                name, "auth" if "auth" in given else "cors", "an event source has no HTTP front"
            )
    if on_lambda:
        low, high = LAMBDA_MEMORY
        if not low <= memory <= high:
            raise _bad(
                name, "memory", f"{memory} MB is outside Lambda's {low}-{high} MB", f"{low}-{high}"
            )
        if timeout > LAMBDA_MAX_TIMEOUT and kind != "workflow":
            raise _bad(
                name,
                "timeout",
                f"{timeout} s exceeds Lambda's {LAMBDA_MAX_TIMEOUT} s limit and a {kind} cannot be "
                "split across invocations (only workflows continue durably); place it on "
                "'container' or make it a @app.workflow",
            )
        if on_lambda == "lambda" and kind == "stream" and not values.get("buffered_ok", False):
            raise _bad(
                name,
                "target",
                "a stream on 'lambda' sits behind an API Gateway HTTP API, which buffers: the "
                "client gets every chunk at the end; use 'lambda-stream' (Function URL, "
                "RESPONSE_STREAM) or set buffered_ok = true",
            )
        if on_lambda == "lambda" and kind in ("task", "stream") and timeout > HTTP_API_MAX_TIMEOUT:
            raise _bad(
                name,
                "timeout",
                f"{timeout} s is above the {HTTP_API_MAX_TIMEOUT} s an API Gateway HTTP API waits "
                "for its integration; use 'lambda-stream' (a Function URL has no such cap), "
                "'container', or a workflow",
            )
    if container and not on_lambda and "memory" in given and not _fargate_memory_ok(memory):
        raise _bad(
            name,
            "memory",
            f"{memory} MiB is not a Fargate size",
            "512, 1024, 2048-16384 in 1024 steps",
        )
    if http:
        accepted = [a for a in AUTH[targets[0]] if all(a in AUTH[t] for t in targets)]
        if auth not in accepted:
            raise _bad(
                name, "auth", f"{auth!r} does not apply to {'+'.join(targets)}", ", ".join(accepted)
            )
        if auth == "jwt" and not (values.get("jwt_issuer") and values.get("jwt_audience")):
            raise _bad(name, "auth", "jwt needs jwt_issuer and jwt_audience")
        sources = [k for k in ("api_keys_secret", "api_keys_parameter") if values.get(k)]
        if sources and auth != "api-key":
            raise _bad(name, sources[0], "only applies with auth = api-key")
        if len(sources) > 1:
            raise _bad(name, sources[1], "give the keys' secret or their parameter, not both")
        url = values.get("jwt_jwks_url")
        if url is not None and not (url.startswith("https://") and auth == "jwt"):
            raise _bad(name, "jwt_jwks_url", f"got {url!r}", "an https:// URL, with auth = jwt")
    max_step = values.get("max_step")
    if max_step is not None:
        if kind != "workflow":
            raise _bad(name, "max_step", f"only workflows have steps; this handler is a {kind}")
        if on_lambda and max_step > min(timeout, LAMBDA_MAX_TIMEOUT):
            raise _bad(
                name,
                "max_step",
                f"a {max_step} s step cannot fit in one Lambda invocation of at most "
                f"{min(timeout, LAMBDA_MAX_TIMEOUT)} s, and a step is never split; place the "
                "workflow on 'container' or split the step",
            )
    return Placement(
        name=name,
        kind=kind,
        targets=targets,
        memory=memory,
        timeout=timeout,
        concurrency=values.get("concurrency"),
        auth=auth,
        cors=tuple(values.get("cors", ())),
        buffered_ok=bool(values.get("buffered_ok", False)),
        max_step=max_step,
        jwt_issuer=values.get("jwt_issuer"),
        jwt_audience=values.get("jwt_audience"),
        jwt_jwks_url=values.get("jwt_jwks_url"),
        api_keys_secret=values.get("api_keys_secret"),
        api_keys_parameter=values.get("api_keys_parameter"),
    )

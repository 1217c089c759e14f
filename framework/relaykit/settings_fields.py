"""The declared settings: each key's parser, default and the sentence ``docs/settings.md`` shows.

Kept apart from ``relaykit.settings`` because a cold start needs none of it when no source sets
a key (``Settings``' own defaults are the declared ones: a test keeps them equal), and loading
this table costs: it is most of the settings' bytecode. ``relaykit.settings.FIELDS`` and
``FIELDS_BY_NAME`` load it on first use.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from relaykit.settings import (
    ENCRYPTION_FORMS,
    LOG_FORMATS,
    LOG_LEVELS,
    MODEL_PROVIDERS,
    STORE_SCHEMES,
    TARGETS,
)

if TYPE_CHECKING:
    from relaykit.placement import PlacementTable


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


def _parse_store_encryption(value: Any) -> str:
    """Syntax only (keys are read when the store opens); never echoes what could be a key."""
    import base64
    import re

    text = str(value).strip()
    if text.lower() in ("", "off", "none"):
        return "off"
    scheme, _, rest = text.partition(":")
    if scheme not in ("local", "kms"):
        raise ValueError(
            "unknown scheme (the value is not shown: it may hold a key)", ENCRYPTION_FORMS
        )
    parts = [part.strip() for part in rest.split(",")]
    for number, part in enumerate(parts, 1):
        source, _, name = part.partition(":")
        if scheme == "kms":
            problem = "" if re.fullmatch(r"[\w/:.-]{1,2048}", part) else "is not an id or ARN"
        elif source == "env":
            problem = "" if re.fullmatch(r"[A-Za-z_]\w*", name) else "names no variable"
        elif source == "file":
            problem = "" if name else "names no file"
        else:
            try:
                key = base64.b64decode(part.replace("-", "+").replace("_", "/"), validate=True)
            except ValueError:
                key = b""
            problem = "" if len(key) == 32 else "is not 32 bytes of base64"
        if problem:
            raise ValueError(f"{scheme} key {number} {problem}", ENCRYPTION_FORMS)
    return f"{scheme}:{','.join(parts)}"


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


def _parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"got {value!r}", "true or false (also 1/0, yes/no, on/off)")


def _parse_base_path(value: Any) -> str:
    text = str(value).strip()
    if not text or text == "/":
        return "/"
    if any(char in text for char in "?#% ") or "//" in text:
        raise ValueError(f"got {value!r}", "a path prefix such as /prod or /api/v1")
    return "/" + text.strip("/")


def _parse_metric_namespace(value: Any) -> str:
    text = str(value).strip()
    if not 1 <= len(text) <= 255 or not all(ch.isalnum() or ch in "._-#:/" for ch in text):
        raise ValueError(f"got {value!r}", "1-255 characters: letters, digits and . _ - # : /")
    return text


def _parse_positive_float(value: Any) -> float:
    number = _parse_non_negative_float(value)
    if number == 0:
        raise ValueError(f"got {value!r}", "a number of seconds above 0")
    return number


def _parse_optional_positive_int(value: Any) -> int | None:
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none")):
        return None
    return _parse_positive_int(value)


def _parse_optional_seconds(value: Any) -> float | None:
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none")):
        return None
    return _parse_positive_float(value)


def _parse_optional_text(value: Any) -> str | None:
    text = "" if value is None else str(value).strip()
    return text or None


def _parse_service(value: Any) -> str:
    text = str(value).strip()
    if not text:
        raise ValueError("got an empty name", "a non-empty service name")
    return text


def _parse_retries(value: Any) -> int:
    accepted = "a whole number from 0 to 10"
    try:
        number = int(str(value).strip()) if not isinstance(value, int) else value
    except ValueError:
        raise ValueError(f"got {value!r}", accepted) from None
    if isinstance(number, bool) or not 0 <= number <= 10:
        raise ValueError(f"got {value!r}", accepted)
    return number


def _parse_positive_seconds(value: Any) -> float:
    accepted = "a number of seconds above 0"
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"got {value!r}", accepted) from None
    if isinstance(value, bool) or not 0 < number < float("inf"):
        raise ValueError(f"got {value!r}", accepted)
    return number


def _parse_aws_name(kind: str, extra: str) -> Callable[[Any], str]:
    allowed = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/_.-:" + extra)

    def parse(value: Any) -> str:
        text = str(value).strip()
        if not 1 <= len(text) <= 2048 or not set(text) <= allowed:
            raise ValueError(
                f"got {value!r}", f"{kind} name or ARN (letters, digits, /_.-:{extra})"
            )
        return text

    return parse


def _parse_region(value: Any) -> str:
    text = str(value).strip()
    parts = text.split("-")
    if (
        len(parts) < 3
        or not parts[-1].isdigit()
        or not all(p.isalpha() and p.islower() for p in parts[:-1])
    ):
        raise ValueError(f"got {value!r}", "an AWS region such as us-east-1 or eu-central-1")
    return text


def _parse_price_table(value: Any) -> dict[str, dict[str, float]]:
    accepted = (
        '{"MODEL_ID": {"input": USD, "output": USD, "cache_read": USD, "cache_write": USD}} '
        "in USD per million tokens (a TOML table, or JSON text in the environment)"
    )
    data = value
    if isinstance(value, str):
        try:
            data = json.loads(value)
        except ValueError:
            raise ValueError("is not valid JSON", accepted) from None
    if not isinstance(data, Mapping):
        raise ValueError(f"got {value!r}", accepted)
    table: dict[str, dict[str, float]] = {}
    for model_id, prices in data.items():
        if not isinstance(prices, Mapping) or not {"input", "output"} <= set(prices):
            raise ValueError(f"{model_id!r} needs 'input' and 'output' prices", accepted)
        if not set(prices) <= {"input", "output", "cache_read", "cache_write"}:
            raise ValueError(f"{model_id!r} has unknown price keys {sorted(prices)}", accepted)
        for kind, price in prices.items():
            if isinstance(price, bool) or not isinstance(price, int | float) or price < 0:
                raise ValueError(
                    f"{model_id!r} {kind} price {price!r} is not a number >= 0", accepted
                )
        table[str(model_id)] = {kind: float(price) for kind, price in prices.items()}
    return table


def _parse_auth(kind: str) -> Callable[[Any], Any]:
    def parse(value: Any) -> Any:
        from relaykit.auth import config  # stdlib-only; loaded when a source sets an auth key

        return getattr(config, kind)(value)

    return parse


def _parse_paths(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise ValueError(f"got {value!r}", "handler paths, comma-separated or a list")
    paths = tuple(str(item).strip() for item in items if str(item).strip())
    for path in paths:
        if not path.startswith("/"):
            raise ValueError(f"{path!r} does not start with /", "handler paths such as /ask")
    return paths or None


def _parse_placement(value: Any) -> PlacementTable:
    from relaykit.placement import parse_table  # stdlib-only; loaded when a file sets it

    return parse_table(value)


if TYPE_CHECKING:
    _FieldTuple = tuple[str, Callable[[Any], Any], Any, str]
else:
    _FieldTuple = tuple  # subscripting costs at import, and only type checkers read it


class Field(_FieldTuple):
    """One setting: its name, parser, default and the sentence the docs show for it.

    An immutable value, a tuple of the four: a tuple is built several times faster than a
    dataclass instance.
    """

    __slots__ = ()

    def __new__(cls, name: str, parse: Callable[[Any], Any], default: Any, doc: str) -> Field:
        return tuple.__new__(cls, (name, parse, default, doc))

    @property
    def name(self) -> str:
        return self[0]

    @property
    def parse(self) -> Callable[[Any], Any]:
        return self[1]

    @property
    def default(self) -> Any:
        return self[2]

    @property
    def doc(self) -> str:
        return self[3]

    def __repr__(self) -> str:
        return f"Field(name={self[0]!r}, default={self[2]!r})"


def declare() -> tuple[Field, ...]:
    """Every setting, in the order the docs list them (``FIELDS``)."""
    return (
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
            "serve_paths",
            _parse_paths,
            None,
            "HTTP: serve only these handler paths (comma-separated); the app's other tasks, "
            "streams and workflows answer 404 here, and the runs API is served only with a "
            "workflow. The deploy config sets it on each Lambda function, so a function's URL or "
            "route serves only the handlers placed on it. Event sources, continuations and sweeps "
            "are not affected. Default: every handler.",
        ),
        Field(
            "max_stream_seconds",
            _parse_optional_seconds,
            None,
            "Longest a stream handler (`@app.stream`) may run, in seconds; past it the stream "
            "ends with an `error` event of type `limit_exceeded` naming this setting, and the "
            "handler is closed. Default: no limit (Lambda bounds streams by the function timeout).",
        ),
        Field(
            "max_active_runs_per_caller",
            _parse_optional_positive_int,
            None,
            "With authentication: the most unfinished runs (pending, running, suspended) one "
            "caller may have; starting another answers 429 naming this setting. Admins are not "
            "limited. Default: no limit.",
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
        Field(
            "api_gateway_base_path",
            _parse_base_path,
            "/",
            "Lambda HTTP events: a path prefix removed before routing, for an API Gateway custom "
            "domain mapped under a base path (for example `/prod` or `/api`). Default `/` (none).",
        ),
        Field(
            "lambda_max_response_bytes",
            _parse_positive_int,
            6 * 1024 * 1024,
            "Lambda buffered responses: the largest response, in bytes, measured as the JSON "
            "document Lambda returns (base64 bodies count their encoded size). Above it the caller "
            "gets a 413 JSON error instead of a platform failure, and a stream is stopped early. "
            "Default 6 MiB, Lambda's limit for a synchronous response.",
        ),
        Field(
            "lambda_eager_init",
            _parse_bool,
            False,
            "Lambda: when true and the app runs on Lambda, `app.lambda_handler` imports the "
            "adapters (FastAPI, Powertools), builds the ASGI app and runs the startup hooks "
            "during the init phase, which gets a full CPU burst, instead of on the first event. "
            "Default false: everything loads where first used.",
        ),
        Field(
            "lambda_response_mode",
            _parse_choice(("auto", "buffered", "stream")),
            "auto",
            "The pure-Python Lambda runtime (`python -m relaykit.lambda_runtime`): `auto` streams "
            "the responses to Function URL events (configure the URL with InvokeMode "
            "RESPONSE_STREAM) and buffers the rest; `stream` also streams API Gateway REST events "
            "(integration response transfer mode STREAM); `buffered` never streams. The managed "
            "runtime's `app.lambda_handler` always buffers.",
        ),
        Field(
            "workflow_margin",
            _parse_non_negative_float,
            2.0,
            "Durable workflows: seconds kept in reserve after a step's expected end before the "
            "invocation's deadline (commit, response, clock skew). A step that does not fit with "
            "this margin is run in the next invocation instead.",
        ),
        Field(
            "workflow_inline_wait_max",
            _parse_non_negative_float,
            5.0,
            "Durable workflows: waits (`ctx.sleep`, retry back-offs, `wait_for_event` polls) up to "
            "this many seconds stay in-process when they end before the deadline; longer ones "
            "suspend the run and hold no compute.",
        ),
        Field(
            "workflow_lease_seconds",
            _parse_positive_float,
            60.0,
            "Durable workflows: how long an executor that stopped renewing keeps a run before "
            "another executor (a sweep, a retry) may take it over.",
        ),
        Field(
            "workflow_max_interrupts",
            _parse_positive_int,
            10,
            "Durable workflows: how many times a run's executor may die (timeout, OOM, crash) "
            "before the run is parked as failed instead of looping.",
        ),
        Field(
            "workflow_max_steps",
            _parse_positive_int,
            10_000,
            "Durable workflows: the most steps one run may record (every `ctx.step`, `llm_step`, "
            "sleep, event wait, `now` and `random` counts; fan-out children too). A run that asks "
            "for more fails with `HistoryTooLong`: its history is replayed on every resume, so an "
            "unbounded loop of steps would make each resume slower. Batch the work into fewer "
            "steps, or start child runs.",
        ),
        Field(
            "workflow_invocation_budget",
            _parse_optional_seconds,
            None,
            "Durable workflows: the seconds a whole invocation offers (set it to the Lambda "
            "function timeout). A step whose expected duration exceeds it fails at once with "
            "`StepTooLong` instead of being killed every time. Default: the time left when a "
            "resume starts.",
        ),
        Field(
            "workflow_continuation",
            _parse_choice(("auto", "inprocess", "lambda", "sqs")),
            "auto",
            "Durable workflows: how a split or woken run continues. `auto` is `lambda` (an "
            "asynchronous self-invoke carrying only the run id) on Lambda and `inprocess` in a "
            "container; `sqs` sends the run id to `workflow_queue_url`.",
        ),
        Field(
            "workflow_queue_url",
            _parse_optional_text,
            None,
            "Durable workflows: the SQS queue URL continuations go to when "
            "`workflow_continuation` is `sqs`.",
        ),
        Field(
            "workflow_sweep_interval",
            _parse_positive_float,
            30.0,
            "Durable workflows, container target: seconds between sweeps that resume runs whose "
            "timers are due or whose executor died (a restarted container resumes unfinished "
            "runs at start-up). On Lambda a scheduled event does the sweep.",
        ),
        Field(
            "store_encryption",
            _parse_store_encryption,
            "off",
            "Durable workflows: encrypt run inputs, results, errors, step values and names, event "
            "payloads and model text at rest (AES-256-GCM, per-process data keys): `off`; "
            "`local:env:VAR` (a 32-byte base64 key in that variable; give it a name with `KEY` in "
            "it so logs redact it), `local:file:PATH`, or `local:BASE64` (tests only); "
            "`kms:KEY_ID` (a key id, `alias/NAME` or ARN; one `GenerateDataKey` per process). "
            "Several comma-separated keys rotate: the first encrypts, all decrypt. Needs "
            "`relaykit[encryption]`; see docs/encryption.md.",
        ),
        Field(
            "store_encryption_plaintext",
            _parse_choice(("read", "reject")),
            "read",
            "Durable workflows with `store_encryption`: `read` returns values stored before "
            "encryption was turned on as they are (migration); `reject` refuses any unencrypted "
            "value with a `StoreError`, so nobody who can write the store can plant one.",
        ),
        Field(
            "metrics",
            _parse_bool,
            True,
            "Lambda: emit CloudWatch metrics in Embedded Metric Format (`invocations`, `errors`, "
            "`latency` per handler, `cold_starts`), one EMF line per invocation, the document "
            "Powertools Metrics writes, without its import cost.",
        ),
        Field(
            "metrics_namespace",
            _parse_metric_namespace,
            "relaykit",
            "Lambda: the CloudWatch namespace of relaykit's metrics.",
        ),
        Field(
            "tracing",
            _parse_bool,
            False,
            "Lambda: trace each invocation with the Powertools Tracer (AWS X-Ray). Needs "
            "`aws-xray-sdk` and active tracing on the function; it adds about 230 ms of import to "
            "the cold start, so it is off unless set.",
        ),
        Field(
            "worker_in_serve",
            _parse_bool,
            False,
            "Container: when true, `relaykit serve` also runs the event-source worker (the same as "
            "`relaykit serve --worker` or a separate `relaykit worker`) in each server process: it "
            "polls the SQS queues of `@app.on_sqs` handlers and runs `@app.on_schedule` handlers, "
            "started and stopped with the server (see docs/event-sources.md).",
        ),
        Field(
            "idempotency_in_progress_seconds",
            _parse_positive_seconds,
            60.0,
            "Event sources with `idempotent=True`: how long the IN_PROGRESS marker a delivery "
            "writes before running the handler holds off a concurrent duplicate. The running "
            "delivery renews it every half of this; on Lambda it never outlives the invocation's "
            "deadline. A delivery that died leaves a marker that expires within this time, after "
            "which a redelivery takes the record over.",
        ),
        Field(
            "model_max_tokens",
            _parse_positive_int,
            4096,
            "Models: the `max_tokens` of a call that does not pass one (Anthropic requires it).",
        ),
        Field(
            "model_timeout",
            _parse_positive_seconds,
            120.0,
            "Models: seconds one attempt of a model call may take. Each attempt's timeout is also "
            "cut to the time left before the invocation's deadline (`ctx.remaining_seconds()`).",
        ),
        Field(
            "model_max_retries",
            _parse_retries,
            2,
            "Models: retries after a failed attempt (429, 529/overloaded, 5xx, timeouts, "
            "connection errors), with exponential backoff and full jitter, honouring "
            "`retry-after`; never a retry that cannot finish before the deadline. The SDKs' own "
            "retries are off. 0-10.",
        ),
        Field(
            "anthropic_api_key_secret",
            _parse_aws_name("a Secrets Manager secret", "+=@"),
            None,
            "Anthropic: read the API key from this AWS Secrets Manager secret (name or ARN; the "
            "value is the key, or JSON with an `ANTHROPIC_API_KEY` or `api_key` field) through "
            "Powertools parameters, cached for 5 minutes. Default: unset, `ANTHROPIC_API_KEY` is "
            "used.",
        ),
        Field(
            "anthropic_api_key_parameter",
            _parse_aws_name("an SSM parameter", ""),
            None,
            "Anthropic: read the API key from this SSM Parameter Store parameter (name or ARN, a "
            "SecureString is decrypted) through Powertools parameters, cached for 5 minutes. "
            "Default: unset.",
        ),
        Field(
            "bedrock_region",
            _parse_region,
            None,
            "Bedrock: the AWS region of the `bedrock-runtime` client. Default: the environment's "
            "region (`AWS_REGION`, then the AWS config).",
        ),
        Field(
            "price_table",
            _parse_price_table,
            None,
            "Models: prices that override or extend relaykit's dated price table, as "
            '`{"MODEL_ID": {"input": 3.0, "output": 15.0, "cache_read": 0.3, "cache_write": '
            "3.75}}` in USD per million tokens (a TOML table, or JSON in the environment "
            "variable).",
        ),
        Field(
            "auth",
            _parse_auth("methods"),
            (),
            "Authentication of every HTTP route: `none` (default), or one or more of `api-key`, "
            "`jwt`, `aws` (comma-separated; the first whose credentials a request carries "
            "decides). `aws` trusts the caller an AWS front verified (Function URL or API Gateway "
            "`AWS_IAM`, an HTTP API JWT authorizer). `App(auth=...)` replaces it. See "
            "docs/security.md.",
        ),
        Field(
            "auth_api_keys",
            _parse_auth("api_keys"),
            None,
            'API keys given directly, by name: JSON `{"NAME": "KEY"}` (a value may be '
            '`{"key": KEY, "scopes": [...]}`) or text `NAME:KEY,NAME2:KEY2`; keys of 16 characters '
            "or more. Prefer `auth_api_keys_secret` or `auth_api_keys_parameter` in production.",
        ),
        Field(
            "auth_api_keys_secret",
            _parse_aws_name("a Secrets Manager secret", "+=@"),
            None,
            "API keys read from this AWS Secrets Manager secret (name or ARN; the value as for "
            "`auth_api_keys`) through Powertools parameters, cached for `auth_cache_seconds`.",
        ),
        Field(
            "auth_api_keys_parameter",
            _parse_aws_name("an SSM parameter", ""),
            None,
            "API keys read from this SSM Parameter Store parameter (a SecureString is decrypted; "
            "the value as for `auth_api_keys`), cached for `auth_cache_seconds`.",
        ),
        Field(
            "auth_api_key_header",
            _parse_auth("header"),
            "x-api-key",
            "The request header that carries an API key.",
        ),
        Field(
            "auth_jwt_issuer",
            _parse_optional_text,
            None,
            "JWT: the required `iss`. Without `auth_jwt_jwks_url`, `auth_jwt_jwks` or "
            "`auth_jwt_secret`, the keys come from the issuer's OpenID discovery document.",
        ),
        Field(
            "auth_jwt_audience",
            _parse_auth("words"),
            None,
            "JWT: the accepted `aud` values (comma-separated); a token must name one of them.",
        ),
        Field(
            "auth_jwt_jwks_url",
            _parse_auth("url"),
            None,
            "JWT: the JWKS URL (https; http only to a loopback host), cached for "
            "`auth_cache_seconds` and read again when a token names an unknown `kid`.",
        ),
        Field(
            "auth_jwt_jwks",
            _parse_auth("jwks"),
            None,
            'JWT: a static JWKS (`{"keys": [...]}` as JSON or a TOML table) instead of a URL.',
        ),
        Field(
            "auth_jwt_secret",
            _parse_auth("secret"),
            None,
            "JWT: a shared secret of 32 bytes or more for HS256 tokens instead of public keys.",
        ),
        Field(
            "auth_jwt_algorithms",
            _parse_auth("words"),
            None,
            "JWT: the accepted `alg` values. Default: `RS256,ES256`, or `HS256` with "
            "`auth_jwt_secret`.",
        ),
        Field(
            "auth_cache_seconds",
            _parse_positive_float,
            300.0,
            "Seconds API keys read from AWS and a fetched JWKS are kept before being read again.",
        ),
        Field(
            "auth_admin_scope",
            _parse_auth("scope"),
            "relaykit:admin",
            "The scope that lets a caller list, read, stream, cancel and signal every run, not "
            "only the runs it started.",
        ),
        Field(
            "auth_admins",
            _parse_auth("words"),
            None,
            "Callers granted the admin scope, as `METHOD:SUBJECT` (`api-key:ops`, "
            "`aws:arn:aws:sts::123456789012:assumed-role/ops`; a trailing `*` matches any rest).",
        ),
        Field(
            "auth_public_paths",
            _parse_auth("paths"),
            ("/healthz",),
            "Paths open without credentials when authentication is on: handler paths, "
            "`/healthz`, `/docs`, `/redoc`, `/openapi.json` (comma-separated). The runs API is "
            "never public; a handler can also be opened in code with `public=True`.",
        ),
        Field(
            "placement",
            _parse_placement,
            None,
            "Deployment: where each handler runs (`lambda`, `lambda-stream`, `container`, or a "
            "list) and with what memory, timeout, concurrency and auth, as `[placement.defaults]` "
            'and `[placement."/path"]` tables (JSON in the environment variable). Read by '
            "`relaykit routes`, `relaykit package` and `relaykit deploy-config`; see "
            "docs/deploy.md.",
        ),
        Field(
            "measure",
            _parse_choice(("auto", "off", "log", "store")),
            "auto",
            "Measurements for `relaykit advise` (wall and CPU time, model wait, peak memory, "
            "tokens, response size per invocation and workflow step): `log` writes one JSON line "
            "per invocation to stdout that is also a CloudWatch EMF metrics document; `store` "
            "writes them in batches to `measurements.db` next to a SQLite store (else in "
            "`.relaykit/`); `off`. `auto` is `store` under `relaykit dev`, `log` under `relaykit "
            "serve` and on Lambda (when `metrics` is on), and `off` elsewhere.",
        ),
    )

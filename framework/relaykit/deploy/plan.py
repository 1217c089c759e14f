"""The deployment plan: the app's placement turned into functions, fronts, triggers and shared
resources, once, so that the SAM and Terraform renderers only translate.

One Lambda function per handler placed on Lambda (each has its own memory, timeout and
concurrency; all share the one zip or image; ``RELAYKIT_SERVE_PATHS`` makes each serve only its
own handler over HTTP, plus the runs API when it is a workflow). ``lambda-stream`` functions run
relaykit's runtime on the managed Python runtime through ``AWS_LAMBDA_EXEC_WRAPPER`` (Handler
``MODULE:APP``) behind a Function URL in ``RESPONSE_STREAM`` mode; ``lambda`` functions run
``relaykit_handler.handler`` behind an API Gateway HTTP API route. Event sources get an event
source mapping or an EventBridge rule. Handlers placed on ``container`` share one ECS/Fargate
service behind an ALB; event sources placed on ``container`` share one ``relaykit worker``
service.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from relaykit.app import App
from relaykit.deploy.auth import container_auth, function_auth
from relaykit.placement import FARGATE_CPU, Placement, resolve
from relaykit.sources import SourceSpec, resource_name

WRAPPER_PATH = "/var/task/relaykit-wrapper"
SWEEP_INPUT = '{"relaykit": "sweep"}'
SWEEP_SCHEDULE = "rate(1 minute)"
ASYNC_RETRIES = 2
ASYNC_MAX_AGE = 6 * 3600
DYNAMODB_ACTIONS = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query")
S3_ACTIONS = ("s3:GetObject", "s3:PutObject")
BLOB_PREFIX = "relaykit/"
SQS_ACTIONS = (
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:ChangeMessageVisibility",
)
STREAM_ACTIONS = (
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:DescribeStream",
    "dynamodb:ListStreams",
)


@dataclass
class Function:
    """One Lambda function of the plan."""

    key: str
    """A name safe for both renderers: letters and digits, starting with a letter (``Chat``)."""
    placement: Placement
    handler: str
    streaming: bool
    workflow: bool
    durable: bool
    """Reads and writes the durable table and bucket (workflows, idempotent SQS handlers)."""
    source: SourceSpec | None = None
    environment: dict[str, str] = field(default_factory=dict)
    auth_statements: list[dict[str, Any]] = field(default_factory=list)
    """IAM statements its authentication needs (reading the API keys), ``${Partition}`` style."""

    @property
    def snake(self) -> str:
        return re.sub(r"(?<!^)(?=[A-Z])", "_", self.key).lower()


@dataclass
class Plan:
    """Everything the renderers need; ``code`` is a zip path or ``image:URI``."""

    app: str
    app_ref: str
    image_ref: str
    python: str
    arch: str
    code: str
    functions: list[Function]
    containers: list[Placement]
    workers: list[SourceSpec]
    durable: bool
    sweep: Function | None
    runs_api: Function | None
    container_env: dict[str, str] = field(default_factory=dict)
    """The container service's authentication settings (``RELAYKIT_AUTH*``)."""
    container_statements: list[dict[str, Any]] = field(default_factory=list)

    @property
    def image(self) -> str | None:
        return self.code.removeprefix("image:") if self.code.startswith("image:") else None

    @property
    def http_api(self) -> list[Function]:
        return [
            f for f in self.functions if f.placement.lambda_target == "lambda" and f.source is None
        ]

    @property
    def function_urls(self) -> list[Function]:
        return [f for f in self.functions if f.streaming]

    @property
    def container_sources(self) -> list[SourceSpec]:
        return self.workers


def function_key(name: str) -> str:
    """``/research/deep`` -> ``ResearchDeep``; ``sqs:tickets`` -> ``SqsTickets``."""
    words = re.split(r"[^A-Za-z0-9]+", name)
    key = "".join(w[:1].upper() + w[1:] for w in words if w)
    return key if key[:1].isalpha() else f"H{key}"


def source_arn(kind: str, ref: str) -> str:
    """The ARN of a queue named by name or ARN, as a ``${...}`` template both renderers fill."""
    if ref.startswith("arn:"):
        return ref
    service = {"sqs": "sqs", "dynamodb": "dynamodb"}[kind]
    suffix = resource_name(ref) if kind == "sqs" else f"table/{resource_name(ref)}"
    return f"arn:${{Partition}}:{service}:${{Region}}:${{AccountId}}:{suffix}"


def build_plan(
    app: App, app_ref: str, *, python: str = "3.11", code: str = "", image_ref: str | None = None
) -> Plan:
    """The plan for ``app``. ``app_ref`` is its ``MODULE:APP`` at the root of the zip;
    ``image_ref`` the one inside the Dockerfile image (default: ``app_ref``)."""
    placements = resolve(app)
    sources = {s.label: s for s in app.sources}
    functions: list[Function] = []
    for placement in placements:
        if not placement.lambda_target:
            continue
        source = sources.get(placement.name)
        streaming = placement.lambda_target == "lambda-stream"
        workflow = placement.kind == "workflow"
        durable = workflow or bool(source and source.idempotent)
        env = {"RELAYKIT_TARGET": "lambda"}
        env["RELAYKIT_LAMBDA_RESPONSE_MODE"] = "auto" if streaming else "buffered"
        if source is None:  # its URL or route serves this handler only (and the runs API)
            env["RELAYKIT_SERVE_PATHS"] = placement.name
        if workflow:
            env["RELAYKIT_WORKFLOW_INVOCATION_BUDGET"] = str(placement.function_timeout)
        if streaming and not code.startswith("image:"):  # the managed runtime cannot stream
            env["AWS_LAMBDA_EXEC_WRAPPER"] = WRAPPER_PATH
        auth = function_auth(placement, placement.lambda_target, app.settings)
        env.update(auth.env)
        functions.append(
            Function(
                key=function_key(placement.name),
                placement=placement,
                handler=app_ref if streaming else "relaykit_handler.handler",
                streaming=streaming,
                workflow=workflow,
                durable=durable,
                source=source,
                environment=env,
                auth_statements=auth.statements,
            )
        )
    containers = [p for p in placements if p.on_container and p.is_http]
    container = container_auth(containers, app.settings)
    workers = [sources[p.name] for p in placements if p.on_container and not p.is_http]
    durable = (
        any(f.durable for f in functions)
        or any(p.kind == "workflow" for p in containers)
        or any(s.idempotent for s in workers)
    )
    flows = sorted((f for f in functions if f.workflow), key=lambda f: -f.placement.timeout)
    table = app.settings.placement
    return Plan(
        app=re.sub(r"[^a-z0-9-]+", "-", app.name.lower()).strip("-") or "relaykit",
        app_ref=app_ref,
        image_ref=image_ref or app_ref,
        python=python,
        arch=table.architecture if table else "x86_64",
        code=code,
        functions=functions,
        containers=containers,
        workers=workers,
        durable=durable,
        sweep=flows[0] if flows else None,
        runs_api=next((f for f in flows if f.placement.lambda_target == "lambda"), None),
        container_env=container.env,
        container_statements=container.statements,
    )


def cors_config(placement: Placement) -> dict[str, Any] | None:
    """The CORS rules of an HTTP front (Function URL, HTTP API), or ``None`` without origins."""
    if not placement.cors:
        return None
    return {
        "AllowOrigins": list(placement.cors),
        "AllowMethods": ["GET", "POST"],
        "AllowHeaders": [
            "authorization",
            "content-type",
            "last-event-id",
            "x-api-key",
            "x-request-id",
        ],
        "ExposeHeaders": ["x-request-id"],
        "MaxAge": 600,
    }


def fargate_size(containers: list[Placement]) -> tuple[int, int]:
    """(cpu units, memory MiB) of the container service: the largest memory any handler asks."""
    memory = max((p.memory for p in containers), default=1024)
    memory = max(memory, 512)
    for cpu, (low, high) in sorted(FARGATE_CPU.items()):
        if low <= memory <= high:
            return cpu, memory
    return 2048, 16384

"""``relaykit deploy-config --format sam``: templates that translate and lint clean offline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from deploy.apps import make_app
from deploy.templates import cfn_lint, translate
from relaykit import App
from relaykit.deploy.plan import build_plan
from relaykit.deploy.sam import build_template
from relaykit.durable.dynamodb_store import DynamoDBStore


def sam_for(app: App, code: str = "dist/app.zip") -> dict[str, Any]:
    return build_template(build_plan(app, "hybrid:app", code=code, image_ref="hybrid:app"))


def test_hybrid_template_translates_and_lints_clean(hybrid: App, tmp_path: Path) -> None:
    """The example's template: SAM translation succeeds and cfn-lint finds nothing."""
    cfn = translate(sam_for(hybrid))
    assert cfn_lint(cfn, tmp_path) == ""
    resources = cfn["Resources"]
    assert resources["ChatUrl"]["Properties"]["InvokeMode"] == "RESPONSE_STREAM"
    assert resources["ChatUrl"]["Properties"]["AuthType"] == "NONE"
    chat = resources["Chat"]["Properties"]
    assert chat["Handler"] == "hybrid:app"
    variables = chat["Environment"]["Variables"]
    assert variables["AWS_LAMBDA_EXEC_WRAPPER"] == "/var/task/relaykit-wrapper"
    assert variables["RELAYKIT_LAMBDA_RESPONSE_MODE"] == "auto"
    assert variables["RELAYKIT_SERVE_PATHS"] == "/chat"  # its URL serves that handler only
    assert resources["Ask"]["Properties"]["Environment"]["Variables"]["RELAYKIT_SERVE_PATHS"] == (
        "/ask"
    )
    assert resources["Ask"]["Properties"]["Handler"] == "relaykit_handler.handler"
    assert resources["Ask"]["Properties"]["ReservedConcurrentExecutions"] == 20
    research = resources["Research"]["Properties"]
    assert research["Timeout"] == 900
    assert research["Environment"]["Variables"]["RELAYKIT_WORKFLOW_INVOCATION_BUDGET"] == "900"
    assert (
        "RELAYKIT_SERVE_PATHS"
        not in resources["SqsTickets"]["Properties"]["Environment"]["Variables"]
    )
    mapping = resources["SqsTicketsMapping"]["Properties"]
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    invoke = resources["ResearchEventInvokeConfig"]["Properties"]
    assert invoke["MaximumRetryAttempts"] == 2
    assert "OnFailure" in invoke["DestinationConfig"]
    sweep = next(r for r in resources.values() if r["Type"] == "AWS::Events::Rule")
    assert sweep["Properties"]["Targets"][0]["Input"] == '{"relaykit": "sweep"}'
    health = resources["TargetGroup"]["Properties"]["HealthCheckPath"]
    assert health == "/healthz"


class _RecordingDynamoDB:
    """A stand-in DynamoDB client that records create_table's arguments."""

    def __init__(self) -> None:
        self.created: dict[str, Any] = {}

    def create_table(self, **kwargs: Any) -> None:
        self.created = kwargs

    def get_waiter(self, name: str) -> _RecordingDynamoDB:
        return self

    def wait(self, **kwargs: Any) -> None:
        return None

    def update_time_to_live(self, **kwargs: Any) -> None:
        self.ttl = kwargs["TimeToLiveSpecification"]


def test_table_matches_the_dynamodb_store(hybrid: App) -> None:
    """Key schema, attributes, indexes and TTL equal what DynamoDBStore.create_table makes."""
    client = _RecordingDynamoDB()
    DynamoDBStore("runs", dynamodb=client).create_table()
    table = sam_for(hybrid)["Resources"]["RunsTable"]["Properties"]
    for key in ("KeySchema", "GlobalSecondaryIndexes", "BillingMode"):
        assert table[key] == client.created[key]
    assert sorted(table["AttributeDefinitions"], key=str) == sorted(
        client.created["AttributeDefinitions"], key=str
    )
    assert table["TimeToLiveSpecification"] == client.ttl


def test_policies_are_scoped_to_the_apps_resources(hybrid: App) -> None:
    """No inline statement allows every resource; a workflow may invoke only itself."""
    resources = sam_for(hybrid)["Resources"]
    for name, resource in resources.items():
        for policy in resource.get("Properties", {}).get("Policies", []):
            statements = policy.get("Statement") or policy.get("PolicyDocument", {}).get(
                "Statement", []
            )
            for statement in statements:
                assert statement["Resource"] != "*", name
    research = resources["Research"]["Properties"]["Policies"][0]["Statement"]
    invoke = next(s for s in research if s["Action"] == "lambda:InvokeFunction")
    assert invoke["Resource"]["Fn::Sub"].endswith(":function:${AWS::StackName}-research")


def test_every_event_source_and_an_image_translate_clean(tmp_path: Path) -> None:
    """SQS, S3, DynamoDB Streams, schedules and EventBridge (examples/events_app.py), deployed
    as a Lambda container image, translate and lint clean."""
    import sys

    from support import ROOT

    sys.path.insert(0, str(ROOT / "examples"))
    try:
        import events_app
    finally:
        sys.path.remove(str(ROOT / "examples"))
    plan = build_plan(events_app.app, "events_app:app", code="image:123.dkr.ecr/app:1")
    cfn = translate(build_template(plan))
    assert cfn_lint(cfn, tmp_path) == ""
    kinds = sorted({r["Type"] for r in cfn["Resources"].values()})
    assert "AWS::Lambda::EventSourceMapping" in kinds and "AWS::Events::Rule" in kinds
    assert all(
        r["Properties"]["PackageType"] == "Image"
        for r in cfn["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function"
    )


def test_containers_only_app_and_jwt_routes_translate_clean(tmp_path: Path) -> None:
    """JWT on an HTTP API route and a container-only worker both produce valid templates."""
    jwt = {"auth": "jwt", "jwt_issuer": "https://issuer.example.com", "jwt_audience": "api"}
    placement = {"/ask": jwt, "sqs:orders": {"target": "container"}}
    cfn = translate(sam_for(make_app(placement, tmp_path)))
    assert cfn_lint(cfn, tmp_path) == ""
    assert "WorkerService" in cfn["Resources"]


def test_the_pipeline_catches_an_invalid_invoke_mode(hybrid: App, tmp_path: Path) -> None:
    """Translating then linting catches a bad InvokeMode (cfn-lint alone would not see it)."""
    template = sam_for(hybrid)
    template["Resources"]["Chat"]["Properties"]["FunctionUrlConfig"]["InvokeMode"] = "STREAM"
    try:
        findings = cfn_lint(translate(template), tmp_path)
    except Exception as exc:  # the translator itself may refuse it
        findings = str(exc)
    assert "STREAM" in findings


@pytest.mark.parametrize("fmt", ["sam", "terraform"])
def test_cli_writes_the_config(fmt: str, tmp_path: Path) -> None:
    """`relaykit deploy-config` writes a SAM template or a Terraform module."""
    import subprocess
    import sys

    from support import ROOT

    out = tmp_path / ("template.json" if fmt == "sam" else "infra")
    result = subprocess.run(
        [
            *(sys.executable, "-m", "relaykit", "deploy-config", "examples/deploy/hybrid.py"),
            *("--format", fmt, "-o", str(out)),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert (out if fmt == "sam" else out / "main.tf").is_file()

"""``relaykit deploy-config --format terraform``: HCL that parses and references only what it
declares."""

from __future__ import annotations

from pathlib import Path

from deploy.apps import make_app
from deploy.templates import undeclared_references
from relaykit import App
from relaykit.deploy.plan import build_plan
from relaykit.deploy.terraform import render_terraform


def test_hybrid_module_parses_and_references_only_declared_names(hybrid: App) -> None:
    """Every resource, data source and variable the module refers to is declared in it."""
    text = render_terraform(build_plan(hybrid, "hybrid:app", code="dist/support.zip"))
    assert undeclared_references(text) == []
    assert 'invoke_mode = "RESPONSE_STREAM"' in text
    assert '"ReportBatchItemFailures"' in text
    assert 'path = "/healthz"' in text
    assert 'input = "{\\"relaykit\\": \\"sweep\\"}"' in text


def test_every_source_kind_and_jwt_parse(tmp_path: Path) -> None:
    """A JWT route, a workflow and an SQS worker on containers: still only declared names."""
    jwt = {"auth": "jwt", "jwt_issuer": "https://issuer.example.com", "jwt_audience": "api"}
    app = make_app({"/ask": jwt, "sqs:orders": {"target": "container"}}, tmp_path)
    text = render_terraform(build_plan(app, "shop:app", code="image:repo/app:1"))
    assert undeclared_references(text) == []
    assert 'authorization_type = "JWT"' in text and 'resource "aws_ecs_service" "worker"' in text


def test_checker_finds_an_undeclared_reference() -> None:
    """The reference checker is not vacuous: a dangling reference is reported."""
    text = 'resource "aws_sqs_queue" "a" {\n  name = "${aws_sqs_queue.b.name}-${var.nope}"\n}\n'
    assert undeclared_references(text) == ["aws_sqs_queue.b", "var.nope"]

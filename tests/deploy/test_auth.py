"""Auth in the deploy config: placements with `api-key` or `jwt` on containers and Function URLs
(AuthType NONE, the app checks), `AWS_IAM` on Function URLs; the generated SAM, Terraform and
ECS config pass the auth settings and the IAM to read the keys, and the app accepts them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from deploy.templates import cfn_lint, translate, undeclared_references
from relaykit import App, ConfigError
from relaykit.auth.guard import build_guard
from relaykit.deploy.package import needed_extras
from relaykit.deploy.plan import Plan, build_plan
from relaykit.deploy.sam import build_template
from relaykit.deploy.terraform import render_terraform
from relaykit.settings import load_settings

SECRET = "prod/relaykit/keys"
JWT = {"auth": "jwt", "jwt_issuer": "https://id.example.com/", "jwt_audience": "shop-api"}


def make_app(placement: dict[str, Any], tmp: Path, **settings: Any) -> App:
    """A task, a second task, a stream and a workflow, placed by ``placement``."""
    app = App("shop", settings={"placement": placement, **settings}, config_dir=tmp)

    async def ask(question: str) -> str:
        return question

    async def status() -> str:
        return "ok"

    async def chat(question: str) -> Any:
        yield question

    async def research(question: str) -> str:
        return question

    app.add_task("/ask", ask)
    app.add_task("/status", status)
    app.add_stream("/chat", chat)
    app.add_workflow("/research", research)
    return app


def plan_for(app: App) -> Plan:
    return build_plan(app, "shop:app", code="dist/app.zip", image_ref="shop:app")


def containers(**ask: Any) -> dict[str, Any]:
    return {
        "defaults": {"target": "container"},
        "/ask": ask,
        "/chat": {"target": "lambda-stream", "auth": "AWS_IAM"},
    }


def test_container_api_keys_from_a_secret_in_sam(tmp_path: Path) -> None:
    """`auth = "api-key"` on a container handler: the ECS task gets RELAYKIT_AUTH and the
    secret's name (never a key), the other container handlers placed NONE become public paths
    next to /healthz, the task role may read just that secret, and the template lints clean."""
    app = make_app(containers(auth="api-key", api_keys_secret=SECRET), tmp_path)
    template = build_template(plan_for(app))
    cfn = translate(template)
    assert cfn_lint(cfn, tmp_path) == ""
    task = cfn["Resources"]["AppTask"]["Properties"]["ContainerDefinitions"][0]
    env = {item["Name"]: item["Value"] for item in task["Environment"]}
    assert env["RELAYKIT_AUTH"] == "api-key"
    assert env["RELAYKIT_AUTH_API_KEYS_SECRET"] == SECRET
    assert env["RELAYKIT_AUTH_PUBLIC_PATHS"] == "/healthz,/status,/research"
    policy = cfn["Resources"]["ContainerTaskRole"]["Properties"]["Policies"][0]
    statement = next(
        s
        for s in policy["PolicyDocument"]["Statement"]
        if s["Action"] == "secretsmanager:GetSecretValue"
    )
    assert statement["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:"
        f"secret:{SECRET}-??????"
    }
    assert cfn["Resources"]["ChatUrl"]["Properties"]["AuthType"] == "AWS_IAM"
    assert "api-key" not in json.dumps(cfn["Resources"]["Chat"]["Properties"]["Environment"])


def test_the_generated_environment_is_what_the_app_accepts(tmp_path: Path) -> None:
    """The container environment the plan generates loads as settings into a guard that
    protects /ask with the secret's keys and leaves /healthz and the NONE handlers open."""
    app = make_app(containers(auth="api-key", api_keys_secret=SECRET), tmp_path)
    plan = plan_for(app)
    settings = load_settings(app_name="shop", environ=plan.container_env, config_dir=tmp_path)
    guard = build_guard(None, settings)
    assert guard is not None and [a.method for a in guard.authenticators] == ["api-key"]
    assert guard.public_paths == {"/healthz", "/status", "/research"}
    assert not guard.is_public("/ask")
    guard.check_paths(spec.path for spec in app.handlers)


def test_function_url_api_keys_from_ssm_in_terraform(tmp_path: Path) -> None:
    """`auth = "api-key"` on a lambda-stream handler: the Function URL's AuthType is NONE with
    both public permissions, the function gets RELAYKIT_AUTH and the parameter's name, and its
    role may read just that parameter; the module references only what it declares."""
    placement = {
        "/chat": {"target": "lambda-stream", "auth": "api-key", "api_keys_parameter": "/shop/keys"}
    }
    app = make_app(placement, tmp_path)
    plan = plan_for(app)
    chat = next(f for f in plan.functions if f.placement.name == "/chat")
    assert chat.environment["RELAYKIT_AUTH"] == "api-key"
    assert chat.environment["RELAYKIT_AUTH_API_KEYS_PARAMETER"] == "/shop/keys"
    ask = next(f for f in plan.functions if f.placement.name == "/ask")  # AWS_IAM by default
    assert ask.environment["RELAYKIT_AUTH"] == "aws" and not ask.auth_statements
    text = render_terraform(plan)
    assert undeclared_references(text) == []
    url = text.split('resource "aws_lambda_function_url" "chat"', 1)[1].split("\n}\n", 1)[0]
    assert 'authorization_type = "NONE"' in url
    assert 'resource "aws_lambda_permission" "chat_invokefunctionurl"' in text
    assert (
        "arn:${data.aws_partition.current.partition}:ssm:${data.aws_region.current.name}:"
        "${data.aws_caller_identity.current.account_id}:parameter/shop/keys"
    ) in text.replace("\\", "")
    cfn = translate(build_template(plan))
    assert cfn_lint(cfn, tmp_path) == ""
    assert cfn["Resources"]["ChatUrl"]["Properties"]["AuthType"] == "NONE"


def test_iam_and_gateway_jwt_tell_the_app_who_called(tmp_path: Path) -> None:
    """AWS_IAM on a Function URL and jwt on an HTTP API route are enforced by AWS; the app is
    told `aws` so that it knows the caller (runs scoped per caller). A jwt container gets the
    issuer, audience and JWKS URL to verify tokens itself, and the package the auth extra."""
    placement = {
        "/chat": {"target": "lambda-stream", "auth": "AWS_IAM"},
        "/ask": JWT,
        "/status": {"target": "lambda-stream", **JWT, "jwt_jwks_url": "https://id.example.com/k"},
        "/research": {"target": "container", **JWT},
    }
    app = make_app(placement, tmp_path)
    plan = plan_for(app)
    env = {f.placement.name: f.environment for f in plan.functions}
    assert env["/chat"]["RELAYKIT_AUTH"] == "aws"
    assert env["/ask"]["RELAYKIT_AUTH"] == "aws"
    assert env["/status"]["RELAYKIT_AUTH"] == "jwt"
    assert env["/status"]["RELAYKIT_AUTH_JWT_JWKS_URL"] == "https://id.example.com/k"
    assert plan.container_env["RELAYKIT_AUTH"] == "jwt"
    assert plan.container_env["RELAYKIT_AUTH_JWT_ISSUER"] == "https://id.example.com/"
    assert plan.container_env["RELAYKIT_AUTH_JWT_AUDIENCE"] == "shop-api"
    cfn = translate(build_template(plan))
    assert cfn_lint(cfn, tmp_path) == ""
    assert cfn["Resources"]["ChatUrl"]["Properties"]["AuthType"] == "AWS_IAM"
    assert cfn["Resources"]["StatusUrl"]["Properties"]["AuthType"] == "NONE"
    assert "auth" in needed_extras(app)
    for environ in (env["/chat"], env["/status"], plan.container_env):
        settings = load_settings(app_name="shop", environ=environ, config_dir=tmp_path)
        assert build_guard(None, settings) is not None


@pytest.mark.parametrize(
    ("placement", "settings", "key", "reason"),
    [
        (containers(auth="api-key"), {}, 'placement."/ask".auth', "auth_api_keys_secret"),
        (
            containers(auth="api-key"),
            {"auth": "api-key", "auth_api_keys": "a:0123456789abcdef"},
            'placement."/chat".auth',
            "readable by anyone",
        ),
        (
            {
                "defaults": {"target": "container"},
                "/ask": {"auth": "api-key", "api_keys_secret": SECRET},
                "/status": JWT,
            },
            {},
            'placement."/status".auth',
            "one authentication",
        ),
        (
            containers(auth="api-key", api_keys_secret=SECRET),
            {"auth_public_paths": "/docs"},
            "auth_public_paths",
            "health check",
        ),
        (
            {"/ask": {"auth": "AWS_IAM", "api_keys_secret": SECRET}},
            {},
            'placement."/ask".api_keys_secret',
            "only applies with auth = api-key",
        ),
    ],
)
def test_auth_a_deployment_cannot_honour_is_refused(
    placement: dict[str, Any], settings: dict[str, Any], key: str, reason: str, tmp_path: Path
) -> None:
    """API keys not in AWS (or only in the template), two authentications on one container
    service, or a protected health check: a ConfigError naming the key and the reason."""
    app = make_app(placement, tmp_path, **settings)
    with pytest.raises(ConfigError) as caught:
        plan_for(app)
    assert key in str(caught.value) and reason in str(caught.value), str(caught.value)

"""``relaykit deploy-config --format terraform``: the plan as one Terraform module (``main.tf``)
for the AWS provider: the same functions, fronts, triggers, durable resources and IAM as the SAM
template. The container service (ECS/Fargate behind an ALB) is in ``terraform_ecs.py``."""

from __future__ import annotations

from typing import Any

from relaykit.deploy import terraform_ecs
from relaykit.deploy.hcl import Block, Expr, jsonencode, render
from relaykit.deploy.plan import (
    ASYNC_MAX_AGE,
    ASYNC_RETRIES,
    BLOB_PREFIX,
    DYNAMODB_ACTIONS,
    S3_ACTIONS,
    SQS_ACTIONS,
    STREAM_ACTIONS,
    SWEEP_INPUT,
    SWEEP_SCHEDULE,
    Function,
    Plan,
    cors_config,
    source_arn,
)

ARN = {
    "${Partition}": "${data.aws_partition.current.partition}",
    "${Region}": "${data.aws_region.current.name}",
    "${AccountId}": "${data.aws_caller_identity.current.account_id}",
}
STORE = "dynamodb://${aws_dynamodb_table.runs.name}?bucket=${aws_s3_bucket.runs.bucket}"


def arn(text: str) -> str:
    for name, value in ARN.items():
        text = text.replace(name, value)
    return text


def durable_statements() -> list[dict[str, Any]]:
    table = "${aws_dynamodb_table.runs.arn}"
    return [
        {
            "Effect": "Allow",
            "Action": list(DYNAMODB_ACTIONS),
            "Resource": [table, table + "/index/*"],
        },
        {
            "Effect": "Allow",
            "Action": list(S3_ACTIONS),
            "Resource": "${aws_s3_bucket.runs.arn}/" + BLOB_PREFIX + "*",
        },
    ]


def assume(service: str) -> Expr:
    statement = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    return jsonencode({"Version": "2012-10-17", "Statement": [statement]})


def _fname(fn: Function) -> str:
    return "${var.name}-" + fn.snake.replace("_", "-")


def _statements(fn: Function) -> list[dict[str, Any]]:
    statements = durable_statements() if fn.durable else []
    if fn.workflow:
        own = arn("arn:${Partition}:lambda:${Region}:${AccountId}:function:") + _fname(fn)
        statements.append({"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": own})
        failed = "${aws_sqs_queue.failed_invocations.arn}"
        statements.append({"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": failed})
    source = fn.source
    if source is not None and source.source in ("sqs", "s3") and source.queue:
        queue = arn(source_arn("sqs", source.queue))
        statements.append({"Effect": "Allow", "Action": list(SQS_ACTIONS), "Resource": queue})
    if source is not None and source.source == "dynamodb":
        stream = f"${{var.{fn.snake}_stream_arn}}"
        statements.append({"Effect": "Allow", "Action": list(STREAM_ACTIONS), "Resource": stream})
    statements += [{**s, "Resource": arn(s["Resource"])} for s in fn.auth_statements]
    return statements


def _rule(name: str, fn: Function, body: dict[str, Any], target: dict[str, Any]) -> list[Block]:
    ref = f"aws_lambda_function.{fn.snake}"
    return [
        Block("resource", ("aws_cloudwatch_event_rule", name), body),
        Block(
            "resource",
            ("aws_cloudwatch_event_target", name),
            {"rule": Expr(f"aws_cloudwatch_event_rule.{name}.name"), "arn": Expr(f"{ref}.arn")}
            | target,
        ),
        Block(
            "resource",
            ("aws_lambda_permission", name),
            {
                "action": "lambda:InvokeFunction",
                "function_name": Expr(f"{ref}.function_name"),
                "principal": "events.amazonaws.com",
                "source_arn": Expr(f"aws_cloudwatch_event_rule.{name}.arn"),
            },
        ),
    ]


def _triggers(fn: Function, plan: Plan) -> list[Block]:
    ref = f"aws_lambda_function.{fn.snake}"
    blocks: list[Block] = []
    body: dict[str, Any]
    if fn is plan.sweep:
        body = {"schedule_expression": SWEEP_SCHEDULE}
        blocks += _rule(f"{fn.snake}_sweep", fn, body, {"input": SWEEP_INPUT})
    source = fn.source
    if source is None:
        return blocks
    if source.source == "schedule" and source.expression:
        rule = (source.rule or fn.snake).rsplit("/", 1)[-1]
        body = {"name": rule, "schedule_expression": source.expression}
        blocks += _rule(fn.snake, fn, body, {})
    elif source.source == "eventbridge" and source.pattern:
        blocks += _rule(fn.snake, fn, {"event_pattern": jsonencode(dict(source.pattern))}, {})
    elif source.source == "s3" and not source.queue:
        detail: dict[str, Any] = {"bucket": {"name": [source.bucket]}}
        if source.prefix:
            detail["object"] = {"key": [{"prefix": source.prefix}]}
        pattern = {"source": ["aws.s3"], "detail-type": ["Object Created"], "detail": detail}
        blocks += _rule(fn.snake, fn, {"event_pattern": jsonencode(pattern)}, {})
    else:
        body = {
            "function_name": Expr(f"{ref}.arn"),
            "batch_size": 10,
            "function_response_types": ["ReportBatchItemFailures"],
        }
        if source.source == "dynamodb":
            body["event_source_arn"] = Expr(f"var.{fn.snake}_stream_arn")
            body["starting_position"] = "LATEST"
        else:
            body["event_source_arn"] = arn(source_arn("sqs", source.queue or ""))
        blocks.append(Block("resource", ("aws_lambda_event_source_mapping", fn.snake), body))
    return blocks


def _function(fn: Function, plan: Plan) -> list[Block]:
    p, name = fn.placement, fn.snake
    env = dict(fn.environment) | ({"RELAYKIT_STORE": STORE} if plan.durable else {})
    body: dict[str, Any] = {
        "function_name": _fname(fn),
        "role": Expr(f"aws_iam_role.{name}.arn"),
        "memory_size": p.memory,
        "timeout": p.function_timeout,
        "architectures": [plan.arch],
    }
    if plan.image:
        body |= {"package_type": "Image", "image_uri": Expr("var.image_uri")}
        env["APP_REF"] = plan.image_ref
    else:
        body |= {"filename": Expr("var.package"), "handler": fn.handler}
        body |= {"runtime": f"python{plan.python}"}
        body["source_code_hash"] = Expr("filebase64sha256(var.package)")
    if p.concurrency:
        body["reserved_concurrent_executions"] = p.concurrency
    body["environment"] = Block("environment", (), {"variables": env})
    blocks = [
        Block(
            "resource",
            ("aws_iam_role", name),
            {"assume_role_policy": assume("lambda.amazonaws.com")},
        ),
        Block(
            "resource",
            ("aws_iam_role_policy_attachment", f"{name}_logs"),
            {
                "role": Expr(f"aws_iam_role.{name}.name"),
                "policy_arn": arn("arn:${Partition}:iam::aws:policy/service-role/")
                + "AWSLambdaBasicExecutionRole",
            },
        ),
        Block("resource", ("aws_lambda_function", name), body),
    ]
    statements = _statements(fn)
    if statements:
        policy = jsonencode({"Version": "2012-10-17", "Statement": statements})
        blocks.append(
            Block(
                "resource",
                ("aws_iam_role_policy", name),
                {"role": Expr(f"aws_iam_role.{name}.id"), "policy": policy},
            )
        )
    if fn.streaming:
        url: dict[str, Any] = {
            "function_name": Expr(f"aws_lambda_function.{name}.function_name"),
            "authorization_type": p.url_auth,
            "invoke_mode": "RESPONSE_STREAM",
        }
        cors = cors_config(p)
        if cors:
            url["cors"] = Block("cors", (), {_snake(k): v for k, v in cors.items()})
        blocks.append(Block("resource", ("aws_lambda_function_url", name), url))
        if p.url_auth == "NONE":  # public URLs need both permissions since October 2025
            for action in ("InvokeFunctionUrl", "InvokeFunction"):
                permission: dict[str, Any] = {
                    "action": f"lambda:{action}",
                    "function_name": Expr(f"aws_lambda_function.{name}.function_name"),
                    "principal": "*",
                }
                if action == "InvokeFunctionUrl":
                    permission["function_url_auth_type"] = "NONE"
                blocks.append(
                    Block(
                        "resource",
                        ("aws_lambda_permission", f"{name}_{action.lower()}"),
                        permission,
                    )
                )
    if fn.workflow:
        failure = {"destination": Expr("aws_sqs_queue.failed_invocations.arn")}
        destination = Block(
            "destination_config", (), {"on_failure": Block("on_failure", (), failure)}
        )
        blocks.append(
            Block(
                "resource",
                ("aws_lambda_function_event_invoke_config", name),
                {
                    "function_name": Expr(f"aws_lambda_function.{name}.function_name"),
                    "maximum_retry_attempts": ASYNC_RETRIES,
                    "maximum_event_age_in_seconds": ASYNC_MAX_AGE,
                    "destination_config": destination,
                },
            )
        )
    return blocks + _triggers(fn, plan)


def _snake(key: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in key).lstrip("_")


def render_terraform(plan: Plan) -> str:
    """The Terraform module as HCL text."""
    from relaykit.deploy.terraform_http import http_api_blocks, shared_blocks

    blocks = shared_blocks(plan)
    for fn in plan.functions:
        blocks += _function(fn, plan)
    blocks += http_api_blocks(plan)
    env = {"RELAYKIT_STORE": STORE} if plan.durable else {}
    blocks += terraform_ecs.blocks(plan, env, durable_statements() if plan.durable else [])
    header = (
        f"# relaykit app {plan.app}: generated by relaykit deploy-config --format terraform\n\n"
    )
    return header + "\n\n".join(render(block) for block in blocks) + "\n"

"""Terraform blocks shared by every function: variables, data sources, the durable table and
bucket, the failed-invocation queue, and the API Gateway HTTP API of the buffered handlers."""

from __future__ import annotations

from typing import Any

from relaykit.deploy.hcl import Block, Expr
from relaykit.deploy.plan import Plan, cors_config


def _variable(name: str, kind: str, description: str, default: Any = None) -> Block:
    body: dict[str, Any] = {"type": Expr(kind), "description": description}
    if default is not None:
        body["default"] = default
    return Block("variable", (name,), body)


def shared_blocks(plan: Plan) -> list[Block]:
    """Providers, variables, data sources and the durable resources."""
    aws = {"source": "hashicorp/aws", "version": ">= 5.0"}
    blocks = [
        Block(
            "terraform",
            (),
            {"required_providers": Block("required_providers", (), {"aws": aws})},
        ),
        _variable("name", "string", "prefix of every resource name", plan.app),
    ]
    if plan.image:
        blocks.append(_variable("image_uri", "string", "the Dockerfile image in ECR"))
    elif plan.functions:
        blocks.append(_variable("package", "string", "the zip from relaykit package", plan.code))
    if plan.containers or plan.workers:
        blocks.append(_variable("container_image", "string", "the Dockerfile image URI"))
        blocks.append(_variable("vpc_id", "string", "the VPC of the container service"))
        blocks.append(_variable("subnet_ids", "list(string)", "subnets for the ALB and tasks"))
    for fn in plan.functions:
        if fn.source is not None and fn.source.source == "dynamodb":
            description = f"the stream ARN of the DynamoDB table {fn.source.table}"
            blocks.append(_variable(f"{fn.snake}_stream_arn", "string", description))
    for data in ("aws_partition", "aws_region", "aws_caller_identity"):
        blocks.append(Block("data", (data, "current"), {}))
    if plan.durable:
        blocks += _durable()
    if any(f.workflow for f in plan.functions):
        blocks.append(
            Block(
                "resource",
                ("aws_sqs_queue", "failed_invocations"),
                {"name": "${var.name}-failed-invocations", "message_retention_seconds": 1209600},
            )
        )
    return blocks


def _durable() -> list[Block]:
    attributes = [("pk", "S"), ("sk", "S"), ("due_pk", "S"), ("kind", "S")]
    attributes += [("due_at", "N"), ("created_at", "N")]
    table: dict[str, Any] = {
        "name": "${var.name}-runs",
        "billing_mode": "PAY_PER_REQUEST",
        "hash_key": "pk",
        "range_key": "sk",
        "attributes": [
            Block("attribute", (), {"name": name, "type": kind}) for name, kind in attributes
        ],
        "indexes": [
            Block(
                "global_secondary_index",
                (),
                {"name": name, "hash_key": h, "range_key": r, "projection_type": "ALL"},
            )
            for name, h, r in (("due", "due_pk", "due_at"), ("runs", "kind", "created_at"))
        ],
        "ttl": Block("ttl", (), {"attribute_name": "expires_at", "enabled": True}),
        "pitr": Block("point_in_time_recovery", (), {"enabled": True}),
    }
    bucket = Expr("aws_s3_bucket.runs.id")
    sse = {
        "apply_server_side_encryption_by_default": Block(
            "apply_server_side_encryption_by_default", (), {"sse_algorithm": "AES256"}
        )
    }
    return [
        Block("resource", ("aws_dynamodb_table", "runs"), table),
        Block("resource", ("aws_s3_bucket", "runs"), {"bucket_prefix": "${var.name}-runs-"}),
        Block(
            "resource",
            ("aws_s3_bucket_public_access_block", "runs"),
            {
                "bucket": bucket,
                "block_public_acls": True,
                "block_public_policy": True,
                "ignore_public_acls": True,
                "restrict_public_buckets": True,
            },
        ),
        Block(
            "resource",
            ("aws_s3_bucket_server_side_encryption_configuration", "runs"),
            {"bucket": bucket, "rule": Block("rule", (), sse)},
        ),
    ]


def http_api_blocks(plan: Plan) -> list[Block]:
    """The HTTP API, one integration per buffered function, its routes and permissions."""
    functions = plan.http_api
    if not functions:
        return []
    api: dict[str, Any] = {"name": "${var.name}", "protocol_type": "HTTP"}
    origins = sorted({o for f in functions for o in f.placement.cors})
    if origins:
        cors = cors_config(functions[0].placement) or {}
        api["cors"] = Block(
            "cors_configuration",
            (),
            {
                "allow_origins": origins,
                "allow_methods": cors["AllowMethods"],
                "allow_headers": cors["AllowHeaders"],
                "expose_headers": cors["ExposeHeaders"],
                "max_age": cors["MaxAge"],
            },
        )
    blocks = [
        Block("resource", ("aws_apigatewayv2_api", "http"), api),
        Block(
            "resource",
            ("aws_apigatewayv2_stage", "default"),
            {
                "api_id": Expr("aws_apigatewayv2_api.http.id"),
                "name": "$default",
                "auto_deploy": True,
            },
        ),
    ]
    for fn in functions:
        p, name = fn.placement, fn.snake
        fn_ref = f"aws_lambda_function.{name}"
        blocks.append(
            Block(
                "resource",
                ("aws_apigatewayv2_integration", name),
                {
                    "api_id": Expr("aws_apigatewayv2_api.http.id"),
                    "integration_type": "AWS_PROXY",
                    "integration_uri": Expr(f"{fn_ref}.invoke_arn"),
                    "payload_format_version": "2.0",
                    "timeout_milliseconds": min(p.timeout, 30) * 1000,
                },
            )
        )
        if p.auth == "jwt":
            blocks.append(
                Block(
                    "resource",
                    ("aws_apigatewayv2_authorizer", name),
                    {
                        "api_id": Expr("aws_apigatewayv2_api.http.id"),
                        "authorizer_type": "JWT",
                        "name": f"{name}-jwt",
                        "identity_sources": ["$request.header.Authorization"],
                        "jwt": Block(
                            "jwt_configuration",
                            (),
                            {"issuer": p.jwt_issuer, "audience": [p.jwt_audience]},
                        ),
                    },
                )
            )
        keys = [f"POST {p.name}"]
        if fn is plan.runs_api:
            keys += ["ANY /runs", "ANY /runs/{proxy+}"]
        for index, key in enumerate(keys):
            route: dict[str, Any] = {
                "api_id": Expr("aws_apigatewayv2_api.http.id"),
                "route_key": key,
                "target": f"integrations/${{aws_apigatewayv2_integration.{name}.id}}",
            }
            if p.auth == "AWS_IAM":
                route["authorization_type"] = "AWS_IAM"
            elif p.auth == "jwt":
                route["authorization_type"] = "JWT"
                route["authorizer_id"] = Expr(f"aws_apigatewayv2_authorizer.{name}.id")
            blocks.append(Block("resource", ("aws_apigatewayv2_route", f"{name}_{index}"), route))
        blocks.append(
            Block(
                "resource",
                ("aws_lambda_permission", f"{name}_http_api"),
                {
                    "action": "lambda:InvokeFunction",
                    "function_name": Expr(f"{fn_ref}.function_name"),
                    "principal": "apigateway.amazonaws.com",
                    "source_arn": "${aws_apigatewayv2_api.http.execution_arn}/*/*",
                },
            )
        )
    blocks.append(
        Block(
            "output", ("http_api_url",), {"value": Expr("aws_apigatewayv2_api.http.api_endpoint")}
        )
    )
    return blocks

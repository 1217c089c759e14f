"""``relaykit deploy-config --format sam``: the plan as an AWS SAM template (JSON, which SAM and
CloudFormation accept as well as YAML). Event source mappings are plain
``AWS::Lambda::EventSourceMapping`` resources, not SAM events, so that every IAM statement is the
template's own and scoped to the one queue or stream (SAM's SQS and DynamoDB events attach
AWS-managed policies that allow every queue and stream in the account)."""

from __future__ import annotations

import json
from typing import Any

from relaykit.deploy.ecs import container_resources, sub
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

STORE = "dynamodb://${RunsTable}?bucket=${RunsBucket}"


def durable_statements() -> list[dict[str, Any]]:
    """Access to the durable table (and its indexes) and the bucket's value prefix."""
    table = {"Fn::GetAtt": ["RunsTable", "Arn"]}
    return [
        {
            "Effect": "Allow",
            "Action": list(DYNAMODB_ACTIONS),
            "Resource": [table, {"Fn::Sub": "${RunsTable.Arn}/index/*"}],
        },
        {
            "Effect": "Allow",
            "Action": list(S3_ACTIONS),
            "Resource": {"Fn::Sub": "${RunsBucket.Arn}/" + BLOB_PREFIX + "*"},
        },
    ]


def _name(fn: Function) -> dict[str, str]:
    return {"Fn::Sub": "${AWS::StackName}-" + fn.snake.replace("_", "-")}


def _statements(fn: Function, plan: Plan) -> list[dict[str, Any]]:
    statements = durable_statements() if fn.durable else []
    if fn.workflow:  # continuations and sweeps invoke the function itself
        arn = "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:"
        own = {"Fn::Sub": arn + "${AWS::StackName}-" + fn.snake.replace("_", "-")}
        statements.append({"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": own})
        failed = {"Fn::GetAtt": ["FailedInvocations", "Arn"]}
        statements.append({"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": failed})
    source = fn.source
    if source is not None and source.source in ("sqs", "s3") and source.queue:
        arn_sqs = sub(source_arn("sqs", source.queue))
        statements.append({"Effect": "Allow", "Action": list(SQS_ACTIONS), "Resource": arn_sqs})
    if source is not None and source.source == "dynamodb":
        stream = {"Ref": f"{fn.key}StreamArn"}
        statements.append({"Effect": "Allow", "Action": list(STREAM_ACTIONS), "Resource": stream})
    statements += [{**s, "Resource": sub(s["Resource"])} for s in fn.auth_statements]
    return statements


def _events(fn: Function, plan: Plan) -> dict[str, Any]:
    p = fn.placement
    events: dict[str, Any] = {}
    if fn in plan.http_api:
        paths = [p.name] + (["/runs", "/runs/{proxy+}"] if fn is plan.runs_api else [])
        for index, path in enumerate(paths):
            props: dict[str, Any] = {
                "ApiId": {"Ref": "HttpApi"},
                "Path": path,
                "Method": "POST" if index == 0 else "ANY",
                "PayloadFormatVersion": "2.0",
                "TimeoutInMillis": min(p.timeout, 30) * 1000,
            }
            if p.auth == "AWS_IAM":
                props["Auth"] = {"Authorizer": "AWS_IAM"}
            elif p.auth == "jwt":
                props["Auth"] = {"Authorizer": f"Jwt{fn.key}"}
            events[f"Route{index}"] = {"Type": "HttpApi", "Properties": props}
    if fn is plan.sweep:
        events["Sweep"] = {
            "Type": "Schedule",
            "Properties": {"Schedule": SWEEP_SCHEDULE, "Input": SWEEP_INPUT},
        }
    source = fn.source
    if source is not None and source.source == "schedule" and source.expression:
        rule = (source.rule or fn.snake).rsplit("/", 1)[-1]
        events["Schedule"] = {
            "Type": "Schedule",
            "Properties": {"Schedule": source.expression, "Name": rule},
        }
    if source is not None and source.source == "eventbridge" and source.pattern:
        events["Rule"] = {
            "Type": "EventBridgeRule",
            "Properties": {"Pattern": dict(source.pattern)},
        }
    if source is not None and source.source == "s3" and not source.queue:
        detail: dict[str, Any] = {"bucket": {"name": [source.bucket]}}
        if source.prefix:
            detail["object"] = {"key": [{"prefix": source.prefix}]}
        pattern = {"source": ["aws.s3"], "detail-type": ["Object Created"], "detail": detail}
        events["Objects"] = {"Type": "EventBridgeRule", "Properties": {"Pattern": pattern}}
    return events


def _function(fn: Function, plan: Plan) -> dict[str, Any]:
    p = fn.placement
    env = dict(fn.environment)
    if plan.durable:
        env["RELAYKIT_STORE"] = STORE
    props: dict[str, Any] = {
        "FunctionName": _name(fn),
        "MemorySize": p.memory,
        "Timeout": p.function_timeout,
        "Architectures": [plan.arch],
        "Environment": {
            "Variables": {k: {"Fn::Sub": v} if "${" in v else v for k, v in env.items()}
        },
    }
    if plan.image:
        props.update(PackageType="Image", ImageUri=plan.image)
        props["Environment"]["Variables"]["APP_REF"] = plan.image_ref
    else:
        props.update(CodeUri=plan.code, Handler=fn.handler, Runtime=f"python{plan.python}")
    if p.concurrency:
        props["ReservedConcurrentExecutions"] = p.concurrency
    statements = _statements(fn, plan)
    if statements:
        props["Policies"] = [{"Version": "2012-10-17", "Statement": statements}]
    if fn.streaming:
        url: dict[str, Any] = {"AuthType": p.url_auth, "InvokeMode": "RESPONSE_STREAM"}
        cors = cors_config(p)
        if cors:
            url["Cors"] = cors
        props["FunctionUrlConfig"] = url
    events = _events(fn, plan)
    if events:
        props["Events"] = events
    if fn.workflow:
        props["EventInvokeConfig"] = {
            "MaximumRetryAttempts": ASYNC_RETRIES,
            "MaximumEventAgeInSeconds": ASYNC_MAX_AGE,
            "DestinationConfig": {
                "OnFailure": {
                    "Type": "SQS",
                    "Destination": {"Fn::GetAtt": ["FailedInvocations", "Arn"]},
                }
            },
        }
    return {"Type": "AWS::Serverless::Function", "Properties": props}


def _mapping(fn: Function) -> dict[str, Any] | None:
    source = fn.source
    if source is None or source.source not in ("sqs", "dynamodb", "s3"):
        return None
    props: dict[str, Any] = {
        "FunctionName": {"Ref": fn.key},
        "BatchSize": 10,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
    }
    if source.source == "dynamodb":
        props.update(EventSourceArn={"Ref": f"{fn.key}StreamArn"}, StartingPosition="LATEST")
    elif source.queue:
        props["EventSourceArn"] = sub(source_arn("sqs", source.queue))
    else:
        return None
    return {"Type": "AWS::Lambda::EventSourceMapping", "Properties": props}


def _durable_resources() -> dict[str, Any]:
    strings = [("pk", "S"), ("sk", "S"), ("due_pk", "S"), ("kind", "S")]
    numbers = [("due_at", "N"), ("created_at", "N")]

    def gsi(name: str, hash_key: str, range_key: str) -> dict[str, Any]:
        keys = [
            {"AttributeName": hash_key, "KeyType": "HASH"},
            {"AttributeName": range_key, "KeyType": "RANGE"},
        ]
        return {"IndexName": name, "KeySchema": keys, "Projection": {"ProjectionType": "ALL"}}

    keep = {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}
    return {
        "RunsTable": {
            "Type": "AWS::DynamoDB::Table",
            **keep,
            "Properties": {
                "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [
                    {"AttributeName": n, "AttributeType": t} for n, t in strings + numbers
                ],
                "KeySchema": [
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"},
                ],
                "GlobalSecondaryIndexes": [
                    gsi("due", "due_pk", "due_at"),
                    gsi("runs", "kind", "created_at"),
                ],
                "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": True},
                "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            },
        },
        "RunsBucket": {
            "Type": "AWS::S3::Bucket",
            **keep,
            "Properties": {
                "BucketEncryption": {
                    "ServerSideEncryptionConfiguration": [
                        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
                    ]
                },
                "PublicAccessBlockConfiguration": {
                    "BlockPublicAcls": True,
                    "BlockPublicPolicy": True,
                    "IgnorePublicAcls": True,
                    "RestrictPublicBuckets": True,
                },
                "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
            },
        },
    }


def _http_api(plan: Plan) -> dict[str, Any]:
    auth: dict[str, Any] = {}
    if any(f.placement.auth == "AWS_IAM" for f in plan.http_api):
        auth["EnableIamAuthorizer"] = True
    jwt = {
        f"Jwt{f.key}": {
            "IdentitySource": "$request.header.Authorization",
            "JwtConfiguration": {
                "issuer": f.placement.jwt_issuer,
                "audience": [f.placement.jwt_audience],
            },
        }
        for f in plan.http_api
        if f.placement.auth == "jwt"
    }
    if jwt:
        auth["Authorizers"] = jwt
    props: dict[str, Any] = {"Auth": auth} if auth else {}
    origins = sorted({o for f in plan.http_api for o in f.placement.cors})
    if origins:
        cors = cors_config(plan.http_api[0].placement) or {}
        props["CorsConfiguration"] = {**cors, "AllowOrigins": origins}
    return {"Type": "AWS::Serverless::HttpApi", "Properties": props}


def build_template(plan: Plan) -> dict[str, Any]:
    """The SAM template as a dict."""
    parameters: dict[str, Any] = {}
    resources: dict[str, Any] = {}
    outputs: dict[str, Any] = {}
    for fn in plan.functions:
        resources[fn.key] = _function(fn, plan)
        mapping = _mapping(fn)
        if mapping:
            resources[f"{fn.key}Mapping"] = mapping
        if fn.source is not None and fn.source.source == "dynamodb":
            parameters[f"{fn.key}StreamArn"] = {
                "Type": "String",
                "Description": f"The stream ARN of the DynamoDB table {fn.source.table}",
            }
        if fn.streaming:
            outputs[f"{fn.key}Url"] = {"Value": {"Fn::GetAtt": [f"{fn.key}Url", "FunctionUrl"]}}
    if plan.http_api:
        resources["HttpApi"] = _http_api(plan)
        outputs["HttpApiUrl"] = {
            "Value": {"Fn::Sub": "https://${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}"}
        }
    if plan.durable:
        resources.update(_durable_resources())
    if any(f.workflow for f in plan.functions):
        resources["FailedInvocations"] = {
            "Type": "AWS::SQS::Queue",
            "Properties": {"MessageRetentionPeriod": 1209600},
        }
    env = {"RELAYKIT_STORE": {"Fn::Sub": STORE}} if plan.durable else {}
    resources.update(container_resources(plan, env, durable_statements() if plan.durable else []))
    if plan.containers or plan.workers:
        parameters["ContainerImage"] = {"Type": "String", "Description": "the Dockerfile image URI"}
        parameters["VpcId"] = {"Type": "AWS::EC2::VPC::Id"}
        parameters["SubnetIds"] = {"Type": "List<AWS::EC2::Subnet::Id>"}
    if plan.containers:
        outputs["ContainerUrl"] = {"Value": {"Fn::Sub": "http://${LoadBalancer.DNSName}"}}
    template: dict[str, Any] = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Transform": "AWS::Serverless-2016-10-31",
        "Description": f"relaykit app {plan.app} (generated by relaykit deploy-config)",
    }
    if parameters:
        template["Parameters"] = parameters
    template["Resources"] = resources
    if outputs:
        template["Outputs"] = outputs
    return template


def render_sam(plan: Plan) -> str:
    """The SAM template as JSON text."""
    return json.dumps(build_template(plan), indent=2) + "\n"

"""CloudFormation resources for the container placements: one ECS/Fargate service for the HTTP
handlers behind an ALB (health check ``/healthz``), and one ``relaykit worker`` service for event
sources placed on ``container``. Both run the repository's Dockerfile image; its entry point
serves with ``relaykit serve`` when ``AWS_LAMBDA_RUNTIME_API`` is not set.
"""

from __future__ import annotations

from typing import Any

from relaykit.deploy.plan import SQS_ACTIONS, Plan, fargate_size, source_arn

PORT = 8000


def sub(text: str) -> dict[str, str]:
    """``Fn::Sub`` with the plan's ``${Partition}``-style names mapped to pseudo parameters."""
    for name in ("Partition", "Region", "AccountId"):
        text = text.replace("${" + name + "}", "${AWS::" + name + "}")
    return {"Fn::Sub": text}


def _task(
    plan: Plan, family: str, env: dict[str, Any], command: list[str] | None
) -> dict[str, Any]:
    cpu, memory = fargate_size(plan.containers)
    container: dict[str, Any] = {
        "Name": "app",
        "Image": {"Ref": "ContainerImage"},
        "Essential": True,
        "Environment": [{"Name": k, "Value": v} for k, v in sorted(env.items())],
        "LogConfiguration": {
            "LogDriver": "awslogs",
            "Options": {
                "awslogs-group": {"Ref": "ContainerLogs"},
                "awslogs-region": {"Ref": "AWS::Region"},
                "awslogs-stream-prefix": family,
            },
        },
    }
    if command is None:
        container["PortMappings"] = [{"ContainerPort": PORT, "Protocol": "tcp"}]
    else:
        container["EntryPoint"] = ["relaykit"]
        container["Command"] = command
    return {
        "Type": "AWS::ECS::TaskDefinition",
        "Properties": {
            "Family": {"Fn::Sub": "${AWS::StackName}-" + family},
            "RequiresCompatibilities": ["FARGATE"],
            "NetworkMode": "awsvpc",
            "Cpu": str(cpu),
            "Memory": str(memory),
            "RuntimePlatform": {
                "CpuArchitecture": "ARM64" if plan.arch == "arm64" else "X86_64",
                "OperatingSystemFamily": "LINUX",
            },
            "ExecutionRoleArn": {"Fn::GetAtt": ["ContainerExecutionRole", "Arn"]},
            "TaskRoleArn": {"Fn::GetAtt": ["ContainerTaskRole", "Arn"]},
            "ContainerDefinitions": [container],
        },
    }


def _role(service: str, statements: list[dict[str, Any]], managed: list[Any]) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "AssumeRolePolicyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": service},
                    "Action": "sts:AssumeRole",
                }
            ],
        },
    }
    if managed:
        properties["ManagedPolicyArns"] = managed
    if statements:
        properties["Policies"] = [
            {
                "PolicyName": "relaykit",
                "PolicyDocument": {"Version": "2012-10-17", "Statement": statements},
            }
        ]
    return {"Type": "AWS::IAM::Role", "Properties": properties}


def _service(task: str, desired: int, balanced: bool) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "Cluster": {"Ref": "Cluster"},
        "LaunchType": "FARGATE",
        "TaskDefinition": {"Ref": task},
        "DesiredCount": desired,
        "NetworkConfiguration": {
            "AwsvpcConfiguration": {
                "AssignPublicIp": "ENABLED",
                "Subnets": {"Ref": "SubnetIds"},
                "SecurityGroups": [{"Ref": "TaskSecurityGroup"}],
            }
        },
    }
    resource: dict[str, Any] = {"Type": "AWS::ECS::Service", "Properties": properties}
    if balanced:
        properties["LoadBalancers"] = [
            {
                "ContainerName": "app",
                "ContainerPort": PORT,
                "TargetGroupArn": {"Ref": "TargetGroup"},
            }
        ]
        properties["HealthCheckGracePeriodSeconds"] = 30
        resource["DependsOn"] = ["Listener"]
    return resource


def _load_balancer(resources: dict[str, Any]) -> None:
    resources["AlbSecurityGroup"] = {
        "Type": "AWS::EC2::SecurityGroup",
        "Properties": {
            "GroupDescription": "relaykit ALB: HTTP from anywhere",
            "VpcId": {"Ref": "VpcId"},
            "SecurityGroupIngress": [
                {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "CidrIp": "0.0.0.0/0"}
            ],
        },
    }
    resources["TaskIngress"] = {
        "Type": "AWS::EC2::SecurityGroupIngress",
        "Properties": {
            "GroupId": {"Fn::GetAtt": ["TaskSecurityGroup", "GroupId"]},
            "IpProtocol": "tcp",
            "FromPort": PORT,
            "ToPort": PORT,
            "SourceSecurityGroupId": {"Fn::GetAtt": ["AlbSecurityGroup", "GroupId"]},
        },
    }
    resources["LoadBalancer"] = {
        "Type": "AWS::ElasticLoadBalancingV2::LoadBalancer",
        "Properties": {
            "Scheme": "internet-facing",
            "Subnets": {"Ref": "SubnetIds"},
            "SecurityGroups": [{"Ref": "AlbSecurityGroup"}],
        },
    }
    resources["TargetGroup"] = {
        "Type": "AWS::ElasticLoadBalancingV2::TargetGroup",
        "Properties": {
            "TargetType": "ip",
            "Protocol": "HTTP",
            "Port": PORT,
            "VpcId": {"Ref": "VpcId"},
            "HealthCheckPath": "/healthz",
            "Matcher": {"HttpCode": "200"},
        },
    }
    resources["Listener"] = {
        "Type": "AWS::ElasticLoadBalancingV2::Listener",
        "Properties": {
            "LoadBalancerArn": {"Ref": "LoadBalancer"},
            "Port": 80,
            "Protocol": "HTTP",
            "DefaultActions": [{"Type": "forward", "TargetGroupArn": {"Ref": "TargetGroup"}}],
        },
    }


def container_resources(
    plan: Plan, env: dict[str, Any], durable: list[dict[str, Any]]
) -> dict[str, Any]:
    """The resources of the container service and worker (empty when nothing is placed there)."""
    if not plan.containers and not plan.workers:
        return {}
    queues = [sub(source_arn("sqs", s.queue)) for s in plan.workers if s.queue]
    statements = list(durable)
    statements += [{**s, "Resource": sub(s["Resource"])} for s in plan.container_statements]
    if queues:
        statements.append({"Effect": "Allow", "Action": list(SQS_ACTIONS), "Resource": queues})
    execution = (
        "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
    )
    resources: dict[str, Any] = {
        "Cluster": {"Type": "AWS::ECS::Cluster", "Properties": {}},
        "ContainerLogs": {"Type": "AWS::Logs::LogGroup", "Properties": {"RetentionInDays": 30}},
        "ContainerExecutionRole": _role("ecs-tasks.amazonaws.com", [], [{"Fn::Sub": execution}]),
        "ContainerTaskRole": _role("ecs-tasks.amazonaws.com", statements, []),
        "TaskSecurityGroup": {
            "Type": "AWS::EC2::SecurityGroup",
            "Properties": {
                "GroupDescription": "relaykit tasks",
                "VpcId": {"Ref": "VpcId"},
            },
        },
    }
    app_env = {
        "APP_REF": plan.image_ref,
        "RELAYKIT_TARGET": "container",
        **env,
        **plan.container_env,
    }
    if plan.containers:
        desired = max((p.concurrency or 1) for p in plan.containers)
        resources["AppTask"] = _task(plan, "app", {**app_env, "PORT": str(PORT)}, None)
        resources["AppService"] = _service("AppTask", desired, balanced=True)
        _load_balancer(resources)
    if plan.workers:
        resources["WorkerTask"] = _task(plan, "worker", app_env, ["worker", plan.image_ref])
        resources["WorkerService"] = _service("WorkerTask", 1, balanced=False)
    return resources

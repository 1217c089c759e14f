"""Terraform blocks of the container placements: an ECS/Fargate service for the HTTP handlers
behind an ALB (health check ``/healthz``) and a ``relaykit worker`` service for event sources
placed on ``container``, both from the repository's Dockerfile image (see ``ecs.py``)."""

from __future__ import annotations

from typing import Any

from relaykit.deploy.ecs import PORT
from relaykit.deploy.hcl import Block, Expr, jsonencode
from relaykit.deploy.plan import SQS_ACTIONS, Plan, fargate_size, source_arn


def _res(kind: str, name: str, body: dict[str, Any]) -> Block:
    return Block("resource", (kind, name), body)


def _task(plan: Plan, family: str, env: dict[str, str], command: list[str] | None) -> Block:
    cpu, memory = fargate_size(plan.containers)
    container: dict[str, Any] = {
        "name": "app",
        "image": "${var.container_image}",
        "essential": True,
        "environment": [{"name": k, "value": v} for k, v in sorted(env.items())],
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": "${aws_cloudwatch_log_group.containers.name}",
                "awslogs-region": "${data.aws_region.current.name}",
                "awslogs-stream-prefix": family,
            },
        },
    }
    if command is None:
        container["portMappings"] = [{"containerPort": PORT, "protocol": "tcp"}]
    else:
        container |= {"entryPoint": ["relaykit"], "command": command}
    return _res(
        "aws_ecs_task_definition",
        family,
        {
            "family": f"${{var.name}}-{family}",
            "requires_compatibilities": ["FARGATE"],
            "network_mode": "awsvpc",
            "cpu": str(cpu),
            "memory": str(memory),
            "execution_role_arn": Expr("aws_iam_role.container_execution.arn"),
            "task_role_arn": Expr("aws_iam_role.container_task.arn"),
            "container_definitions": jsonencode([container]),
            "runtime_platform": Block(
                "runtime_platform",
                (),
                {
                    "cpu_architecture": "ARM64" if plan.arch == "arm64" else "X86_64",
                    "operating_system_family": "LINUX",
                },
            ),
        },
    )


def _service(name: str, desired: int, balanced: bool) -> Block:
    network = {
        "subnets": Expr("var.subnet_ids"),
        "security_groups": [Expr("aws_security_group.tasks.id")],
        "assign_public_ip": True,
    }
    body: dict[str, Any] = {
        "name": f"${{var.name}}-{name}",
        "cluster": Expr("aws_ecs_cluster.app.id"),
        "task_definition": Expr(f"aws_ecs_task_definition.{name}.arn"),
        "launch_type": "FARGATE",
        "desired_count": desired,
        "network_configuration": Block("network_configuration", (), network),
    }
    if balanced:
        body["load_balancer"] = Block(
            "load_balancer",
            (),
            {
                "target_group_arn": Expr("aws_lb_target_group.app.arn"),
                "container_name": "app",
                "container_port": PORT,
            },
        )
        body["depends_on"] = [Expr("aws_lb_listener.http")]
    return _res("aws_ecs_service", name, body)


def _load_balancer() -> list[Block]:
    anywhere = {"from_port": 80, "to_port": 80, "protocol": "tcp", "cidr_blocks": ["0.0.0.0/0"]}
    out = {"from_port": 0, "to_port": 0, "protocol": "-1", "cidr_blocks": ["0.0.0.0/0"]}
    return [
        _res(
            "aws_security_group",
            "alb",
            {
                "name_prefix": "${var.name}-alb-",
                "vpc_id": Expr("var.vpc_id"),
                "ingress": Block("ingress", (), anywhere),
                "egress": Block("egress", (), out),
            },
        ),
        _res(
            "aws_security_group_rule",
            "tasks_from_alb",
            {
                "type": "ingress",
                "security_group_id": Expr("aws_security_group.tasks.id"),
                "source_security_group_id": Expr("aws_security_group.alb.id"),
                "from_port": PORT,
                "to_port": PORT,
                "protocol": "tcp",
            },
        ),
        _res(
            "aws_lb",
            "app",
            {
                "name_prefix": "rk-",
                "load_balancer_type": "application",
                "subnets": Expr("var.subnet_ids"),
                "security_groups": [Expr("aws_security_group.alb.id")],
            },
        ),
        _res(
            "aws_lb_target_group",
            "app",
            {
                "name_prefix": "rk-",
                "port": PORT,
                "protocol": "HTTP",
                "target_type": "ip",
                "vpc_id": Expr("var.vpc_id"),
                "health_check": Block("health_check", (), {"path": "/healthz", "matcher": "200"}),
            },
        ),
        _res(
            "aws_lb_listener",
            "http",
            {
                "load_balancer_arn": Expr("aws_lb.app.arn"),
                "port": 80,
                "protocol": "HTTP",
                "default_action": Block(
                    "default_action",
                    (),
                    {"type": "forward", "target_group_arn": Expr("aws_lb_target_group.app.arn")},
                ),
            },
        ),
        Block("output", ("container_url",), {"value": "http://${aws_lb.app.dns_name}"}),
    ]


def blocks(plan: Plan, env: dict[str, str], durable: list[dict[str, Any]]) -> list[Block]:
    """Every container block (none when nothing is placed on ``container``)."""
    from relaykit.deploy.terraform import arn, assume

    if not plan.containers and not plan.workers:
        return []
    statements = list(durable)
    statements += [{**s, "Resource": arn(s["Resource"])} for s in plan.container_statements]
    queues = [arn(source_arn("sqs", s.queue)) for s in plan.workers if s.queue]
    if queues:
        statements.append({"Effect": "Allow", "Action": list(SQS_ACTIONS), "Resource": queues})
    execution = arn("arn:${Partition}:iam::aws:policy/service-role/")
    out = {"from_port": 0, "to_port": 0, "protocol": "-1", "cidr_blocks": ["0.0.0.0/0"]}
    result = [
        _res("aws_ecs_cluster", "app", {"name": "${var.name}"}),
        _res(
            "aws_cloudwatch_log_group",
            "containers",
            {"name_prefix": "/relaykit/${var.name}-", "retention_in_days": 30},
        ),
        _res(
            "aws_iam_role",
            "container_execution",
            {"assume_role_policy": assume("ecs-tasks.amazonaws.com")},
        ),
        _res(
            "aws_iam_role_policy_attachment",
            "container_execution",
            {
                "role": Expr("aws_iam_role.container_execution.name"),
                "policy_arn": execution + "AmazonECSTaskExecutionRolePolicy",
            },
        ),
        _res(
            "aws_iam_role",
            "container_task",
            {"assume_role_policy": assume("ecs-tasks.amazonaws.com")},
        ),
        _res(
            "aws_security_group",
            "tasks",
            {
                "name_prefix": "${var.name}-tasks-",
                "vpc_id": Expr("var.vpc_id"),
                "egress": Block("egress", (), out),
            },
        ),
    ]
    if statements:
        policy = jsonencode({"Version": "2012-10-17", "Statement": statements})
        result.append(
            _res(
                "aws_iam_role_policy",
                "container_task",
                {"role": Expr("aws_iam_role.container_task.id"), "policy": policy},
            )
        )
    app_env = {
        "APP_REF": plan.image_ref,
        "RELAYKIT_TARGET": "container",
        **env,
        **plan.container_env,
    }
    if plan.containers:
        desired = max((p.concurrency or 1) for p in plan.containers)
        result.append(_task(plan, "app", {**app_env, "PORT": str(PORT)}, None))
        result.append(_service("app", desired, balanced=True))
        result += _load_balancer()
    if plan.workers:
        result.append(_task(plan, "worker", app_env, ["worker", plan.image_ref]))
        result.append(_service("worker", 1, balanced=False))
    return result

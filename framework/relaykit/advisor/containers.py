"""Cost models for options that keep processes running: Fargate, EC2 and Lambda Managed
Instances.

One async process serves many requests at once. A task (instance) of ``vcpu`` vCPUs and ``mem``
GB sustains ``min(vcpu x utilization / cpu_s, slots / wall_s)`` requests per second, where
``slots = min(vcpu x concurrency_per_vcpu, (mem - peak process memory) / mb_per_request)``:
CPU-bound work is limited by CPU, waiting-bound work by how many requests fit in flight. Tasks
are sized for the peak rate during the active hours and ``min_tasks`` (default 2, one per
availability zone) run the rest of the month; autoscaling delays are not modelled. Every size
allowed is tried and the cheapest kept. HTTP handlers get an ALB; ``front_door = "sqs"`` means
a queue-fed worker (SQS, no load balancer).
"""

from __future__ import annotations

import math
from typing import Any

from relaykit.advisor.constraints import ec2_problem, fargate_problem, managed_instances_problem
from relaykit.advisor.services import (
    Inputs,
    OptionCost,
    Term,
    alb_cost,
    durable_cost,
    instances_for,
    lambda_door_cost,
    logs_cost,
    num,
    queue_cost,
)


def capacity(i: Inputs, vcpu: float, mem_gb: float, per_vcpu: int | None = None) -> float:
    """Requests per second one process of ``vcpu`` and ``mem_gb`` sustains."""
    cpu_cap = vcpu * i.p.utilization / max(i.w.cpu_s, 1e-6)
    free_mb = mem_gb * 1024.0 - i.w.max_rss_mb
    if free_mb <= 0:
        return 0.0
    slots = min(vcpu * (per_vcpu or i.p.concurrency_per_vcpu), free_mb / i.p.mb_per_request)
    return min(cpu_cap, max(slots, 1.0) / max(i.w.wall_s, 1e-6))


def task_hours(i: Inputs, cap: float) -> tuple[int, int, float]:
    """(tasks at peak, tasks off-peak, task-hours a month) for a task sustaining ``cap``."""
    peak = instances_for(i.p.peak, cap, i.p.min_tasks)
    base = instances_for(i.p.mean_rps if i.p.active_fraction >= 1 else 0.0, cap, i.p.min_tasks)
    quiet = i.hours - i.active_hours
    return peak, base, peak * i.active_hours + base * quiet


def _front(i: Inputs, pollers: int) -> list[Term]:
    door = i.p.front_door
    if door == "sqs":
        return [queue_cost(i, pollers)]
    if door == "none":
        return []
    return [alb_cost(i)]


def _extras(i: Inputs, pollers: int) -> list[Term]:
    terms = [*_front(i, pollers), logs_cost(i, i.requests, platform=False)]
    durable = durable_cost(i, 1.0)
    if durable is not None:
        terms.append(durable)
    return terms


def _container_placement(i: Inputs, mem_gb: float, tasks: int) -> dict[str, Any]:
    return {"target": "container", "memory": int(mem_gb * 1024), "concurrency": tasks}


def fargate(i: Inputs, arch: str) -> OptionCost:
    name = f"fargate-{arch}"
    problem = fargate_problem(i.w, i.prices)
    if problem is not None:
        return OptionCost(name, "", ruled_out=problem)
    vcpu_rate = i.prices.num(f"fargate.vcpu_hour.{arch}")
    gb_rate = i.prices.num(f"fargate.gb_hour.{arch}")
    best: OptionCost | None = None
    for vcpu, sizes in i.prices.get("fargate.task_sizes"):
        for mem in sizes:
            cap = capacity(i, float(vcpu), float(mem))
            if cap <= 0:
                continue
            peak, base, hours = task_hours(i, cap)
            hourly = vcpu * vcpu_rate + mem * gb_rate
            compute = Term(
                "tasks",
                f"{num(hours)} task-h x ({vcpu} vCPU x ${vcpu_rate} + {mem} GB x ${gb_rate})",
                hours * hourly,
            )
            cost = OptionCost(
                name,
                f"{peak} x {vcpu} vCPU / {mem} GB at peak, {base} otherwise",
                (compute, *_extras(i, peak)),
                placement=_container_placement(i, float(mem), peak),
            )
            if best is None or cost.total < best.total:
                best = cost
    return best or OptionCost(name, "", ruled_out="no Fargate task size holds one request")


def _instances(i: Inputs, gpu: bool) -> list[tuple[str, dict[str, Any]]]:
    table = i.prices.get("ec2.instances")
    return [(n, spec) for n, spec in table.items() if bool(spec.get("gpus")) == gpu]


def ec2(i: Inputs, gpu: bool = False) -> OptionCost:
    """EC2 instances behind an ALB, plus an 8 GB gp3 volume each. With ``gpu``, GPU instances
    serving ``gpu_concurrency`` requests at once per GPU (self-hosted models)."""
    name = "ec2-gpu" if gpu else "ec2"
    problem = ec2_problem(i.w, gpu)
    if problem is not None:
        return OptionCost(name, "", ruled_out=problem)
    if gpu and not i.w.needs_gpu:
        return OptionCost(name, "", ruled_out="no GPU needed")
    ebs = i.prices.num("ec2.ebs_gb_month") * i.prices.num("ec2.ebs_gb_per_instance")
    best: OptionCost | None = None
    for kind, spec in _instances(i, gpu):
        if gpu:
            cap = spec.get("gpus", 1) * i.p.gpu_concurrency / max(i.w.wall_s, 1e-6)
        else:
            # A burstable (t) instance sustains only its baseline share of each vCPU.
            vcpu = float(spec["vcpu"]) * float(spec.get("baseline", 1.0))
            cap = capacity(i, vcpu, float(spec["memory_gb"]))
        if cap <= 0:
            continue
        peak, base, hours = task_hours(i, cap)
        terms = (
            Term("instances", f"{num(hours)} instance-h x ${spec['hour']}", hours * spec["hour"]),
            Term("EBS", f"{peak} x ${num(ebs)}/month", peak * ebs),
        )
        cost = OptionCost(
            name,
            f"{peak} x {kind} at peak, {base} otherwise",
            terms + tuple(_extras(i, peak)),
            placement=_container_placement(i, float(spec["memory_gb"]), peak),
        )
        if best is None or cost.total < best.total:
            best = cost
    return best or OptionCost(name, "", ruled_out="no instance type holds one request")


def managed_instances(i: Inputs) -> OptionCost:
    """Lambda Managed Instances: EC2 instances in a capacity provider, billed at the EC2 price
    plus a management fee, with a request charge and no duration charge; one environment serves
    many requests at once. At least ``min_instances`` run all month."""
    name = "lambda-managed-instances"
    problem = managed_instances_problem(i.w, i.prices)
    if problem is not None:
        return OptionCost(name, "", ruled_out=problem)
    kind = str(i.prices.get("managed_instances.instance"))
    spec = i.prices.get("ec2.instances")[kind]
    per_vcpu = int(i.prices.num("managed_instances.concurrency_per_vcpu"))
    cap = capacity(i, float(spec["vcpu"]), float(spec["memory_gb"]), per_vcpu)
    minimum = int(i.prices.num("managed_instances.min_instances"))
    count = max(minimum, math.ceil(i.p.peak / cap - 1e-9)) if cap > 0 else minimum
    fee = i.prices.num("managed_instances.fee_fraction")
    rate = i.prices.num("managed_instances.requests_per_million")
    hourly = float(spec["hour"])
    door = "function-url" if i.w.streamed else "http-api"
    if i.p.front_door not in ("default", "cheapest"):
        door = i.p.front_door
    terms = (
        Term("instances", f"{count} x {kind} x {num(i.hours)} h x ${hourly} x (1 + {fee} fee)",
             count * i.hours * hourly * (1.0 + fee)),
        Term("requests", f"{num(i.requests)} x ${rate}/million", i.requests / 1e6 * rate),
        lambda_door_cost(i, door),
        logs_cost(i, i.requests, platform=True),
    )  # fmt: skip
    return OptionCost(
        name,
        f"{count} x {kind}, {door}",
        terms,
        placement={"target": "lambda-stream" if door == "function-url" else "lambda"},
    )


def container_options(i: Inputs) -> list[OptionCost]:
    return [
        managed_instances(i),
        fargate(i, "x86_64"),
        fargate(i, "arm64"),
        ec2(i),
        ec2(i, gpu=True),
    ]

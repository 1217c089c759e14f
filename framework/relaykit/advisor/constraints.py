"""Hard constraints: facts that rule an option (or a front door) out whatever it costs.

Each function returns ``None`` when the option can run the workload, else one sentence naming
the limit and what to do instead. The limits are read from the price table (``lambda.max_seconds``,
``lambda.memory_mb``...) so an override file can follow a platform change.
"""

from __future__ import annotations

from relaykit.advisor.prices import PriceBook
from relaykit.advisor.profile import Workload

NO_GPU = (
    "needs a GPU or self-hosted model weights: {name} has no GPUs (and model weights of several "
    "GB do not fit its package and memory limits); run it on GPU instances"
)


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 120 else f"{seconds:.0f} s"


def lambda_problem(w: Workload, prices: PriceBook, name: str = "Lambda") -> str | None:
    """Why Lambda (any flavour) cannot run ``w``, or ``None``."""
    if w.needs_gpu:
        return NO_GPU.format(name=name)
    limit = prices.num("lambda.max_seconds")
    if w.kind != "workflow" and w.wall_s > limit:
        return (
            f"one request runs {_minutes(w.wall_s)}; {name} stops an invocation at "
            f"{_minutes(limit)} and only a workflow continues durably: make it an @app.workflow "
            "with steps, or run it in a container"
        )
    if w.kind == "workflow" and w.max_step_s > limit:
        return (
            f"its longest step runs {_minutes(w.max_step_s)}, above the {_minutes(limit)} of one "
            "invocation: durable splitting happens between steps, never inside one; split the "
            "step or run the workflow in a container"
        )
    _low, high = prices.get("lambda.memory_mb")
    if w.max_rss_mb > float(high):
        return f"peak memory {w.max_rss_mb:.0f} MB is above {name}'s {float(high):.0f} MB maximum"
    if not w.streamed and w.response_bytes > prices.num("lambda.max_buffered_bytes"):
        return (
            f"responses of {w.response_bytes / 1e6:.1f} MB pass the 6 MB buffered response "
            "limit: stream them, or store them in S3 and return a reference"
        )
    return None


def managed_instances_problem(w: Workload, prices: PriceBook) -> str | None:
    """Lambda Managed Instances keep the 15-minute invocation limit and have no GPUs."""
    return lambda_problem(w, prices, "Lambda Managed Instances")


def fargate_problem(w: Workload, prices: PriceBook) -> str | None:
    if w.needs_gpu:
        return NO_GPU.format(name="Fargate")
    largest = max(max(mems) for _, mems in prices.get("fargate.task_sizes"))
    if w.max_rss_mb > float(largest) * 1024:
        return f"peak memory {w.max_rss_mb:.0f} MB is above the largest Fargate task"
    return None


def ec2_problem(w: Workload, gpu_instance: bool) -> str | None:
    if w.needs_gpu and not gpu_instance:
        return "needs a GPU or self-hosted model weights: use a GPU instance type"
    return None


def door_problem(door: str, w: Workload, prices: PriceBook) -> str | None:
    """Why a front door cannot carry ``w`` to and from Lambda, or ``None``."""
    long_request = w.kind != "workflow"
    if door == "http-api":
        if w.streamed:
            return "an API Gateway HTTP API buffers a Lambda response: no streaming"
        limit = prices.num("http_api.timeout_s")
        if long_request and w.wall_s > limit:
            return f"an HTTP API ends its Lambda integration after {limit:.0f} s"
    elif door == "alb":
        if w.streamed:
            return "an ALB buffers a Lambda response: no streaming"
        if w.response_bytes > prices.num("alb.max_lambda_response_bytes"):
            return "an ALB accepts at most 1 MB from a Lambda target"
    elif door == "rest-api":
        limit = prices.num("rest_api.stream_timeout_s" if w.streamed else "rest_api.timeout_s")
        if long_request and w.wall_s > limit:
            return f"a REST API integration times out after {limit:.0f} s"
    return None

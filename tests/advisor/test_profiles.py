"""The canonical profiles of docs/choosing-a-target.md: each one's recommended option and the
traffic at which the recommendation flips.

The workloads are what relaykit measures for such handlers (an Anthropic client loaded: about
150 MB resident). Break-even rates are asserted to 2 %, and each one is checked to be a real
crossing: just below it the option named below is cheapest, just above it the one named above.
"""

from __future__ import annotations

import pytest

from relaykit.advisor.advise import Advice, Flip, advise, evaluate
from relaykit.advisor.prices import load_prices
from relaykit.advisor.profile import Profile, Workload

PRICES = load_prices()
MONTH_S = 730 * 3600
CALL = Workload(
    "/ask", wall_s=4.0, cpu_s=0.1, model_wait_s=3.9, max_rss_mb=150, response_bytes=2048
)
CHAT = Workload(
    "/chat",
    kind="stream",
    wall_s=30.0,
    cpu_s=0.3,
    model_wait_s=29.5,
    max_rss_mb=150,
    response_bytes=6000,
    streamed=True,
)
BATCH = Workload("/classify", wall_s=1.5, cpu_s=0.05, model_wait_s=1.4, max_rss_mb=150)
AGENT = Workload(
    "/agent",
    kind="workflow",
    wall_s=2400.0,
    cpu_s=20.0,
    model_wait_s=2300.0,
    max_rss_mb=200,
    response_bytes=20000,
    max_step_s=120.0,
    steps_per_run=40,
)


def winner(advice: Advice, rps: float, held: bool) -> str:
    p = advice.profile
    at = p.held(rps) if held else p.scaled(rps)
    viable = [o for o in evaluate(advice.workload, at, PRICES) if o.viable]
    return min(viable, key=lambda o: (o.total, o.option)).option


def check_crossing(advice: Advice, flip: Flip, *, held: bool = False) -> None:
    """0.5 % below ``flip`` its ``below`` option is the cheapest, 0.5 % above its ``above``."""
    assert winner(advice, flip.rps * 0.995, held) == flip.below
    assert winner(advice, flip.rps * 1.005, held) == flip.above


def test_model_call_4s_at_20_rps_steady_goes_to_fargate() -> None:
    """4 s calls at 20 req/s keep 80 requests in flight all month: Lambda bills 80 environments
    for every waiting second; 14 small arm64 tasks carry the CPU (2 vCPU at 60 %). Lambda
    arm64 costs over 5x more; below 0.83 req/s (2.19 M requests a month) Lambda wins."""
    advice = advise(CALL, Profile(mean_rps=20.0), PRICES)
    assert advice.recommended is not None
    assert advice.recommended.option == "fargate-arm64"
    assert advice.recommended.total == pytest.approx(146.49, abs=0.01)
    assert advice.option("lambda-arm64").total > 5 * advice.recommended.total
    down = advice.flip_down
    assert down is not None and (down.below, down.above) == ("lambda-arm64", "fargate-arm64")
    assert down.rps == pytest.approx(0.834, rel=0.02)
    assert down.per_month == pytest.approx(2.19e6, rel=0.02)
    check_crossing(advice, down)


def test_model_call_4s_at_005_rps_spiky_stays_on_lambda() -> None:
    """0.05 req/s with bursts to 5 req/s: Lambda costs cents, containers must hold the burst.
    Scaled with its shape (peak 100 x mean) it never flips; with the peak held, the mean must
    reach about 1.17 req/s before two to four always-on tasks are cheaper."""
    advice = advise(CALL, Profile(mean_rps=0.05, peak_rps=5.0), PRICES)
    assert advice.recommended is not None
    assert advice.recommended.option == "lambda-arm64"
    assert advice.recommended.total < 1.0
    assert advice.flips == ()
    (held,) = advice.held_flips
    assert (held.below, held.above) == ("lambda-arm64", "fargate-arm64")
    assert held.rps == pytest.approx(1.165, rel=0.02)
    check_crossing(advice, held, held=True)


def test_streaming_chat_30s_at_5_concurrent_goes_to_fargate() -> None:
    """5 streams of 30 s in flight on average (0.167 streams/s): two small tasks hold them
    all; Lambda bills every streamed second. Below about 3.9 concurrent streams (0.13/s),
    Lambda with a Function URL is cheaper. HTTP API and ALB are never offered: they buffer."""
    advice = advise(CHAT, Profile(mean_rps=5 / 30, peak_rps=20 / 30), PRICES)
    assert advice.recommended is not None
    assert advice.recommended.option == "fargate-arm64"
    assert "function-url" in advice.option("lambda-arm64").detail
    down = advice.flip_down
    assert down is not None and (down.below, down.above) == ("lambda-arm64", "fargate-arm64")
    assert down.rps * CHAT.wall_s == pytest.approx(3.89, rel=0.02)
    check_crossing(advice, down)


def test_stream_forced_through_an_http_api_rules_lambda_out() -> None:
    """A stream whose front door is an HTTP API cannot stream on Lambda: the constraint says so."""
    advice = advise(CHAT, Profile(mean_rps=0.1, front_door="http-api"), PRICES, flips=False)
    assert "buffers" in (advice.option("lambda-arm64").ruled_out or "")
    assert advice.recommended is not None and advice.recommended.option.startswith("fargate")


def test_batch_classification_100k_a_day_in_bursts_stays_on_lambda() -> None:
    """100,000 documents a day from a queue, in two hours of bursts (peak twice the mean): about
    $16 on Lambda against $22 for two always-on tasks. Above about 20 docs/s during the bursts
    (4.4 M a month) Fargate wins."""
    rate = 100_000 / 7200
    profile = Profile(mean_rps=rate, peak_rps=2 * rate, active_hours=2, front_door="sqs")
    advice = advise(BATCH, profile, PRICES)
    assert advice.recommended is not None
    assert advice.recommended.option == "lambda-arm64"
    up = advice.flip_up
    assert up is not None and (up.below, up.above) == ("lambda-arm64", "fargate-arm64")
    assert up.rps == pytest.approx(20.05, rel=0.02)
    assert up.per_month == pytest.approx(4.39e6, rel=0.02)
    check_crossing(advice, up)


@pytest.mark.parametrize(
    ("runs", "expected"), [(10, "lambda-arm64"), (10_000, "fargate-arm64")], ids=["10", "10k"]
)
def test_40_minute_agent(runs: int, expected: str) -> None:
    """A 40-minute agent run (40 steps of at most 2 minutes) splits across 3 invocations on
    Lambda. 10 runs a month fit in the free tier; 10,000 runs keep 9 runs in flight, which two
    small tasks hold for a fraction of Lambda's bill. The flip to Fargate is at about 4,400 runs
    a month (a sliver of provisioned concurrency just before it)."""
    advice = advise(AGENT, Profile(mean_rps=runs / MONTH_S), PRICES)
    assert advice.recommended is not None
    assert advice.recommended.option == expected
    to_fargate = next(f for f in advice.flips if f.above == "fargate-arm64")
    assert to_fargate.per_month == pytest.approx(4378, rel=0.02)
    check_crossing(advice, to_fargate)
    requests = next(t for t in advice.option("lambda-arm64").terms if t.label == "requests")
    assert f"{runs * 3:,}" in requests.formula


def test_agent_with_a_20_minute_step_cannot_use_lambda() -> None:
    """Durable splitting happens between steps: a 20-minute step rules every Lambda out."""
    long_step = Workload("/agent", kind="workflow", wall_s=2400.0, cpu_s=20.0, max_step_s=1200.0)
    advice = advise(long_step, Profile(mean_rps=10 / MONTH_S), PRICES, flips=False)
    assert "longest step" in (advice.option("lambda-arm64").ruled_out or "")
    assert advice.recommended is not None and advice.recommended.option == "fargate-arm64"


def test_self_hosted_model_rules_out_lambda_and_fargate() -> None:
    """Model weights on a GPU: only GPU instances remain, so nothing can flip."""
    gpu = Workload("/generate", wall_s=2.0, cpu_s=0.2, max_rss_mb=16000, needs_gpu=True)
    advice = advise(gpu, Profile(mean_rps=1.0), PRICES)
    assert advice.recommended is not None
    assert advice.recommended.option == "ec2-gpu"
    for option in advice.options:
        if option.option != "ec2-gpu":
            assert "GPU" in (option.ruled_out or ""), option.option
    assert advice.flips == ()

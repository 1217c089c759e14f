"""Each option's monthly cost equals a hand computation from the published formulas, to the cent.

Every test fixes a workload and a profile, writes the arithmetic out with the list prices of
``prices.json`` (us-east-1), and compares. A month is 730 hours.
"""

from __future__ import annotations

import math

import pytest

from relaykit.advisor.containers import ec2, fargate, managed_instances
from relaykit.advisor.options import cold_starts, on_demand, provisioned, snapstart
from relaykit.advisor.prices import GIB, load_prices, tiered
from relaykit.advisor.profile import Profile, Workload
from relaykit.advisor.services import Inputs, OptionCost

PRICES = load_prices()
# 1 req/s all month = 3600 x 730 = 2,628,000 requests.
STEADY = Profile(mean_rps=1.0, front_door="function-url", log_bytes=0.0)
TASK = Workload("/t", wall_s=2.0, cpu_s=0.0, max_rss_mb=100.0, init_s=0.0)


def terms(cost: OptionCost) -> dict[str, float]:
    return {term.label: term.usd for term in cost.terms}


def cents(value: float) -> float:
    return round(value, 2)


def test_tiered_prices_apply_each_tier_to_its_own_slice() -> None:
    """Tiers: the first 6 billion GB-s at one price, the next 9 billion at the next."""
    tiers = PRICES.get("lambda.duration_tiers_gb_s.x86_64")
    amount = 7e9
    hand = 6e9 * 0.0000166667 + 1e9 * 0.0000150000
    assert cents(tiered(amount, tiers)) == cents(hand) == 115000.20


def test_lambda_x86_on_demand_with_free_tier_to_the_cent() -> None:
    """2 s at 1024 MB, 2,628,000 requests, no CPU (so no CPU stretch), no INIT:
    GB-s = 2,628,000 x 2 x 1 = 5,256,000; billable = 5,256,000 - 400,000 = 4,856,000;
    duration = 4,856,000 x 0.0000166667 = $80.93; requests = (2,628,000 - 1,000,000) x
    0.20 / 1e6 = $0.33; Function URL $0; logs: 350 B x 2,628,000 / 2^30 GB x $0.50 = $0.43."""
    inputs = Inputs(TASK, STEADY, PRICES)
    cost = on_demand(inputs, 1024, "function-url", "x86_64")
    hand_duration = (2_628_000 * 2 * 1 - 400_000) * 0.0000166667
    hand_requests = (2_628_000 - 1_000_000) * 0.20 / 1e6
    hand_logs = 350 * 2_628_000 / 1024**3 * 0.50
    got = terms(cost)
    assert cents(got["duration"]) == cents(hand_duration) == 80.93
    assert cents(got["requests"]) == cents(hand_requests) == 0.33
    assert got["Function URL"] == 0.0
    assert cents(got["CloudWatch Logs"]) == cents(hand_logs) == 0.43
    assert cost.total == cents(hand_duration + hand_requests + hand_logs)


def test_lambda_arm64_without_free_tier_and_with_cpu_stretch_and_init() -> None:
    """arm64 at 512 MB, 1 s wall of which 0.2 s CPU: at 512 MB the CPU share is 512 / 1769,
    so a request takes 0.8 + 0.2 x 1769 / 512 = 1.49102 s, billed 1.492 s (rounded up to the ms).
    Cold starts (1.5 s INIT each) come from the cold-start model; no free tier."""
    w = Workload("/t", wall_s=1.0, cpu_s=0.2, max_rss_mb=100.0, init_s=1.5)
    p = Profile(mean_rps=1.0, front_door="http-api", log_bytes=0.0, free_tier=False)
    inputs = Inputs(w, p, PRICES)
    colds = cold_starts(inputs)
    # 1 environment (peak concurrency 1.0), recycled every 2 h over 24 active hours, plus one
    # start a day: 30.4167 days x (1 + 24 / 2) = 395.42; Poisson idle term e^-300 is nil.
    assert colds == pytest.approx(730 / 24 * 13)
    seconds = math.ceil((0.8 + 0.2 * 1769 / 512) * 1000) / 1000
    assert seconds == 1.492
    gb_s = 2_628_000 * 1.492 * 0.5 + colds * 1.5 * 0.5
    hand_duration = gb_s * 0.0000133334
    hand_requests = 2_628_000 * 0.20 / 1e6
    hand_http_api = 2_628_000 * 1.00 / 1e6
    got = terms(on_demand(inputs, 512, "http-api", "arm64"))
    assert cents(got["duration"]) == cents(hand_duration) == 26.14
    assert cents(got["requests"]) == cents(hand_requests) == 0.53
    assert cents(got["HTTP API"]) == cents(hand_http_api) == 2.63


def test_provisioned_concurrency_for_the_peak() -> None:
    """Peak 3 req/s x 2 s = 6 concurrent: 6 x 1 GB provisioned for 730 h = 15,768,000 GB-s x
    0.0000033334 = $52.56; duration 2,628,000 x 2 s x 1 GB x 0.0000077778 = $40.88."""
    p = Profile(mean_rps=1.0, peak_rps=3.0, front_door="function-url", log_bytes=0.0)
    got = terms(provisioned(Inputs(TASK, p, PRICES), 1024, "function-url", "arm64"))
    assert cents(got["provisioned"]) == cents(6 * 1 * 730 * 3600 * 0.0000033334) == 52.56
    assert cents(got["duration"]) == cents(2_628_000 * 2 * 1 * 0.0000077778) == 40.88


def test_snapstart_cache_and_restores() -> None:
    """SnapStart at 2048 MB: cache 2 GB x 730 h x 3600 x 0.0000015046 = $7.91; restores: one
    per cold start x 2 GB x 0.0001397998."""
    inputs = Inputs(TASK, STEADY, PRICES)
    got = terms(snapstart(inputs, 2048, "function-url"))
    assert cents(got["snapshot cache"]) == cents(2 * 730 * 3600 * 0.0000015046) == 7.91
    hand_restores = cold_starts(inputs) * 2 * 0.0001397998
    assert cents(got["restores"]) == cents(hand_restores)


def test_fargate_arm64_two_smallest_tasks_behind_an_alb() -> None:
    """Light I/O-bound traffic fits the smallest task; 2 tasks for availability:
    2 x 730 h x (0.25 x 0.03238 + 0.5 x 0.00356) = $14.42. ALB: 730 x 0.0225 = $16.425, plus
    LCUs: new connections 1/25 = 0.04 LCU beats active connections 1 x 62 / 3000 = 0.0207 and
    bytes 3600 x 2048 B / 2^30 = 0.0069 GB/h, so 0.04 x 0.008 x 730 = $0.2336."""
    w = Workload("/t", wall_s=2.0, cpu_s=0.01, max_rss_mb=100.0, response_bytes=1024.0)
    p = Profile(mean_rps=1.0, log_bytes=0.0)
    got = terms(fargate(Inputs(w, p, PRICES), "arm64"))
    assert cents(got["tasks"]) == cents(2 * 730 * (0.25 * 0.03238 + 0.5 * 0.00356)) == 14.42
    assert cents(got["ALB"]) == cents(730 * 0.0225 + 0.04 * 0.008 * 730) == 16.66


def test_fargate_x86_sized_for_cpu() -> None:
    """20 req/s x 0.1 s CPU = 2 vCPU busy; at 60 % utilisation a 0.25 vCPU task carries
    0.25 x 0.6 / 0.1 = 1.5 req/s, so 14 of them (1 vCPU tasks: 6 req/s, 4 tasks; same vCPU
    price but more memory); 14 x 730 h x (0.25 x 0.04048 + 0.5 x 0.004445) = $126.14."""
    w = Workload("/t", wall_s=4.0, cpu_s=0.1, max_rss_mb=150.0)
    got = terms(fargate(Inputs(w, Profile(mean_rps=20.0, log_bytes=0.0), PRICES), "x86_64"))
    assert cents(got["tasks"]) == cents(14 * 730 * (0.25 * 0.04048 + 0.5 * 0.004445)) == 126.14


def test_ec2_burstable_baseline_and_ebs() -> None:
    """Two t4g.small (2 vCPU at a 20 % baseline, 2 GB) carry light traffic: 2 x 730 x 0.0168 =
    $24.53 plus 2 x 8 GB x $0.08 = $1.28 of gp3."""
    w = Workload("/t", wall_s=2.0, cpu_s=0.01, max_rss_mb=100.0)
    cost = ec2(Inputs(w, Profile(mean_rps=1.0, log_bytes=0.0), PRICES))
    got = terms(cost)
    assert "t4g.small" in cost.detail
    assert cents(got["instances"]) == cents(2 * 730 * 0.0168) == 24.53
    assert cents(got["EBS"]) == cents(2 * 8 * 0.08) == 1.28


def test_managed_instances_fee_and_requests() -> None:
    """Three m7g.large (the minimum) x 730 h x $0.0816 x 1.15 = $205.51; requests
    2,628,000 x $0.20 / 1e6 = $0.53 (no free tier assumed)."""
    got = terms(managed_instances(Inputs(TASK, STEADY, PRICES)))
    assert cents(got["instances"]) == cents(3 * 730 * 0.0816 * 1.15) == 205.51
    assert cents(got["requests"]) == cents(2_628_000 * 0.20 / 1e6) == 0.53


def test_logs_ingestion_counts_application_bytes() -> None:
    """1,000 B of application log per request on Fargate: 2,628,000 KB / 2^30 x $0.50."""
    w = Workload("/t", wall_s=2.0, cpu_s=0.01, max_rss_mb=100.0)
    got = terms(fargate(Inputs(w, Profile(mean_rps=1.0), PRICES), "arm64"))
    assert cents(got["CloudWatch Logs"]) == cents(2_628_000 * 1000 / GIB * 0.50) == 1.22


def test_price_override_file_changes_one_price(tmp_path: pytest.TempPathFactory) -> None:
    """``--prices FILE`` merges at any depth and is named in the advice."""
    override = tmp_path / "p.json"  # type: ignore[operator]
    override.write_text('{"regions": {"us-east-1": {"fargate": {"vcpu_hour": {"arm64": 0.1}}}}}')
    book = load_prices(override)
    assert book.num("fargate.vcpu_hour.arm64") == 0.1
    assert book.num("fargate.vcpu_hour.x86_64") == 0.04048
    assert book.override == str(override)
    assert "overridden" in book.describe()

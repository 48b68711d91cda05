"""Requests/min and tokens/min budgets: a fake clock for the arithmetic, a real server for the CLI."""

from __future__ import annotations

import asyncio

from tests.conftest import DATA_EN, ROOT
from tests.openai_server import OpenAIServer
from workbench.providers.ratelimit import RateLimiter, estimate_tokens


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


def start_times(limiter: RateLimiter, clock: Clock, n: int, tokens: int = 0) -> list[float]:
    """When each of n back-to-back requests may start."""
    async def go():
        out = []
        for _ in range(n):
            await limiter.acquire(tokens)
            out.append(round(clock.now, 6))
        return out

    return asyncio.run(go())


def test_rpm_allows_a_one_second_burst_then_spaces_requests():
    clock = Clock()
    limiter = RateLimiter(rpm=600, clock=clock, sleep=clock.sleep)  # 10/s
    times = start_times(limiter, clock, 25)
    assert times[:10] == [0.0] * 10
    gaps = [round(b - a, 6) for a, b in zip(times[10:], times[11:])]
    assert all(abs(g - 0.1) < 1e-9 for g in gaps)
    assert abs(times[-1] - 1.5) < 1e-9  # 25 requests at 10/s, the first 10 free


def test_slow_rate_still_lets_the_first_request_go():
    clock = Clock()
    limiter = RateLimiter(rpm=6, clock=clock, sleep=clock.sleep)  # one per 10 s
    assert start_times(limiter, clock, 3) == [0.0, 10.0, 20.0]


def test_tpm_charges_the_estimate_then_what_the_server_reported():
    clock = Clock()
    limiter = RateLimiter(tpm=6000, clock=clock, sleep=clock.sleep)  # 100 tokens/s
    assert start_times(limiter, clock, 2, tokens=100) == [0.0, 1.0]  # a burst of 1 s worth: 100 tokens
    # the first two used 300 tokens each, not 100: 400 more tokens are owed, 4 s at 100/s
    limiter.settle(100, 300)
    limiter.settle(100, 300)
    (t,) = start_times(limiter, clock, 1, tokens=100)
    assert abs(t - 6.0) < 1e-9  # 700 tokens booked from t=0 at 100/s; the last 100 may start 1 s early


def test_no_limits_never_wait():
    clock = Clock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    assert not limiter and start_times(limiter, clock, 100, tokens=10_000) == [0.0] * 100


def test_token_estimate_counts_prompt_and_completion_budget():
    msgs = [{"role": "system", "content": "x" * 400}, {"role": "user", "content": "y" * 40}]
    assert estimate_tokens(msgs, 128) == 110 + 8 + 128
    assert estimate_tokens(msgs, None) == 118


def test_rpm_option_paces_a_real_run(cli, db):
    with OpenAIServer() as server:
        r = cli("eval", ROOT / "prompts" / "support_zero_shot.yaml", "--data", DATA_EN, "--model",
                f"openai:test@{server.base_url}", "--limit", "30", "--rpm", "1200", "-j", "8", "--json")
        assert r.code == 0, r.err
    assert r.json()["runs"][0]["outputs"] == 30
    times = sorted(t for t, _ in server.arrivals)
    # 20/s with a 20-request burst: the last 10 requests need about 0.5 s more
    assert times[-1] - times[0] >= 0.4
    assert times[19] - times[0] < 0.3

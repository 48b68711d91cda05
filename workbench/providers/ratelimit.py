"""Requests-per-minute and tokens-per-minute limits for one provider, shared by all its requests.

Each budget is a GCRA / virtual-scheduling bucket: a request of n units is scheduled at the
bucket's "theoretical arrival time" and pushes it n x (60 / rate) seconds further; a request may
start up to BURST_SECONDS ahead of that schedule, so a rate of 600/min allows a burst of 10 and
then one request every 0.1 s. Callers reserve in order (no thundering herd after a pause).

Tokens are not known before a request is answered, so the request reserves an estimate (prompt
characters / 4 plus max_tokens, as providers count it) and `settle` corrects the bucket with the
tokens the server reports. aiolimiter (the maintained asyncio limiter) has no way to give back or
charge after the fact, which tokens-per-minute needs.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

BURST_SECONDS = 1.0


class _Bucket:
    def __init__(self, per_minute: float, clock: Callable[[], float]):
        if per_minute <= 0:
            raise ValueError("a rate limit must be positive")
        self.interval = 60.0 / per_minute  # seconds per unit
        self.clock = clock
        self.tat = clock()  # theoretical arrival time: when the bucket is empty again

    def reserve(self, units: float) -> float:
        """Book `units` now; returns how long the caller must wait before it may start."""
        now = self.clock()
        start = max(self.tat, now)
        self.tat = start + units * self.interval
        # Allowed early by the burst; a single request bigger than the burst may go once the bucket is empty.
        allowance = max(BURST_SECONDS, units * self.interval)
        return max(0.0, self.tat - allowance - now)

    def adjust(self, units: float) -> None:
        self.tat += units * self.interval


class RateLimiter:
    """Both budgets of one provider; either may be None (unlimited)."""

    def __init__(self, rpm: float | None = None, tpm: float | None = None,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable | None = None):
        self.requests = _Bucket(rpm, clock) if rpm else None
        self.tokens = _Bucket(tpm, clock) if tpm else None
        self._sleep = sleep or asyncio.sleep

    def __bool__(self) -> bool:
        return bool(self.requests or self.tokens)

    async def acquire(self, tokens: int = 0) -> None:
        """Wait until one request of about `tokens` tokens fits both budgets."""
        wait = 0.0
        if self.requests:
            wait = self.requests.reserve(1)
        if self.tokens:
            wait = max(wait, self.tokens.reserve(max(tokens, 1)))
        if wait > 0:
            await self._sleep(wait)

    def settle(self, estimated: int, actual: int | None) -> None:
        """Charge the token budget with what the server reported instead of the estimate."""
        if self.tokens and actual is not None:
            self.tokens.adjust(actual - max(estimated, 1))


def estimate_tokens(messages: list[dict[str, str]], max_tokens: int | None) -> int:
    """A provider-independent guess: about 4 characters a token, plus the completion budget."""
    chars = sum(len(str(m.get("content", ""))) for m in messages)
    return chars // 4 + 4 * len(messages) + (max_tokens or 0)

"""Score many outputs at once, off the event loop: in a pool of worker processes when there are
enough of them to pay for its start-up (~0.3 s), in the calling thread otherwise.

The reference-overlap metrics are pure Python and hold the GIL, so a thread does not take them off
the critical path of a run; a process does. The pool uses the "spawn" start method: the runner is
also called from the app's background threads, and forking a process that has threads is unsafe.
Values are exactly those of `workbench.metrics.score` (it is what the workers call).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from concurrent.futures import Executor

from workbench import metrics as metric_lib

# (prediction, references, latency_ms, tokens_out)
Item = tuple[str, Sequence[str], float | None, int | None]

POOL_MIN_ITEMS = 300  # fewer outputs than this are scored in-process: a pool costs more than it saves
CHUNK = 64  # items per task sent to a worker


def score_items(items: Sequence[Item], metrics: metric_lib.MetricSet, lang: str) -> list[dict[str, float]]:
    """Scores of each item, as `workbench.metrics.score` gives them."""
    score = metric_lib.score
    return [score(p, list(refs), metrics, lang, latency_ms=lat, tokens_out=tok) for p, refs, lat, tok in items]


def default_workers() -> int:
    """Cores left after the process that drives the requests, at most 2 (what scoring needs to keep up)."""
    return max(1, min(2, (os.cpu_count() or 2) - 1))


def _warm(metrics: metric_lib.MetricSet, lang: str) -> None:
    """Import the metric libraries in a fresh worker before real work arrives."""
    score_items([("a b", ["a b"], None, None)], metrics, lang)


class BatchScorer:
    """Scores chunks of items; `pool=True` uses worker processes (started at once, in the background)."""

    def __init__(self, metrics: metric_lib.MetricSet, lang: str, pool: bool = False, workers: int | None = None):
        self.metrics, self.lang = metrics, lang
        self._pool: Executor | None = None
        if pool:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            n = workers or default_workers()
            self._pool = ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("spawn"))
            for _ in range(n):
                self._pool.submit(_warm, metrics, lang)

    @property
    def uses_pool(self) -> bool:
        return self._pool is not None

    async def score(self, items: Sequence[Item]) -> list[dict[str, float]]:
        """Scores of the items in order; never blocks the event loop."""
        if not items:
            return []
        if self._pool is None:
            return await asyncio.to_thread(score_items, items, self.metrics, self.lang)
        loop = asyncio.get_running_loop()
        parts = [loop.run_in_executor(self._pool, score_items, items[i:i + CHUNK], self.metrics, self.lang)
                 for i in range(0, len(items), CHUNK)]
        out: list[dict[str, float]] = []
        for part in await asyncio.gather(*parts):
            out += part
        return out

    def score_now(self, items: Sequence[Item]) -> list[dict[str, float]]:
        """Blocking variant for callers without an event loop (e.g. `workbench score`, the benches)."""
        if self._pool is None:
            return score_items(items, self.metrics, self.lang)
        futures = [self._pool.submit(score_items, items[i:i + CHUNK], self.metrics, self.lang)
                   for i in range(0, len(items), CHUNK)]
        out: list[dict[str, float]] = []
        for f in futures:
            out += f.result()
        return out

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> BatchScorer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

"""Score many outputs at once, off the event loop: in worker processes when there are enough of
them to pay for starting those (~0.3 s), in a thread otherwise.

The reference-overlap metrics are pure Python and hold the GIL, so a thread does not take them off
the critical path of a run; a process does. Workers are plain `python -c` subprocesses that read
pickled chunks on stdin and write scores on stdout: unlike multiprocessing's spawn and forkserver
methods they never re-import the caller's __main__ (a user script without a main guard, a notebook,
Streamlit), and unlike fork they are safe to start from the app's threaded process.
Values are exactly those of `workbench.metrics.score` (both call MetricSet.score_batch).
"""

from __future__ import annotations

import os
import pickle
import queue
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from workbench.metrics.base import MetricSet

# (prediction, references, latency_ms, tokens_out) and, when the metrics want them (MetricSet.wants),
# (..., passages, row): the passages retrieved for the output and its dataset row
Item = tuple

POOL_MIN_ITEMS = 300  # fewer outputs than this are scored in-process: workers cost more than they save
CHUNK = 64  # items per message to a worker
# score_now's messages when it has many items: fewer round trips (each costs this process pickling and a
# thread switch), still small next to the whole (the last one, finishing alone, ~0.05 s)
WAITING_CHUNK = 256


def score_items(items: Sequence[Item], metrics: MetricSet, lang: str) -> list[dict[str, float]]:
    """Scores of each item, as `workbench.metrics.score` gives them (each metric over the whole list)."""
    if not items:
        return []
    columns = list(zip(*items))
    preds, refs, latency, tokens = columns[:4]
    extra = {"passages": list(columns[4]), "row": list(columns[5])} if len(columns) > 4 else {}
    return metrics.score_batch(list(preds), [list(r) for r in refs], lang, latency_ms=list(latency),
                               tokens_out=list(tokens), **extra)


MAX_WORKERS = 8


def default_workers(caller_waits: bool = False) -> int:
    """Cores left after the process that drives the requests, at most 2 (what scoring needs to keep up); when the
    caller only waits for the scores (`workbench score`), every core, at most MAX_WORKERS."""
    cores = os.cpu_count() or 2
    return max(1, min(MAX_WORKERS, cores)) if caller_waits else max(1, min(2, cores - 1))


def worker_main() -> None:
    """A scoring worker: length-prefixed pickles in on stdin, out on stdout, until stdin closes."""
    from workbench.metrics import overlap

    overlap._bleu("13a"), overlap._bleu("zh"), overlap._chrf()  # import sacrebleu before work arrives
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    while True:
        head = inp.read(8)
        if len(head) < 8:  # the caller closed stdin: done; skip the interpreter's teardown (~0.2 s the caller waits)
            out.flush()
            os._exit(0)
        items, metrics, lang = pickle.loads(inp.read(int.from_bytes(head, "little")))
        data = pickle.dumps(score_items(items, metrics, lang), protocol=pickle.HIGHEST_PROTOCOL)
        out.write(len(data).to_bytes(8, "little") + data)
        out.flush()


class _Worker:
    def __init__(self) -> None:
        root = str(Path(__file__).resolve().parents[2])  # so a source checkout works without installing
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)}
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from workbench.metrics.batch import worker_main; worker_main()"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)

    def call(self, payload) -> list[dict[str, float]]:
        data = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
        self.proc.stdin.write(len(data).to_bytes(8, "little") + data)
        self.proc.stdin.flush()
        head = self.proc.stdout.read(8)
        if len(head) < 8:
            raise RuntimeError(f"scoring worker exited with {self.proc.poll()}")
        return pickle.loads(self.proc.stdout.read(int.from_bytes(head, "little")))

    def close(self) -> None:
        self.finish()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def finish(self) -> None:
        """Tell the worker there is no more work (it exits when it reads the end of its input)."""
        try:
            self.proc.stdin.close()
        except OSError:
            pass


def start_workers(n: int) -> list[_Worker]:
    """`n` scoring workers, started now: a caller that knows it will score many items starts them before it
    reads them, so that their start-up (~0.3 s of imports each) overlaps its own. Hand them to a BatchScorer."""
    return [_Worker() for _ in range(n)]


def stop_workers(workers: list[_Worker]) -> None:
    """Close started workers (those a BatchScorer has closed already are left as they are)."""
    for w in workers:
        w.finish()
    for w in workers:
        w.close()


class BatchScorer:
    """Scores lists of items; `pool=True` starts worker processes at once (they warm up meanwhile), or
    takes `started` ones (start_workers); either way it closes them."""

    def __init__(self, metrics: MetricSet, lang: str, pool: bool = False, workers: int | None = None,
                 started: list[_Worker] | None = None):
        self.metrics, self.lang = metrics, lang
        self._workers: list[_Worker] = list(started or [])
        if pool and not self._workers:
            self._workers = start_workers(workers or default_workers())
        self._idle: queue.Queue[_Worker] = queue.Queue()
        for w in self._workers:
            self._idle.put(w)
        self._lock = threading.Lock()

    @property
    def uses_pool(self) -> bool:
        return bool(self._workers)

    def _chunk(self, items: Sequence[Item]) -> list[dict[str, float]]:
        """Score one chunk on an idle worker; if workers are gone or one fails, in this thread."""
        with self._lock:
            alive = bool(self._workers)
        if not alive:
            return score_items(items, self.metrics, self.lang)
        w = self._idle.get()
        try:
            result = w.call((list(items), self.metrics, self.lang))
        except (OSError, RuntimeError, EOFError, pickle.PickleError):
            with self._lock:
                if w in self._workers:
                    self._workers.remove(w)
            w.close()
            return score_items(items, self.metrics, self.lang)
        self._idle.put(w)
        return result

    def _chunks(self, items: Sequence[Item], size: int = CHUNK) -> list[Sequence[Item]]:
        return [items[i:i + size] for i in range(0, len(items), size)]

    async def score(self, items: Sequence[Item]) -> list[dict[str, float]]:
        """Scores of the items in order; never blocks the event loop."""
        import asyncio  # here: the workers and `workbench score` never need it (~0.06 s)

        if not items:
            return []
        if not self._workers:
            return await asyncio.to_thread(score_items, items, self.metrics, self.lang)
        out: list[dict[str, float]] = []
        for part in await asyncio.gather(*(asyncio.to_thread(self._chunk, c) for c in self._chunks(items))):
            out += part
        return out

    def score_now(self, items: Sequence[Item]) -> list[dict[str, float]]:
        """Blocking variant for callers without an event loop (the metrics bench, scripts)."""
        if not self._workers:
            return score_items(items, self.metrics, self.lang)
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(len(self._workers)) as ex:
            size = WAITING_CHUNK if len(items) >= 4 * WAITING_CHUNK * len(self._workers) else CHUNK
            parts = list(ex.map(self._chunk, self._chunks(items, size)))
        return [s for part in parts for s in part]

    def close(self) -> None:
        with self._lock:
            workers, self._workers = self._workers, []
        stop_workers(workers)

    def __enter__(self) -> BatchScorer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

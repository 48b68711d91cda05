"""Run prompt variants over a dataset: generate concurrently, score and store in batches. What to run
is a `Plan` (workbench.engine.plan: plan_eval, plan_from_run), checked and rendered before anything is created.

Execution (`execute`) spends its time waiting on the model servers:
- each provider has its own bound on requests in flight (``-j``; a provider that generates in
  batches, like a local model, gets lists of pending rows) and its own rate limits and retries;
- a request that still fails after its retries is stored on its row with an error kind; the run goes on;
- answers at temperature 0 come from the response cache when an identical request (provider, model,
  parameters, exact messages) was answered before, and go into it otherwise (`Plan.use_cache`,
  ``--no-cache``); with repeats the cache is bypassed, since repeats exist to measure variation;
- outputs are scored as they arrive, in a worker process when there are enough of them (the metrics
  are pure Python and would hold the GIL), and flushed with their scores every FLUSH_SECONDS in one
  transaction per flush, through a short-lived connection so other processes can use the file between;
- Ctrl-C or `cancel` stops new requests, flushes what finished and marks the runs `cancelled`.

A resumed plan (`plan_from_run`) writes into its stored run. Outputs are keyed (run, row, repeat) and
written with INSERT OR REPLACE, so nothing is duplicated, and a row lost in flight (at most the last
FLUSH_SECONDS) is simply done again.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import sys
import threading
from collections.abc import Callable, Iterator

from workbench import metrics as metric_lib
from workbench.engine.plan import Plan, Progress, Todo, Variant, plan_eval, plan_from_run, uses_cache
from workbench.engine.rendered import Rendered
from workbench.engine.results import (
    FLUSH_ROWS,
    FLUSH_SECONDS,
    Done,
    MessagesJSON,
    Writer,
    cache_key,
    key_prefix,
    messages_head,
    serve_from_cache,
)
from workbench.engine.turns import run_conversations
from workbench.providers import Provider, ProviderError, make_provider

__all__ = ["FLUSH_ROWS", "FLUSH_SECONDS", "Plan", "Progress", "Variant", "cache_key", "create_runs", "execute",
           "fast_thread_switching", "plan_eval", "plan_from_run"]
CANCEL_GRACE_SECONDS = 2.0  # on `cancel`, how long requests in flight may still finish (Ctrl-C does not wait)
EXPENSIVE_METRICS = {"bleu", "chrf", "rouge1", "rouge2", "rougeL"}

# The store (DuckDB, Arrow, pandas) is imported where it is used, not with this module: when the runs are
# new and the cache is not involved, `execute` creates them in a thread while the first requests go out.


def create_runs(plan: Plan, db: str | None) -> list[str]:
    """Record prompt versions, the dataset and one run per variant, in one unit of work."""
    from workbench import store

    sigs = metric_lib.dataset_signatures(plan.metrics, plan.dataset, plan.rows)
    stored = plan.turns.source if plan.turns else plan.dataset  # conversations are stored whole
    n_rows = len(stored.rows) if plan.turns else len(plan.rows)
    with store.connect(db) as con:
        ds_hash = store.save_dataset(con, stored)
        for v in plan.variants:
            store.save_prompt_version(con, v.prompt.name, v.prompt.path, v.prompt.version, v.prompt.to_yaml())
            v.run_id = store.create_run(
                con, prompt_hash=v.prompt.version, prompt_name=v.prompt.name, model_spec=v.model_spec,
                params=v.params, dataset_hash=ds_hash, n_rows=n_rows, repeats=plan.repeats,
                metrics=plan.metrics.specs(), lang=plan.dataset.lang, signatures=sigs,
                history=plan.turns.history if plan.turns else None)
            if plan.judge_of:  # in the unit of work that creates it: a judge's run is never listed as an eval
                store.mark_judge_run(con, v.run_id, *plan.judge_of)
            if v.knowledge:
                from workbench import knowledge

                knowledge.record_run_passages(con, v.run_id, v.knowledge, v.passages, plan.rows, plan.repeats)
    return [v.run_id for v in plan.variants]


def _claim(db: str | None, run_ids: list[str]) -> None:
    from workbench import store

    with store.connect(db) as con:
        store.claim_runs(con, run_ids)


async def _run_variant(plan: Plan, v: Variant, provider: Provider, limit: asyncio.Semaphore, n_workers: int,
                       writer: Writer, progress: Progress, todo: list[tuple[int, int]], stop: threading.Event,
                       msg_json: Callable[[Variant, int], str]) -> None:
    if plan.turns and (plan.turns.history == "own" or provider.stateful):
        return await run_conversations(plan, v, provider, limit, n_workers, writer, progress, todo, stop)
    queue = collections.deque(todo)
    prefix = key_prefix(provider, v.params) if uses_cache(plan, v) else None
    ident = json.dumps(provider.identity(), sort_keys=True) if prefix else None
    index = plan.positions

    async def worker() -> None:
        while queue and not stop.is_set():
            await writer.room(stop)
            if not queue or stop.is_set():
                break
            items = [queue.popleft()]
            while len(items) < provider.batch_size and queue:
                items.append(queue.popleft())
            batch = [v.messages[index[row]] for row, _ in items]
            async with limit:
                if stop.is_set():
                    return
                try:
                    results = await provider.complete_batch(batch, v.params)
                except ProviderError as e:
                    results = [e] * len(items)
                except Exception as e:  # noqa: BLE001 - failures are data: an unexpected one too, on its rows
                    results = [ProviderError("other", f"{type(e).__name__}: {e}"[:500])] * len(items)
            for (row, rep), res in zip(items, results):
                m = msg_json(v, row)
                ok = not isinstance(res, ProviderError)
                writer.add(Done(v, row, rep, m, res, key=prefix(m, messages_head(msg_json)) if prefix and ok else None,
                                 provider=ident))
                progress.done += 1
                progress.errors += not ok

    await asyncio.gather(*(worker() for _ in range(max(1, min(n_workers, len(todo))))))



class _SwitchInterval:
    """The process-wide GIL switch interval, shortened while at least one run is executing.

    Store work, imports and scoring hand-offs run in threads while the loop waits on the servers; a
    shorter interval (5 ms by default) lets the loop answer a reply sooner. Runs may overlap in one
    process (two app jobs, or a notebook's), so the original is kept by the first and put back by the last.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._saved = 0.0

    @contextlib.contextmanager
    def shortened(self, interval: float = 0.001) -> Iterator[None]:
        with self._lock:
            if self._users == 0:
                self._saved = sys.getswitchinterval()
                sys.setswitchinterval(min(self._saved, interval))
            self._users += 1
        try:
            yield
        finally:
            with self._lock:
                self._users -= 1
                if self._users == 0:
                    sys.setswitchinterval(self._saved)


fast_thread_switching = _SwitchInterval().shortened


MESSAGE_JSON_MEMO = 20_000  # rows whose messages JSON is kept for the other variants sharing the rendering


def _message_json(plan: Plan) -> Callable[[Variant, int], str]:
    """The messages of (variant, row) as JSON, encoded once per distinct rendering. Only renderings that
    several variants share (one prompt, several models) are remembered, the last MESSAGE_JSON_MEMO rows
    of them (the variants run side by side, so they ask for a row at about the same time): a 100,000-row
    run keeps no JSON per row."""
    index = plan.positions
    users = collections.Counter(id(v.messages) for v in plan.variants)
    memo: dict[tuple[int, int], str] = {}
    encode = MessagesJSON()

    def one(v: Variant, row: int) -> str:
        messages = v.messages
        return encode.row(messages, index[row]) if isinstance(messages, Rendered) else encode(messages[index[row]])

    def msg_json(v: Variant, row: int) -> str:
        if users[id(v.messages)] < 2:
            return one(v, row)
        key = (id(v.messages), row)
        found = memo.get(key)
        if found is None:
            found = memo[key] = one(v, row)
            if len(memo) > MESSAGE_JSON_MEMO:
                del memo[next(iter(memo))]
        return found

    msg_json.encoder = encode  # type: ignore[attr-defined]  # its last_head: what a cache key need not hash again
    return msg_json


async def execute(plan: Plan, db: str | None, concurrency: int | None = None,
                  on_progress: Callable[[list[Progress]], None] | None = None,
                  todo: Todo | None = None, cancel: threading.Event | None = None,
                  providers: dict[str, Provider] | None = None) -> list[str]:
    """Generate, score and store every variant; returns run ids. Each run ends done, cancelled or failed.

    `concurrency` bounds the requests in flight per provider (default: the provider's own, e.g. 16 for
    API models); `todo` (or `plan.todo`, from plan_from_run) restricts each run to those (row, repeat)
    pairs. `cancel` (set from another thread, e.g. the app's Cancel button) stops new requests, lets
    those in flight finish for up to CANCEL_GRACE_SECONDS, flushes what has finished and leaves the runs
    `cancelled`, resumable with plan_from_run.
    `providers` (spec -> Provider, e.g. built to validate the specs first) are used and closed.
    Runs that already exist (resume, retry) are claimed for this process first (store.claim_runs), which
    refuses a run that a live process on this host is still running.
    """
    from workbench.metrics.batch import BatchScorer

    stored = [v.run_id for v in plan.variants if v.run_id]
    if stored:  # finishing stored runs: they are ours now, unless a live process is still on them
        await asyncio.to_thread(_claim, db, stored)
    writer = Writer(db, plan, BatchScorer(plan.metrics, plan.dataset.lang), {})
    todo = todo if todo is not None else plan.todo
    every = [(r, k) for r in plan.rows for k in range(plan.repeats)]
    work = {i: list(todo[v.run_id]) if todo is not None and v.run_id in todo else list(every)
            for i, v in enumerate(plan.variants)}
    progress = {i: Progress(v.run_id or "", len(work[i])) for i, v in enumerate(plan.variants)}
    providers = dict(providers or {})
    stop = threading.Event()  # ours: `cancel` belongs to the caller
    status = "cancelled"
    tasks: list[asyncio.Task] = []
    with fast_thread_switching():
        try:
            create = await _start(plan, db, providers, work, progress, writer, concurrency, stop, tasks)
            status = await _watch(plan, tasks, create, writer, progress, cancel, stop, on_progress)
        except asyncio.CancelledError:  # Ctrl-C under asyncio.run: leave a resumable run
            status = "cancelled"
            raise
        except BaseException:
            status = "failed"
            raise
        finally:
            await _finish(plan, db, tasks, writer, providers, progress, status, stop, on_progress)
    return [v.run_id for v in plan.variants]


async def _start(plan: Plan, db: str | None, providers: dict[str, Provider], work: dict[int, list],
                 progress: dict[int, Progress], writer: Writer, concurrency: int | None, stop: threading.Event,
                 tasks: list[asyncio.Task]) -> asyncio.Future | None:
    """Build the providers, serve the cache, start one task per variant (into `tasks`); returns the
    creation of the new runs in the store thread, when it is still going on."""
    from workbench.metrics.batch import POOL_MIN_ITEMS, BatchScorer

    loop = asyncio.get_running_loop()
    msg_json = _message_json(plan)
    for v in plan.variants:
        if v.model_spec not in providers:
            providers[v.model_spec] = make_provider(v.model_spec, **plan.provider_options)
    cached = any(uses_cache(plan, v) for v in plan.variants)
    new = any(v.run_id is None for v in plan.variants)
    create: asyncio.Future | None = None
    if new and cached:  # created first in the store thread, then the cache lookup there; keys computed meanwhile
        create = writer.created = loop.run_in_executor(writer.db_thread, create_runs, plan, db)
    if cached:
        await serve_from_cache(db, plan, providers, work, progress, writer, msg_json, create)
    n_score = sum(len(w) for w in work.values()) + len(writer.pending)
    if n_score >= POOL_MIN_ITEMS and EXPENSIVE_METRICS & set(plan.metrics.names):
        writer.scorer.close()
        writer.scorer = BatchScorer(plan.metrics, plan.dataset.lang, pool=True)
    limits = {}
    for spec, p in providers.items():
        n = p.max_concurrency if p.batch_size > 1 else (concurrency or p.max_concurrency)
        limits[spec] = (asyncio.Semaphore(max(1, n)), max(1, n))
    for i, v in enumerate(plan.variants):
        sem, n = limits[v.model_spec]
        tasks.append(asyncio.ensure_future(_run_variant(plan, v, providers[v.model_spec], sem, n, writer,
                                                        progress[i], work[i], stop, msg_json)))
    if new and not cached:  # the first requests need no run: create them (and import the store) once those are out
        await asyncio.sleep(0.01)  # let the workers put their first requests on the wire
        create = writer.created = loop.run_in_executor(writer.db_thread, create_runs, plan, db)
    return create


async def _watch(plan: Plan, tasks: list[asyncio.Task], create: asyncio.Future | None, writer: Writer,
                 progress: dict[int, Progress], cancel: threading.Event | None, stop: threading.Event,
                 on_progress: Callable[[list[Progress]], None] | None) -> str:
    """Until the variants end or `cancel` is set: score and flush as outputs arrive, report progress.
    Returns the runs' status: done, or cancelled."""
    while not all(t.done() for t in tasks):
        if create is not None and create.done():
            create.result()  # could not create the runs (e.g. the file stayed locked): stop here
            for i, v in enumerate(plan.variants):
                progress[i].run_id = v.run_id
            create = None
        await asyncio.wait(tasks, timeout=0.1)
        if cancel is not None and cancel.is_set():
            # no new requests; those in flight (already paid for) get a moment to finish and be stored
            stop.set()
            await asyncio.wait(tasks, timeout=CANCEL_GRACE_SECONDS)
            break
        writer.kick()
        if writer.due():
            writer.start()
        if on_progress:
            on_progress(list(progress.values()))
    if all(t.done() for t in tasks):
        for t in tasks:
            t.result()  # a bug in a worker surfaces here
        if not stop.is_set() or all(p.done >= p.total for p in progress.values()):
            return "done"
    return "cancelled"


async def _finish(plan: Plan, db: str | None, tasks: list[asyncio.Task], writer: Writer,
                  providers: dict[str, Provider], progress: dict[int, Progress], status: str,
                  stop: threading.Event, on_progress: Callable[[list[Progress]], None] | None) -> None:
    """Stop the variants, store what finished with the runs' final status, close everything."""
    stop.set()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    try:
        await writer.flush(final=True, status=None if writer.status_written else status)
    finally:
        writer.scorer.close()
        for p in providers.values():
            await p.aclose()
        writer.db_thread.shutdown(wait=False)
        created = [v.run_id for v in plan.variants if v.run_id]
        if not writer.status_written and created:  # the final flush failed: still say how the run ended
            from workbench import store

            with store.connect(db) as con:
                for run_id in created:
                    store.set_status(con, run_id, "failed" if status == "done" else status)
        for i, v in enumerate(plan.variants):
            progress[i].run_id = v.run_id or ""
        if on_progress:
            on_progress(list(progress.values()))

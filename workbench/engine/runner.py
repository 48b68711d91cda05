"""Run prompt variants over a dataset: plan (validate and render everything first), then generate
concurrently, score and store in batches.

Planning does every check that can fail on user input before any run is created, so a bad template,
row or model spec leaves nothing in the database.

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

Resuming: `plan_from_run(db, run_id)` rebuilds the plan of a stored run from what the store holds
(the prompt version, the dataset rows, model, parameters, metrics, repeats) with the rows that have no
output yet (a run left `cancelled` by Ctrl-C, or `running` by kill -9); `errors_only=True` instead
takes the rows whose output is an error (``--retry-errors``). `execute` on that plan writes into the
same run. Outputs are keyed (run, row, repeat) and written with INSERT OR REPLACE, so nothing is
duplicated, and a row lost in flight (at most the last FLUSH_SECONDS) is simply done again.
"""

from __future__ import annotations

import asyncio
import collections
import json
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from workbench import metrics as metric_lib
from workbench.authoring.datasets import Dataset, check_rows
from workbench.authoring.templates import Prompt
from workbench.engine.results import (
    FLUSH_ROWS,
    FLUSH_SECONDS,
    MessagesJSON,
    _caches,
    _Done,
    _key_prefix,
    _use_cache,
    _Writer,
)
from workbench.engine.results import cache_key as cache_key  # public: what identifies a request in the cache
from workbench.errors import TemplateError, UserError
from workbench.providers import Provider, ProviderError, make_provider

__all__ = ["FLUSH_ROWS", "FLUSH_SECONDS", "Plan", "Progress", "Variant", "cache_key", "create_runs", "execute",
           "plan_eval", "plan_from_run"]
CANCEL_GRACE_SECONDS = 2.0  # on `cancel`, how long requests in flight may still finish (Ctrl-C does not wait)
EXPENSIVE_METRICS = {"bleu", "chrf", "rouge1", "rouge2", "rougeL"}

Todo = dict[str, list[tuple[int, int]]]  # run id -> (row_idx, repeat_idx) still to do

# The store (DuckDB, Arrow, pandas) is imported where it is used, not with this module: when the runs are
# new and the cache is not involved, `execute` creates them in a thread while the first requests go out.


@dataclass
class Variant:
    prompt: Prompt
    model_spec: str
    params: dict[str, Any]
    messages: list[list[dict[str, str]] | None]  # rendered, one per plan row (None: not needed by this plan)
    run_id: str | None = None


@dataclass
class Plan:
    variants: list[Variant]
    dataset: Dataset
    metrics: metric_lib.MetricSet
    rows: list[int]  # dataset row indexes to run
    repeats: int = 1
    provider_options: dict[str, Any] = field(default_factory=dict)
    use_cache: bool = True  # read and fill the response cache for variants at temperature 0
    todo: Todo | None = None  # set by plan_from_run: only these (row, repeat) pairs of each run


@dataclass
class Progress:
    run_id: str
    total: int
    done: int = 0
    errors: int = 0
    cached: int = 0
    started: float = field(default_factory=time.monotonic)


def plan_eval(prompts: list[Prompt], dataset: Dataset, model_specs: list[str], metrics: metric_lib.MetricSet,
              limit: int | None = None, params: dict[str, Any] | None = None, repeats: int = 1,
              provider_options: dict[str, Any] | None = None, use_cache: bool = True) -> Plan:
    """Validate rows and render every prompt on every row. Raises UserError; creates nothing."""
    if repeats < 1:
        raise UserError("must be at least 1", "--repeat")
    rows = list(range(len(dataset.rows)))[: limit if limit else None]
    sub = Dataset(dataset.name, dataset.path, [dataset.rows[i] for i in rows], dataset.columns,
                  dataset.reference_field, dataset.lang, dataset.encoding,
                  [dataset.line_numbers[i] for i in rows] if dataset.line_numbers else [])
    variants = []
    for prompt in prompts:
        required, _ = prompt.variables()
        check_rows(sub, required, need_reference=metrics.needs_reference, needed_by=prompt.path)
        rendered = _render(prompt, dataset, rows)
        for spec in model_specs:
            variants.append(Variant(prompt, spec, {**prompt.params, **(params or {})}, rendered))
    return Plan(variants, dataset, metrics, rows, repeats, provider_options or {}, use_cache)


def _render(prompt: Prompt, dataset: Dataset, rows: list[int], only: set[int] | None = None) -> list:
    wanted = [i for i in rows if only is None or i in only]
    rendered = prompt.render_rows(dataset.rows[i] for i in wanted)
    out: list[list[dict[str, str]] | None] = []
    for i in rows:
        if only is not None and i not in only:
            out.append(None)
            continue
        try:
            out.append(next(rendered))
        except TemplateError as e:
            raise TemplateError(f"{e.message} (rendering {dataset.place(i)})", e.where) from None
    return out


def plan_from_run(db: str | None, run_id: str, errors_only: bool = False,
                  provider_options: dict[str, Any] | None = None, use_cache: bool = True) -> Plan:
    """The plan that finishes a stored run (`--resume`) or redoes its failed rows (`--retry-errors`).

    Everything comes from the store: the prompt version, the dataset rows, the model spec, the
    parameters, the metrics and the number of repeats; `run_id` may be a unique prefix. Resume takes
    every (row, repeat) without an output, plus successful outputs that lack scores (a process killed
    between storing a cached answer and its new scores); retry-errors takes those whose output is an
    error. Provider options (timeout, retries, limits) are this invocation's, not the original's.
    `plan.todo` may be empty: the run is already complete.
    """
    from workbench import store
    from workbench.authoring.templates import parse_prompt
    from workbench.metrics import metric_set
    from workbench.store import cache as cache_store

    with store.connect(db) as con:
        run_id = store.resolve_run(con, run_id)
        run = store.get_run(con, run_id)
        version = store.get_prompt_version(con, run["prompt_hash"])
        ds = store.get_dataset(con, run["dataset_hash"])
        done = store.done_rows(con, run_id, errors_too=True)
        ok = store.done_rows(con, run_id, errors_too=False)
        unscored = cache_store.unscored_outputs(con, run_id)
    prompt = parse_prompt(version["content"], version["path"] or version["name"])
    dataset = Dataset(ds["name"], ds["path"] or ds["name"], ds["rows"], ds["columns"],
                      ds["reference_field"] or "reference", run["lang"])
    rows = list(range(min(run["n_rows"], len(dataset.rows))))
    if errors_only:
        todo = sorted(done - ok)
    else:
        every = {(r, k) for r in rows for k in range(run["repeats"])}
        todo = sorted((every - done) | (unscored & every))
    messages = _render(prompt, dataset, rows, only={r for r, _ in todo})
    variant = Variant(prompt, run["model_spec"], run["params"], messages, run_id=run_id)
    metrics = metric_set(run["metrics"], f"run {run_id}: metrics")
    return Plan([variant], dataset, metrics, rows, run["repeats"], provider_options or {}, use_cache,
                todo={run_id: todo})


def create_runs(plan: Plan, db: str | None) -> list[str]:
    """Record prompt versions, the dataset and one run per variant, in one unit of work."""
    from workbench import store

    sigs = metric_lib.dataset_signatures(plan.metrics, plan.dataset, plan.rows)
    with store.connect(db) as con:
        ds_hash = store.save_dataset(con, plan.dataset)
        for v in plan.variants:
            store.save_prompt_version(con, v.prompt.name, v.prompt.path, v.prompt.version, v.prompt.to_yaml())
            v.run_id = store.create_run(
                con, prompt_hash=v.prompt.version, prompt_name=v.prompt.name, model_spec=v.model_spec,
                params=v.params, dataset_hash=ds_hash, n_rows=len(plan.rows), repeats=plan.repeats,
                metrics=plan.metrics.specs(), lang=plan.dataset.lang, signatures=sigs)
    return [v.run_id for v in plan.variants]


def _claim(db: str | None, run_ids: list[str]) -> None:
    from workbench import store

    with store.connect(db) as con:
        store.claim_runs(con, run_ids)


async def _run_variant(plan: Plan, v: Variant, provider: Provider, limit: asyncio.Semaphore, n_workers: int,
                       writer: _Writer, progress: Progress, todo: list[tuple[int, int]], stop: threading.Event,
                       msg_json: Callable[[Variant, int], str]) -> None:
    queue = collections.deque(todo)
    prefix = _key_prefix(provider, v.params) if _caches(plan, v) else None
    ident = json.dumps(provider.identity(), sort_keys=True) if prefix else None
    index = {row: k for k, row in enumerate(plan.rows)}

    async def worker() -> None:
        while queue and not stop.is_set():
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
                writer.add(_Done(v, row, rep, m, res, key=prefix(m) if prefix and ok else None,
                                 provider=ident))
                progress.done += 1
                progress.errors += not ok

    await asyncio.gather(*(worker() for _ in range(max(1, min(n_workers, len(todo))))))


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
    from workbench.metrics.batch import POOL_MIN_ITEMS, BatchScorer

    stored = [v.run_id for v in plan.variants if v.run_id]
    if stored:  # finishing stored runs: they are ours now, unless a live process is still on them
        await asyncio.to_thread(_claim, db, stored)
    uses_cache = any(_caches(plan, v) for v in plan.variants)
    scorer = BatchScorer(plan.metrics, plan.dataset.lang)
    writer = _Writer(db, plan, scorer, {})
    db_thread = writer.db_thread
    create: asyncio.Future | None = None
    create_later = False
    if any(v.run_id is None for v in plan.variants):
        if uses_cache:  # created first in the store thread, then the cache lookup there; keys computed meanwhile
            create = writer.created = asyncio.get_running_loop().run_in_executor(db_thread, create_runs, plan, db)
        else:  # the first requests need no run: create them (and import the store) once those are out
            create_later = True
    todo = todo if todo is not None else plan.todo
    every = [(r, k) for r in plan.rows for k in range(plan.repeats)]
    work = {i: list(todo[v.run_id]) if todo is not None and v.run_id in todo else list(every)
            for i, v in enumerate(plan.variants)}
    progress = {i: Progress(v.run_id or "", len(work[i])) for i, v in enumerate(plan.variants)}
    providers = dict(providers or {})
    stop = threading.Event()  # ours: `cancel` belongs to the caller
    status = "cancelled"
    index = {row: k for k, row in enumerate(plan.rows)}
    json_cache: dict[tuple[int, int], str] = {}
    encode = MessagesJSON()

    def msg_json(v: Variant, row: int) -> str:
        key = (id(v.messages), row)
        if key not in json_cache:
            json_cache[key] = encode(v.messages[index[row]])
        return json_cache[key]

    tasks: list[asyncio.Task] = []
    # Store work, imports and scoring hand-offs run in threads of this process while the loop waits on
    # the servers; a shorter GIL switch interval (5 ms by default) lets the loop answer a reply sooner.
    switch = sys.getswitchinterval()
    sys.setswitchinterval(min(switch, 0.001))
    try:
        for v in plan.variants:
            if v.model_spec not in providers:
                providers[v.model_spec] = make_provider(v.model_spec, **plan.provider_options)
        if uses_cache:
            await _use_cache(db, plan, providers, work, progress, writer, msg_json, create)
        n_score = sum(len(w) for w in work.values()) + len(writer.pending)
        if n_score >= POOL_MIN_ITEMS and EXPENSIVE_METRICS & set(plan.metrics.names):
            scorer = writer.scorer = BatchScorer(plan.metrics, plan.dataset.lang, pool=True)
        limits = {}
        for spec, p in providers.items():
            n = p.max_concurrency if p.batch_size > 1 else (concurrency or p.max_concurrency)
            limits[spec] = (asyncio.Semaphore(max(1, n)), max(1, n))
        for i, v in enumerate(plan.variants):
            sem, n = limits[v.model_spec]
            tasks.append(asyncio.ensure_future(_run_variant(plan, v, providers[v.model_spec], sem, n, writer,
                                                            progress[i], work[i], stop, msg_json)))
        if create_later:
            await asyncio.sleep(0.01)  # let the workers put their first requests on the wire
            create = writer.created = asyncio.get_running_loop().run_in_executor(db_thread, create_runs, plan, db)
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
                status = "done"
    except asyncio.CancelledError:  # Ctrl-C under asyncio.run: leave a resumable run
        status = "cancelled"
        raise
    except BaseException:
        status = "failed"
        raise
    finally:
        stop.set()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        try:
            await writer.flush(final=True, status=None if writer.status_written else status)
        finally:
            scorer.close()
            for p in providers.values():
                await p.aclose()
            db_thread.shutdown(wait=False)
            created = [v.run_id for v in plan.variants if v.run_id]
            if not writer.status_written and created:  # the final flush failed: still say how the run ended
                from workbench import store

                with store.connect(db) as con:
                    for run_id in created:
                        store.set_status(con, run_id, "failed" if status == "done" else status)
            sys.setswitchinterval(switch)
            for i, v in enumerate(plan.variants):
                progress[i].run_id = v.run_id or ""
            if on_progress:
                on_progress(list(progress.values()))
    return [v.run_id for v in plan.variants]

"""Run prompt variants over a dataset: plan (validate and render everything first), then generate
concurrently, score and store in batches.

Planning does every check that can fail on user input before any run is created, so a bad template,
row or model spec leaves nothing in the database. Execution keeps at most `concurrency` requests in
flight per provider and flushes outputs and scores in batches from a worker thread, so the event loop
only waits on the model server.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from workbench import metrics as metric_lib
from workbench import store
from workbench.datasets import Dataset, check_rows
from workbench.errors import TemplateError
from workbench.providers import Provider, ProviderError, make_provider
from workbench.templates import Prompt

FLUSH_SECONDS = 0.5
FLUSH_ROWS = 500


@dataclass
class Variant:
    prompt: Prompt
    model_spec: str
    params: dict[str, Any]
    messages: list[list[dict[str, str]]]  # rendered, one per dataset row
    run_id: str | None = None


@dataclass
class Plan:
    variants: list[Variant]
    dataset: Dataset
    metrics: metric_lib.MetricSet
    rows: list[int]  # dataset row indexes to run
    repeats: int = 1
    provider_options: dict[str, Any] = field(default_factory=dict)


@dataclass
class Progress:
    run_id: str
    total: int
    done: int = 0
    errors: int = 0
    started: float = field(default_factory=time.monotonic)


def plan_eval(prompts: list[Prompt], dataset: Dataset, model_specs: list[str], metrics: metric_lib.MetricSet,
              limit: int | None = None, params: dict[str, Any] | None = None, repeats: int = 1,
              provider_options: dict[str, Any] | None = None) -> Plan:
    """Validate rows and render every prompt on every row. Raises UserError; creates nothing."""
    rows = list(range(len(dataset.rows)))[: limit if limit else None]
    sub = Dataset(dataset.name, dataset.path, [dataset.rows[i] for i in rows], dataset.columns,
                  dataset.reference_field, dataset.lang, dataset.encoding,
                  [dataset.line_numbers[i] for i in rows] if dataset.line_numbers else [])
    variants = []
    for prompt in prompts:
        required, _ = prompt.variables()
        check_rows(sub, required, need_reference=metrics.needs_reference, needed_by=prompt.path)
        rendered = []
        for i in rows:
            try:
                rendered.append(prompt.render(dataset.rows[i]))
            except TemplateError as e:
                raise TemplateError(f"{e.message} (rendering {dataset.place(i)})", e.where) from None
        for spec in model_specs:
            variants.append(Variant(prompt, spec, {**prompt.params, **(params or {})}, rendered))
    return Plan(variants, dataset, metrics, rows, repeats, provider_options or {})


class _Writer:
    """Buffers finished outputs; scores and stores them in batches off the event loop."""

    def __init__(self, db: str | None, plan: Plan):
        self.db = db
        self.plan = plan
        self.pending: list[tuple[Variant, int, int, list[dict[str, str]], Any]] = []
        self.last_flush = time.monotonic()

    def add(self, variant: Variant, row: int, repeat: int, messages, result) -> None:
        self.pending.append((variant, row, repeat, messages, result))

    def due(self) -> bool:
        return len(self.pending) >= FLUSH_ROWS or (self.pending and time.monotonic() - self.last_flush > FLUSH_SECONDS)

    async def flush(self) -> None:
        batch, self.pending = self.pending, []
        self.last_flush = time.monotonic()
        if batch:
            await asyncio.to_thread(self._write, batch)

    def _write(self, batch) -> None:
        ds, ms = self.plan.dataset, self.plan.metrics
        outputs, scores = [], []
        for variant, row, repeat, messages, result in batch:
            rec = {"run_id": variant.run_id, "row_idx": row, "repeat_idx": repeat,
                   "messages": json.dumps(messages, ensure_ascii=False), "cached": False}
            if isinstance(result, ProviderError):
                rec.update(error=result.message, error_kind=result.kind)
            else:
                rec.update(text=result.text, finish_reason=result.finish_reason, latency_ms=result.latency_ms,
                           tokens_in=result.tokens_in, tokens_out=result.tokens_out)
                values = metric_lib.score(result.text, ds.references(row), ms, ds.lang,
                                          latency_ms=result.latency_ms, tokens_out=result.tokens_out)
                scores += [{"run_id": variant.run_id, "row_idx": row, "repeat_idx": repeat, "metric": k, "value": v}
                           for k, v in values.items()]
            outputs.append(rec)
        with store.connect(self.db) as con:
            store.write_results(con, outputs, scores)


def create_runs(plan: Plan, db: str | None) -> list[str]:
    """Record prompt versions, the dataset and one run per variant, in one unit of work."""
    sigs = metric_lib.signatures(plan.metrics, plan.dataset.lang)
    with store.connect(db) as con:
        ds_hash = store.save_dataset(con, plan.dataset)
        for v in plan.variants:
            store.save_prompt_version(con, v.prompt.name, v.prompt.path, v.prompt.version, v.prompt.to_yaml())
            v.run_id = store.create_run(
                con, prompt_hash=v.prompt.version, prompt_name=v.prompt.name, model_spec=v.model_spec,
                params=v.params, dataset_hash=ds_hash, n_rows=len(plan.rows), repeats=plan.repeats,
                metrics=plan.metrics.as_text(), lang=plan.dataset.lang, signatures=sigs)
    return [v.run_id for v in plan.variants]


async def _run_variant(plan: Plan, v: Variant, provider: Provider, writer: _Writer, progress: Progress,
                       concurrency: int, todo: list[tuple[int, int]]) -> None:
    queue: asyncio.Queue[tuple[int, int]] = asyncio.Queue()
    for item in todo:
        queue.put_nowait(item)
    index = {row: k for k, row in enumerate(plan.rows)}

    async def worker() -> None:
        while not queue.empty():
            items = [queue.get_nowait()]
            while len(items) < provider.batch_size and not queue.empty():
                items.append(queue.get_nowait())
            batch = [v.messages[index[row]] for row, _ in items]
            try:
                results = await provider.complete_batch(batch, v.params)
            except ProviderError as e:
                results = [e] * len(items)
            for (row, rep), msgs, res in zip(items, batch, results):
                writer.add(v, row, rep, msgs, res)
                progress.done += 1
                progress.errors += isinstance(res, ProviderError)

    n = max(1, min(concurrency or provider.max_concurrency, len(todo)))
    await asyncio.gather(*(worker() for _ in range(n)))


async def execute(plan: Plan, db: str | None, concurrency: int | None = None,
                  on_progress: Callable[[list[Progress]], None] | None = None,
                  todo: dict[str, list[tuple[int, int]]] | None = None,
                  cancel: threading.Event | None = None) -> list[str]:
    """Generate, score and store every variant; returns run ids. Each run ends done or cancelled.

    `cancel` (set from another thread, e.g. the app's Cancel button) stops the run after flushing
    what has finished; the run is left `cancelled` and can be resumed.
    """
    if any(v.run_id is None for v in plan.variants):
        create_runs(plan, db)
    providers: dict[str, Provider] = {}
    for v in plan.variants:
        if v.model_spec not in providers:
            providers[v.model_spec] = make_provider(v.model_spec, **plan.provider_options)
    writer = _Writer(db, plan)
    work = {v.run_id: (todo or {}).get(v.run_id) or [(r, k) for r in plan.rows for k in range(plan.repeats)]
            for v in plan.variants}
    progress = [Progress(v.run_id, len(work[v.run_id])) for v in plan.variants]
    status = "cancelled"
    tasks = [asyncio.create_task(_run_variant(plan, v, providers[v.model_spec], writer, p,
                                              concurrency or 0, work[v.run_id]))
             for v, p in zip(plan.variants, progress)]
    gathered = asyncio.gather(*tasks)
    try:
        while not gathered.done():
            await asyncio.wait([gathered], timeout=0.1)
            if cancel is not None and cancel.is_set():
                break
            if writer.due():
                await writer.flush()
            if on_progress:
                on_progress(progress)
        if gathered.done():
            gathered.result()
            status = "done"
    finally:
        if not gathered.done():
            gathered.cancel()
            await asyncio.gather(gathered, return_exceptions=True)
        await writer.flush()
        for p in providers.values():
            await p.aclose()
        with store.connect(db) as con:
            for v in plan.variants:
                store.set_status(con, v.run_id, status)
        if on_progress:
            on_progress(progress)
    return [v.run_id for v in plan.variants]

"""The public Python API: what a notebook, a script, the CLI and the app's jobs call.

    import workbench
    ev = workbench.evaluate("prompts/support_few_shot.yaml", "datasets/support_en.jsonl", "openai:gpt-4o-mini")
    ev.summary()  # one row per prompt x model: rows, errors, the mean of each metric

`evaluate` works both from plain code and from code that already runs an event loop (a notebook cell,
or inside `asyncio.run(main())`): there it runs in a worker thread with a loop of its own. In async
code, `await workbench.aevaluate(...)` runs on the caller's loop instead.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import os
import threading
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from workbench.authoring.datasets import Dataset
from workbench.authoring.templates import Prompt
from workbench.defaults import DEFAULT_RETRIES, DEFAULT_TIMEOUT_S
from workbench.engine.plan import Plan, Progress
from workbench.errors import UserError
from workbench.evaluation.scoring import Scores, as_metric_set, score_rows  # noqa: F401  (Scores: public, score_rows gives it)
from workbench.providers import Provider

if TYPE_CHECKING:
    import pandas as pd

    from workbench import metrics as metric_lib
    from workbench.evaluation.analysis import RunSummary
    from workbench.evaluation.gates import GateResult

__all__ = ["EvalOptions", "Evaluation", "aevaluate", "aresume", "arun_plan", "evaluate", "judge", "judge_pairwise",
           "load_dataset", "load_prompt", "resume", "run_plan", "score", "score_rows"]

T = TypeVar("T")
PathLike = str | os.PathLike


@dataclasses.dataclass
class EvalOptions:
    """The options `evaluate(**options)` takes besides its arguments (the CLI's flags, in words)."""

    params: dict[str, Any] | None = None  # generation parameters over the prompt's own, e.g. {"temperature": 0}
    repeats: int = 1  # run every row this many times (bypasses the response cache)
    history: str = "gold"  # conversations: turns from the reference history (gold) or the model's own (own)
    concurrency: int | None = None  # requests in flight per provider (default: the provider's own)
    timeout: float = DEFAULT_TIMEOUT_S  # seconds per request
    retries: int = DEFAULT_RETRIES
    rpm: float | None = None  # requests per minute per provider
    tpm: float | None = None  # tokens per minute per provider
    cache: bool = True  # read and fill the response cache at temperature 0
    checks: Sequence[str] | None = None  # checks as 0/1 metrics, e.g. ["contains:refund", "max-length:400"]
    reference: str = "reference"  # the dataset column with the reference answer (when `data` is a path)
    lang: str = "auto"  # en, zh or auto (tokenizer language for BLEU, chrF)
    where: str | None = None  # a row filter, e.g. "split == 'test'" (workbench.authoring.row_filter)
    gold_passage: str | None = None  # dataset field with gold passage ids for retrieval_hit/_mrr/_recall (faq_id)
    judge_model: str | None = None  # the model judge:RUBRIC metrics ask (default: see judge_model_default)
    on_progress: Callable[[list[Progress]], None] | None = None
    cancel: threading.Event | None = None  # set it (from another thread) to stop; the runs end `cancelled`

    @classmethod
    def of(cls, options: dict[str, Any]) -> EvalOptions:
        known = [f.name for f in dataclasses.fields(cls)]
        for name in options:
            if name not in known:
                raise UserError(f"unknown option {name!r} (known: {', '.join(known)})", setting=name)
        return cls(**options)

    def provider_options(self) -> dict[str, Any]:
        return {"timeout": self.timeout, "retries": self.retries, "rpm": self.rpm, "tpm": self.tpm}


@dataclasses.dataclass
class Evaluation:
    """The stored runs of one evaluation (one per prompt x model) in the DuckDB file `db`."""

    runs: list[str]
    db: str
    dataset: str | None = None  # the dataset's file (or stored name)

    def summaries(self) -> list[RunSummary]:
        """Per run: counts, the mean of each metric with its 95% interval, cached outputs, stability."""
        from workbench import store
        from workbench.evaluation import analysis

        with store.connect(self.db) as con:
            return [analysis.summarize(con, r) for r in self.runs]

    def gates(self, gates: Sequence[str], baseline: str | None = None) -> list[GateResult]:
        """Each gate (`"bleu.ci_low>=0.15"`, `"pass_rate>=0.95"`; with `baseline`, on the paired difference
        against that run) on each run: `.passed`, `.value`, `.line()`."""
        from workbench.evaluation.gates import evaluate_gates, parse_gate

        if isinstance(gates, str):
            gates = [gates]
        return evaluate_gates(self.db, self.runs, [parse_gate(g, baseline, "gates") for g in gates])

    def summary(self) -> pd.DataFrame:
        """One row per variant: run, prompt, model, rows (outputs), errors, cached, and the mean of each metric."""
        import pandas as pd

        summaries = self.summaries()
        names = list(dict.fromkeys(m.metric for s in summaries for m in s.metrics))
        rows = []
        for s in summaries:
            means = {m.metric: m.mean for m in s.metrics}
            rows.append({"run": s.run["id"], "prompt": s.run["prompt_name"], "model": s.run["model_spec"],
                         "rows": s.n_outputs, "errors": s.n_errors, "cached": s.n_cached,
                         **{n: means.get(n) for n in names}})
        return pd.DataFrame(rows, columns=["run", "prompt", "model", "rows", "errors", "cached", *names])


def load_prompt(path: PathLike) -> Prompt:
    """A prompt file (YAML: messages as Jinja templates, examples, parameters), checked."""
    from workbench.authoring.templates import load_prompt as load

    return load(path)


def load_dataset(path: PathLike, reference: str = "reference", lang: str = "auto") -> Dataset:
    """A CSV, TSV, JSONL or Parquet file; `reference` names the column with the reference answer."""
    from workbench.authoring.datasets import load_dataset as load

    return load(path, reference_field=reference, lang=lang)


def score(predictions: Sequence[str], references: Sequence[str | Sequence[str]], metrics: Any = None,
          lang: str = "auto") -> pd.DataFrame:
    """Scores of predictions made elsewhere, one row each (a column per metric), as `workbench score` gives them.

    A reference is a string or a list of acceptable answers; `metrics` a list or comma-separated text
    (default: every metric that needs no latency or token count); `lang` en, zh or auto (per row when the
    references mix languages)."""
    import pandas as pd

    scores = score_rows(predictions, references, metrics, lang)
    return pd.DataFrame(scores.rows, columns=list(scores.metrics.names))


def evaluate(prompts: PathLike | Prompt | Sequence[PathLike | Prompt], data: PathLike | Dataset,
             models: str | Provider | Sequence[str | Provider], metrics: Any = None, db: PathLike | None = None,
             limit: int | None = None, **options: Any) -> Evaluation:
    """Run every prompt x model over the dataset's rows (the first `limit`), score and store the outputs.

    `prompts`: prompt files or loaded Prompts; `data`: a dataset file or a loaded Dataset; `models`: spec
    strings (``openai:gpt-4o-mini``, ``openai:NAME@http://127.0.0.1:8000/v1``, ``hf:PATH``) or Provider
    objects (closed when the evaluation ends); `metrics`: a list or comma-separated text (default: the CLI's);
    `db`: the DuckDB file (default $WORKBENCH_DB or ./workbench.duckdb); `options`: see EvalOptions.
    Bad input raises workbench.errors.UserError before anything is stored.
    """
    cancel = options.setdefault("cancel", None) or threading.Event()
    options["cancel"] = cancel
    return _run_sync(lambda: aevaluate(prompts, data, models, metrics, db, limit, **options), cancel)


async def aevaluate(prompts: PathLike | Prompt | Sequence[PathLike | Prompt], data: PathLike | Dataset,
                    models: str | Provider | Sequence[str | Provider], metrics: Any = None,
                    db: PathLike | None = None, limit: int | None = None, **options: Any) -> Evaluation:
    """`evaluate` on the running event loop."""
    from workbench.authoring.row_filter import filter_rows
    from workbench.engine.plan import plan_eval

    opts = EvalOptions.of(options)
    for setting, value in (("limit", limit), ("repeats", opts.repeats)):
        if value is not None and value < 1:
            raise UserError("must be at least 1", setting=setting)
    loaded = [p if isinstance(p, Prompt) else load_prompt(p) for p in _as_list(prompts, (str, os.PathLike, Prompt))]
    if not loaded:
        raise UserError("give at least one prompt", setting="prompts")
    dataset = data if isinstance(data, Dataset) else load_dataset(data, opts.reference, opts.lang)
    dataset = filter_rows(dataset, opts.where)
    from workbench.evaluation.row_checks import dataset_checks

    dataset_checks(dataset)  # a bad `__expected` or `checks` value is named before anything runs
    chosen = _as_list(models, (str, Provider))
    given = _given_providers(chosen)
    specs = list(dict.fromkeys(m.spec if isinstance(m, Provider) else m for m in chosen))
    metric_set = _with_gold(_with_judge_model(_with_checks(as_metric_set(metrics), opts.checks), opts.judge_model),
                            opts.gold_passage, dataset)
    plan = plan_eval(loaded, dataset, specs, metric_set, limit=limit,
                     params=opts.params, repeats=opts.repeats, provider_options=opts.provider_options(),
                     use_cache=opts.cache, db=None if db is None else str(db), history=opts.history)
    return await arun_plan(plan, db, concurrency=opts.concurrency, on_progress=opts.on_progress, cancel=opts.cancel,
                           providers=given)


def resume(run: str, db: PathLike | None = None, errors_only: bool = False, **options: Any) -> Evaluation:
    """Finish a stored run (rows without output), or with `errors_only` redo its rows that ended in an error."""
    cancel = options.setdefault("cancel", None) or threading.Event()
    options["cancel"] = cancel
    return _run_sync(lambda: aresume(run, db, errors_only, **options), cancel)


async def aresume(run: str, db: PathLike | None = None, errors_only: bool = False, **options: Any) -> Evaluation:
    """`resume` on the running event loop. Options: timeout, retries, rpm, tpm, concurrency, cache, on_progress,
    cancel (the run's prompt, data, model, metrics and parameters come from the store)."""
    from workbench.engine.plan import plan_from_run

    opts = EvalOptions.of(options)
    plan = await asyncio.to_thread(plan_from_run, _db(db), run, errors_only, opts.provider_options(), opts.cache)
    return await arun_plan(plan, db, concurrency=opts.concurrency, on_progress=opts.on_progress, cancel=opts.cancel)


def run_plan(plan: Plan, db: PathLike | None = None, **kwargs: Any) -> Evaluation:
    """`arun_plan` from synchronous code (a thread of its own when a loop is already running here)."""
    cancel = kwargs.setdefault("cancel", None) or threading.Event()
    kwargs["cancel"] = cancel
    return _run_sync(lambda: arun_plan(plan, db, **kwargs), cancel)


async def arun_plan(plan: Plan, db: PathLike | None = None, *, concurrency: int | None = None,
                    on_progress: Callable[[list[Progress]], None] | None = None,
                    cancel: threading.Event | None = None, providers: dict[str, Provider] | None = None,
                    on_created: Callable[[list[str]], None] | None = None) -> Evaluation:
    """Execute a plan (workbench.engine.plan: plan_eval, plan_from_run) and return its runs.

    Every provider is built first, so a bad spec or a missing key leaves nothing behind. With
    `on_created`, the new runs are created before any request and their ids handed to it (the app shows
    them while the job goes on). `providers` (spec -> Provider) are used instead of building those specs."""
    from workbench import store
    from workbench.engine import runner
    from workbench.evaluation.row_checks import score_row_checks

    path = _db(db)
    built = await _build_providers(plan, providers or {})
    with store.kept_open(path):  # its units of work open the file once
        try:
            if on_created is not None:
                if any(v.run_id is None for v in plan.variants):
                    await asyncio.to_thread(runner.create_runs, plan, path)
                on_created([v.run_id for v in plan.variants])
        except BaseException:
            await asyncio.gather(*(p.aclose() for p in built.values()), return_exceptions=True)
            raise
        run_ids = await runner.execute(plan, path, concurrency=concurrency, on_progress=on_progress, cancel=cancel,
                                       providers=built)
        await asyncio.to_thread(score_row_checks, path, run_ids, plan.dataset)
        if any(m.name == "judge" for m in plan.metrics.metrics) and not (cancel is not None and cancel.is_set()):
            from workbench.evaluation.judging import judge_runs

            await judge_runs(path, run_ids, plan.metrics, judge_model_default(warn=False), concurrency=concurrency,
                             provider_options=plan.provider_options, use_cache=plan.use_cache, cancel=cancel,
                             on_progress=on_progress)
    return Evaluation(run_ids, store.db_path(path), plan.dataset.path)


async def _build_providers(plan: Plan, given: dict[str, Provider]) -> dict[str, Provider]:
    from workbench.providers import make_provider

    built = dict(given)
    try:
        for spec in dict.fromkeys(v.model_spec for v in plan.variants):
            if spec not in built:
                built[spec] = make_provider(spec, **plan.provider_options)
    except BaseException:
        await asyncio.gather(*(p.aclose() for p in built.values()), return_exceptions=True)
        raise
    return built


def _given_providers(models: list[str | Provider]) -> dict[str, Provider]:
    out = {}
    for m in models:
        if isinstance(m, Provider):
            if not m.spec:
                raise UserError(f"{type(m).__name__} has no spec: set its `spec` to name the model in the runs",
                                setting="model")
            out[m.spec] = m
    return out


def _with_gold(metrics: metric_lib.MetricSet, field: str | None, dataset: Dataset) -> metric_lib.MetricSet:
    """Retrieval metrics read gold ids from `field`, which the dataset must have (rows may leave it empty)."""
    from workbench import metrics as metric_lib

    if field is not None and field not in dataset.columns:
        raise UserError(f"the dataset has no field {field!r} (fields: {', '.join(dataset.columns)})",
                        setting="gold_passage")
    return metric_lib.with_gold_passage(metrics, field)


def _with_checks(metrics: metric_lib.MetricSet, checks: Sequence[str] | None) -> metric_lib.MetricSet:
    from workbench.metrics import MetricSet
    from workbench.metrics.checks import CheckMetric

    if isinstance(checks, str):
        checks = [checks]
    added = tuple(CheckMetric(spec=c) for c in checks or ())
    return MetricSet(metrics.metrics + tuple(m for m in added if m not in metrics.metrics))


def judge(runs: str | Sequence[str], rubrics: str | Sequence[str], judge_model: str | None = None,
          db: PathLike | None = None, **options: Any) -> list:
    """Judge stored runs' answers with rubrics (`judge:RUBRIC` scores with reasoning, on those runs); returns
    one workbench.evaluation.judging.JudgeResult per run and rubric. Options: concurrency, timeout, retries,
    rpm, tpm, cache, on_progress, cancel."""
    from workbench import store
    from workbench.evaluation.judging import judge_runs

    opts = EvalOptions.of(options)
    names = [rubrics] if isinstance(rubrics, str) else list(rubrics)
    metrics = _with_judge_model(as_metric_set([f"judge:{r}" for r in names]), judge_model or opts.judge_model)
    with store.connect(_db(db)) as con:
        ids = [store.resolve_run(con, r) for r in ([runs] if isinstance(runs, str) else runs)]
    return _run_sync(lambda: judge_runs(_db(db), ids, metrics, "", concurrency=opts.concurrency,
                                        provider_options=opts.provider_options(), use_cache=opts.cache,
                                        cancel=opts.cancel, on_progress=opts.on_progress),
                     opts.cancel or threading.Event())


def judge_pairwise(run_a: str, run_b: str, rubric: str, judge_model: str | None = None, db: PathLike | None = None,
                   **options: Any):
    """Judge every row both runs answered, in both orders (workbench.evaluation.pairwise_judge); returns the
    PairwiseReport (wins when the orders agree, position-bias rate, inconsistent share)."""
    from workbench.evaluation.pairwise_judge import judge_pairwise as run

    opts = EvalOptions.of(options)
    spec = judge_model or opts.judge_model or judge_model_default()
    return _run_sync(lambda: run(_db(db), run_a, run_b, rubric, spec, concurrency=opts.concurrency,
                                 provider_options=opts.provider_options(), use_cache=opts.cache, cancel=opts.cancel,
                                 on_progress=opts.on_progress), opts.cancel or threading.Event())


def judge_model_default(warn: bool = True) -> str:
    """The judge when none is named: the API default with an OpenAI key, else the local default model, which
    is a smoke test, not a judge (said once on stderr)."""
    import sys

    from workbench.defaults import uses_local_default
    from workbench.finetune.default_model import default_spec

    spec = default_spec()
    if warn and uses_local_default():
        print(f"workbench: warning: no OPENAI_API_KEY: judging with the tiny local model {spec}, a smoke test, "
              "not a judge (choose one with --judge-model)", file=sys.stderr)
    return spec


def _with_judge_model(metrics: metric_lib.MetricSet, judge_model: str | None) -> metric_lib.MetricSet:
    """Judge metrics without a model get `judge_model` (or the default), so the run stores which model judged."""
    from workbench.authoring.rubrics import load_rubric
    from workbench.metrics.judge import JudgeMetric

    for m in metrics.metrics:
        if isinstance(m, JudgeMetric):
            load_rubric(m.config["rubric"])  # a bad rubric is named before anything runs
    judges = [m for m in metrics.metrics if isinstance(m, JudgeMetric) and not m.model]
    if judges:
        spec = judge_model or judge_model_default()
        for m in judges:
            m.config["model"] = spec
    return metrics


def _as_list(value: Any, single: tuple[type, ...]) -> list:
    return [value] if isinstance(value, single) else list(value)


def _db(db: PathLike | None) -> str | None:
    return os.fspath(db) if db is not None else None


def _run_sync(make: Callable[[], Awaitable[T]], cancel: threading.Event) -> T:
    """Run the coroutine `make()` to its end: on a new loop here, or, when this thread already runs a loop
    (a notebook cell, code inside asyncio.run), on a new loop in a worker thread while this one waits.
    Interrupted while waiting (a notebook's stop button), it sets `cancel` and waits for the worker to store
    what finished and mark the runs cancelled."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make())
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="workbench-evaluate") as pool:
        future = pool.submit(lambda: asyncio.run(make()))
        try:
            # In short waits: a Ctrl-C that the kernel delivers to another thread (os.kill picks any thread)
            # only sets a flag, which this thread acts on when it runs Python again; one long wait on the
            # future let the run go on to its end (seen in a full test run).
            while not future.done():
                concurrent.futures.wait([future], timeout=0.1)
        except BaseException:
            cancel.set()
            raise
        return future.result()

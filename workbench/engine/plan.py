"""What a batch run will do: the variants (prompt x model), the rows, the rendered messages, and its progress.

Planning does every check that can fail on user input before any run is created, so a bad template,
row or model spec leaves nothing in the database.

Resuming: `plan_from_run(db, run_id)` rebuilds the plan of a stored run from what the store holds
(the prompt version, the dataset rows, model, parameters, metrics, repeats) with the rows that have no
output yet (a run left `cancelled` by Ctrl-C, or `running` by kill -9); `errors_only=True` instead
takes the rows whose output is an error (``--retry-errors``). `execute` on that plan writes into the
same run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from workbench import metrics as metric_lib
from workbench.authoring.datasets import Dataset, check_rows
from workbench.authoring.templates import Prompt
from workbench.errors import TemplateError, UserError

Todo = dict[str, list[tuple[int, int]]]  # run id -> (row_idx, repeat_idx) still to do


@dataclass
class Variant:
    prompt: Prompt
    model_spec: str
    params: dict[str, Any]
    messages: list[list[dict[str, str]] | None]  # rendered, one per plan row (None: not needed by this plan)
    run_id: str | None = None
    knowledge: dict[str, Any] | None = None  # {base, version, method, k} for a prompt with `knowledge:`
    passages: list | None = None  # per plan row, the knowledge.Passage list put into its prompt


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


def uses_cache(plan: Plan, v: Variant) -> bool:
    """Whether variant `v` reads and fills the response cache: at temperature 0 and without repeats."""
    temperature = v.params.get("temperature")
    return plan.use_cache and plan.repeats == 1 and temperature is not None and float(temperature) == 0.0


def plan_eval(prompts: list[Prompt], dataset: Dataset, model_specs: list[str], metrics: metric_lib.MetricSet,
              limit: int | None = None, params: dict[str, Any] | None = None, repeats: int = 1,
              provider_options: dict[str, Any] | None = None, use_cache: bool = True,
              db: str | None = None) -> Plan:
    """Validate rows, retrieve passages for knowledge prompts (from `db`'s bases) and render every prompt
    on every row. Raises UserError; creates nothing."""
    if repeats < 1:
        raise UserError("must be at least 1", setting="repeats")
    rows = list(range(len(dataset.rows)))[: limit if limit else None]
    sub = dataset.take(rows)
    variants = []
    for prompt in prompts:
        required, _ = prompt.variables()
        check_rows(sub, required, need_reference=metrics.needs_reference, needed_by=prompt.path,
                   places=prompt.variable_places(required))
        used, passages = retrieve(prompt, dataset, rows, db)
        rendered = render_rows(prompt, dataset, rows, passages=passages)
        for spec in model_specs:
            variants.append(Variant(prompt, spec, {**prompt.params, **(params or {})}, rendered, knowledge=used,
                                    passages=passages))
    return Plan(variants, dataset, metrics, rows, repeats, provider_options or {}, use_cache)


def retrieve(prompt: Prompt, dataset: Dataset, rows: list[int], db: str | None, recorded: dict | None = None,
             only: set[int] | None = None) -> tuple[dict | None, list | None]:
    """(knowledge used, passages per plan row, None where not needed) for a prompt with `knowledge:`."""
    if not prompt.knowledge:
        return None, None
    from workbench import knowledge

    wanted = [i for i in rows if only is None or i in only]
    used, found = knowledge.plan_passages(prompt, [dataset.rows[i] for i in wanted], db, recorded,
                                          [dataset.place(i) for i in wanted])
    by_row = dict(zip(wanted, found))
    return used, [by_row.get(i) for i in rows]


def render_rows(prompt: Prompt, dataset: Dataset, rows: list[int], only: set[int] | None = None,
                passages: list | None = None) -> list:
    """The prompt's messages for each of `rows` (None for rows not in `only`); errors name the row."""
    wanted = [i for i in rows if only is None or i in only]
    if passages is None:
        rendered = prompt.render_rows(dataset.rows[i] for i in wanted)
    else:
        from workbench.knowledge import with_passages

        found = dict(zip(rows, passages))
        rendered = prompt.render_rows(with_passages(dataset.rows[i], found[i]) for i in wanted)
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
    from workbench.authoring.stored import dataset_from_record, prompt_from_version
    from workbench.metrics import metric_set

    with store.connect(db) as con:
        run_id = store.resolve_run(con, run_id)
        run = store.get_run(con, run_id)
        version = store.get_prompt_version(con, run["prompt_hash"])
        ds = store.get_dataset(con, run["dataset_hash"])
        done = store.done_rows(con, run_id, errors_too=True)
        ok = store.done_rows(con, run_id, errors_too=False)
        unscored = store.unscored_outputs(con, run_id)
        recorded = store.run_knowledge(con, run_id)
    prompt = prompt_from_version(version)
    dataset = dataset_from_record(ds, lang=run["lang"])
    rows = list(range(min(run["n_rows"], len(dataset.rows))))
    if errors_only:
        todo = sorted(done - ok)
    else:
        every = {(r, k) for r in rows for k in range(run["repeats"])}
        todo = sorted((every - done) | (unscored & every))
    only = {r for r, _ in todo}
    used, passages = retrieve(prompt, dataset, rows, db, recorded, only)  # the version the run used
    messages = render_rows(prompt, dataset, rows, only=only, passages=passages)
    variant = Variant(prompt, run["model_spec"], run["params"], messages, run_id=run_id, knowledge=used,
                      passages=passages)
    metrics = metric_set(run["metrics"], f"run {run_id}: metrics")
    return Plan([variant], dataset, metrics, rows, run["repeats"], provider_options or {}, use_cache,
                todo={run_id: todo})

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
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from workbench import metrics as metric_lib
from workbench.authoring.datasets import Dataset, check_rows
from workbench.authoring.templates import Prompt
from workbench.engine.rendered import Rendered
from workbench.errors import TemplateError, UserError

Todo = dict[str, list[tuple[int, int]]]  # run id -> (plan row, repeat_idx) still to do
HISTORY_MODES = ("gold", "own")


@dataclass
class Turns:
    """A conversation plan: its rows are turn rows (one per assistant turn, authoring.conversations.turn_rows),
    stored under the conversation's row index and the turn's index.

    `history`: ``gold`` renders each turn from the reference turns before it (all turns independent);
    ``own`` from the model's own earlier answers (the turns of a conversation run in order, see
    engine/turns.py). `own_texts`: answers already stored, (row, turn, repeat) -> text, for resuming `own`."""

    source: Dataset  # the conversations, as stored with the run
    units: list[tuple[int, int]]  # plan row -> (conversation row_idx, turn_idx)
    history: str = "gold"
    own_texts: dict[tuple[int, int, int], str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.index = {u: k for k, u in enumerate(self.units)}


@dataclass
class Variant:
    prompt: Prompt
    model_spec: str
    params: dict[str, Any]
    messages: Sequence[list[dict[str, str]] | None]  # rendered, one per plan row (None: not needed by this plan)
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
    turns: Turns | None = None  # a conversation plan (then `dataset` holds its turn rows)
    judge_of: tuple[str, str] | None = None  # a judge's plan: (the judged run, the judge's label) marked on its run

    def unit(self, row: int) -> tuple[int, int]:
        """(row_idx, turn_idx) under which plan row `row` is stored."""
        return self.turns.units[row] if self.turns else (row, 0)

    def passages_at(self, variant: Variant, row: int) -> list | None:
        """The passages `variant` retrieved for plan row `row` (None: a prompt without `knowledge:`)."""
        if variant.passages is None:
            return None
        return variant.passages[self.positions[row]]

    @property
    def positions(self) -> dict[int, int] | range:
        """Plan row -> its position in `rows` (the index of its rendered messages and passages). Rows 0..n-1 in
        order, every run without a row selection, map to themselves: a range, not a 100,000-entry dict."""
        if "_positions" not in self.__dict__:
            rows = self.rows
            same = all(r == k for k, r in enumerate(rows))
            self.__dict__["_positions"] = range(len(rows)) if same else {r: k for k, r in enumerate(rows)}
        return self.__dict__["_positions"]

    def plan_row(self, row_idx: int, turn_idx: int) -> int | None:
        """The plan row stored as (row_idx, turn_idx), or None when this plan has no such turn."""
        return self.turns.index.get((row_idx, turn_idx)) if self.turns else row_idx


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
    if plan.turns and plan.turns.history == "own":
        return False  # each request depends on the answers before it, made in this run
    return plan.use_cache and plan.repeats == 1 and temperature is not None and float(temperature) == 0.0


def turn_plan(dataset: Dataset, history: str, limit: int | None = None) -> tuple[Dataset, Turns]:
    """The turn rows of the first `limit` conversations of `dataset`, as a dataset of their own, and how
    they map to the conversations."""
    from workbench.authoring.conversations import turn_rows

    if history not in HISTORY_MODES:
        raise UserError(f"must be one of {', '.join(HISTORY_MODES)}, got {history!r}", setting="history")
    source = dataset.take(list(range(len(dataset.rows)))[: limit if limit else None])
    rows, lines, units = [], [], []
    for i, conv in enumerate(source.rows):
        turns = turn_rows(conv, dataset.reference_field)
        rows += turns
        units += [(i, t) for t in range(len(turns))]
        lines += [source.line_numbers[i] if source.line_numbers else i + 1] * len(turns)
    columns = [c for c in source.columns if c != "messages"] + ["history", dataset.reference_field]
    flat = Dataset(source.name, source.path, rows, list(dict.fromkeys(columns)), dataset.reference_field,
                   dataset.lang, dataset.encoding, lines, kind="turns")
    return flat, Turns(source, units, history)


def plan_eval(prompts: list[Prompt], dataset: Dataset, model_specs: list[str], metrics: metric_lib.MetricSet,
              limit: int | None = None, params: dict[str, Any] | None = None, repeats: int = 1,
              provider_options: dict[str, Any] | None = None, use_cache: bool = True,
              db: str | None = None, history: str = "gold") -> Plan:
    """Validate rows, retrieve passages for knowledge prompts (from `db`'s bases) and render every prompt on
    every row (for conversations: every assistant turn, with `history` gold or own; `limit` counts
    conversations). Raises UserError; creates nothing."""
    if repeats < 1:
        raise UserError("must be at least 1", setting="repeats")
    turns = None
    if dataset.is_conversations:
        dataset, turns = turn_plan(dataset, history, limit)
        limit = None
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
    return Plan(variants, dataset, metrics, rows, repeats, provider_options or {}, use_cache, turns=turns)


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
                passages: list | None = None) -> Rendered:
    """The prompt's messages for each of `rows` (None for rows not in `only`), held compactly (engine/rendered.py);
    errors name the row."""
    from workbench.authoring.conversations import HISTORY, places_history, with_history

    wanted = [i for i in rows if only is None or i in only]
    if passages is None:
        rendered = prompt.render_rows(dataset.rows[i] for i in wanted)
    else:
        from workbench.knowledge import with_passages

        found = dict(zip(rows, passages))
        rendered = prompt.render_rows(with_passages(dataset.rows[i], found[i]) for i in wanted)
    turns = dataset.kind == "turns"
    placed = turns and places_history(prompt)
    out = Rendered()
    for i in rows:
        if only is not None and i not in only:
            out.skip()
            continue
        try:
            messages = next(rendered)
            out.append(with_history(messages, dataset.rows[i][HISTORY], placed) if turns else messages)
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
        done = store.done_turns(con, run_id, errors_too=True)
        ok = store.done_turns(con, run_id, errors_too=False)
        unscored = store.unscored_outputs(con, run_id)
        recorded = store.run_knowledge(con, run_id)
        own = store.turn_texts(con, run_id) if run.get("history") == "own" else {}
    prompt = prompt_from_version(version)
    dataset = dataset_from_record(ds, lang=run["lang"])
    turns = None
    if run.get("history"):
        dataset, turns = turn_plan(dataset, run["history"], run["n_rows"])
        turns.own_texts = own
        rows = list(range(len(dataset.rows)))
    else:
        rows = list(range(min(run["n_rows"], len(dataset.rows))))
    every = {(r, k) for r in rows for k in range(run["repeats"])}
    metrics = metric_set(run["metrics"], f"run {run_id}: metrics")
    if all(m.scored_later for m in metrics.metrics):
        unscored = set()  # no metric scores an output as it is stored (none, or only judges): none is missing
    as_plan = _plan_pairs(turns)
    done, ok, unscored = as_plan(done), as_plan(ok), as_plan(unscored)
    todo = (done - ok) if errors_only else (every - done) | (unscored & every)
    if turns and turns.history == "own":
        todo = _later_turns(turns, todo, every)
    todo = sorted(todo)
    only = {r for r, _ in todo}
    used, passages = retrieve(prompt, dataset, rows, db, recorded, only)  # the version the run used
    messages = render_rows(prompt, dataset, rows, only=only, passages=passages)
    variant = Variant(prompt, run["model_spec"], run["params"], messages, run_id=run_id, knowledge=used,
                      passages=passages)
    return Plan([variant], dataset, metrics, rows, run["repeats"], provider_options or {}, use_cache,
                todo={run_id: todo}, turns=turns)


def _plan_pairs(turns: Turns | None):
    """Stored (row_idx, turn_idx, repeat_idx) keys -> the plan's (row, repeat) pairs."""
    def convert(keys: set[tuple[int, int, int]]) -> set[tuple[int, int]]:
        if turns is None:
            return {(r, k) for r, _, k in keys}
        return {(turns.index[(r, t)], k) for r, t, k in keys if (r, t) in turns.index}
    return convert


def _later_turns(turns: Turns, todo: set[tuple[int, int]], every: set[tuple[int, int]]) -> set[tuple[int, int]]:
    """With own history, a turn to redo changes every later turn of its conversation: those are redone too."""
    first: dict[tuple[int, int], int] = {}
    for row, rep in todo:
        conv, t = turns.units[row]
        first[(conv, rep)] = min(t, first.get((conv, rep), t))
    return {(row, rep) for row, rep in every
            if (key := (turns.units[row][0], rep)) in first and turns.units[row][1] >= first[key]}

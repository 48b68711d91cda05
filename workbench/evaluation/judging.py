"""Judge a stored run's answers with a rubric (`--metrics judge:RUBRIC`), through the batch engine.

The judge's requests are a run of their own (a "judge run", runs.judge_of = the judged run): its dataset is
one row per judged output (question, answer, reference, the row's fields, passages), its prompt the rubric's,
its model the judge. So the judge gets the engine's concurrency, retries, rate limits, response cache and
resume, and its cost (tokens, latency) is stored apart from the answers'. The replies are then read
(workbench.metrics.judge.read_reply) into scores with reasoning on the judged run; a reply without a usable
score is a `bad_judge_reply` error on that output, and the run goes on.

Resume: a judge run for the same outputs, rubric and judge is finished rather than made again; when the
answers changed (a resumed or retried run), a new judge run is made and unchanged requests come from the cache.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from workbench import store
from workbench.authoring.datasets import Dataset
from workbench.authoring.rubrics import Rubric, load_rubric
from workbench.authoring.stored import dataset_from_record
from workbench.engine.plan import Plan, Progress, Variant, plan_from_run, turn_plan
from workbench.engine.runner import execute
from workbench.errors import TemplateError
from workbench.metrics import MetricSet
from workbench.metrics.judge import BAD_JUDGE_REPLY, JudgeMetric, JudgeReplyError, read_reply
from workbench.providers.keys import mask

JUDGED_KEY = "_judged"  # each judge row names the output it judges: [row_idx, turn_idx, repeat_idx]


@dataclass
class JudgeResult:
    run_id: str  # the judged run
    metric: str  # judge:RUBRIC
    judge_run: str | None
    judged: int  # outputs with a score
    errors: int  # bad_judge_reply and failed requests
    skipped: int  # outputs the rubric could not be filled for (e.g. no reference)


def judge_params(rubric: Rubric, model_spec: str, schema: bool, pairwise: bool = False) -> dict[str, Any]:
    """Temperature 0 (repeatable, and cacheable); structured output where the protocol has it, with the
    provider's fallback for servers that refuse it (the reply reader also finds JSON in plain text)."""
    params: dict[str, Any] = {"temperature": 0}
    if schema and model_spec.startswith("openai:"):
        params["response_format"] = rubric.json_schema(pairwise)
        params["json_fallback"] = True  # a server that refuses response_format is asked again without it
    return params


def last_user_message(messages: Any) -> str:
    try:
        parsed = json.loads(messages) if isinstance(messages, str) else messages
        return next((str(m.get("content", "")) for m in reversed(parsed) if m.get("role") == "user"), "")
    except (ValueError, TypeError, AttributeError):
        return ""


def answer_rows(con, run_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The run and, per successful output, what a rubric can use: the row's fields, question, answer,
    reference(s), prompt (the last user message) and passages, with the output's key under JUDGED_KEY."""
    run = store.get_run(con, run_id)
    dataset = dataset_from_record(store.get_dataset(con, run["dataset_hash"]), lang=run["lang"])
    turns = None
    if run.get("history"):
        dataset, turns = turn_plan(dataset, run["history"], run["n_rows"])
    asked = "question" in dataset.columns or (dataset.rows and "question" in dataset.rows[0])
    outputs = store.answers(con, run_id, messages=not asked)
    passages: dict[tuple[int, int], list[dict[str, Any]]] = {}
    if run.get("knowledge"):
        for p in store.load_passages(con, run_id).itertuples():
            passages.setdefault((p.row_idx, p.repeat_idx), []).append(
                {"id": p.chunk_id, "title": p.title, "text": p.text, "score": p.score})
    rows = []
    for o in outputs.itertuples():
        if o.text is None or isinstance(o.error, str):
            continue
        i = turns.index.get((o.row_idx, o.turn_idx)) if turns else o.row_idx
        if i is None or i >= len(dataset.rows):
            continue
        refs = dataset.references(i)
        fields = dataset.rows[i]
        # `prompt`: what the answer replied to; the row's question when it has one (parsing every output's
        # messages is most of this function's time on a big run)
        question = fields.get("question")
        prompt = question if isinstance(question, str) and question else last_user_message(getattr(o, "messages", "[]"))
        row = {**fields, "answer": o.text, "prompt": prompt, "references": refs,
               JUDGED_KEY: [int(o.row_idx), int(o.turn_idx), int(o.repeat_idx)]}
        row["reference"] = refs[0] if refs else None
        if (o.row_idx, o.repeat_idx) in passages:
            row["passages"] = passages[(o.row_idx, o.repeat_idx)]
        rows.append(row)
    return run, rows


def _usable(rubric: Rubric, rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """The rows that have every variable the rubric requires (not None); the count of the others."""
    required, _ = rubric.prompt().variables()
    ok = [r for r in rows if all(r.get(name) is not None for name in required)]
    return ok, len(rows) - len(ok)


def _judge_plan(db: str | None, run_id: str, metric: JudgeMetric, model_spec: str,
                provider_options: dict[str, Any], use_cache: bool) -> tuple[Plan, list[dict], int, str | None]:
    """The plan of the judge run (a new one, or the stored one to finish), the rows that failed to render
    (as judgement errors), the skipped count and the stored judge run id (None: new, made by the engine)."""
    rubric = load_rubric(metric.config["rubric"])
    prompt = rubric.prompt(judge_params(rubric, model_spec, metric.config.get("schema", True)))
    with store.connect(db) as con:
        run, rows = answer_rows(con, run_id)
        judged_before = not store.judge_runs(con, [run_id]).query("metric == @metric.label").empty
    rows, skipped = _usable(rubric, rows)
    rendered, good, failed = render_each(prompt, rows, run_id, metric.label)
    columns = list(dict.fromkeys(c for row in good for c in row))
    dataset = Dataset(f"{metric.label} of {run_id}", f"run:{run_id}", good, columns, "reference", run["lang"])
    found = None
    if judged_before:  # else no second open of the file
        with store.connect(db) as con:
            found = store.judge_run_for(con, run_id, metric.label, model_spec, dataset.hash, prompt.version)
    if found:
        return plan_from_run(db, found, provider_options=provider_options, use_cache=use_cache), failed, skipped, found
    plan = Plan([Variant(prompt, model_spec, dict(prompt.params), rendered)], dataset, MetricSet(()),
                list(range(len(good))), 1, provider_options, use_cache, judge_of=(run_id, metric.label))
    return plan, failed, skipped, None  # the engine creates the judge run as the first requests go out


def render_each(prompt, rows: list[dict[str, Any]], run_id: str, label: str) -> tuple[list, list, list]:
    """(messages, the rows rendered, judgement errors for the rows that failed): all at once (the fixed
    instructions rendered once), row by row only when a row fails, so that one bad row is that row's error."""
    try:
        return list(prompt.render_rows(rows)), rows, []
    except TemplateError:
        pass
    rendered, good, failed = [], [], []
    for row in rows:
        try:
            rendered.append(prompt.render(row))
            good.append(row)
        except TemplateError as e:
            r, t, k = row[JUDGED_KEY]
            failed.append({"run_id": run_id, "row_idx": r, "turn_idx": t, "repeat_idx": k, "metric": label,
                           "score": None, "reasoning": None, "error_kind": "template", "error": mask(e.shown(), 500)})
    return rendered, good, failed


def read_judge_run(con, run_id: str, metric: str, judge_run: str, scale: str,
                   rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The judgements in a judge run's replies; `rows`, the judge run's dataset rows, name the outputs judged."""
    out = []
    for o in store.answers(con, judge_run).itertuples():
        r, t, k = rows[o.row_idx][JUDGED_KEY]
        rec = {"run_id": run_id, "row_idx": r, "turn_idx": t, "repeat_idx": k, "metric": metric,
               "judge_run": judge_run, "score": None, "reasoning": None, "error_kind": None, "error": None}
        if isinstance(o.error, str):
            rec.update(error_kind=o.error_kind, error=o.error)
        else:
            try:
                rec["score"], rec["reasoning"] = read_reply(o.text or "", scale)
            except JudgeReplyError as e:
                rec.update(error_kind=BAD_JUDGE_REPLY, error=mask(str(e), 500), reasoning=None)
        out.append(rec)
    return out


async def judge(db: str | None, run_id: str, metric: JudgeMetric, model_spec: str, *,
                concurrency: int | None = None, provider_options: dict[str, Any] | None = None,
                use_cache: bool = True, cancel: threading.Event | None = None,
                on_progress: Callable[[list[Progress]], None] | None = None) -> JudgeResult:
    """Judge every successful output of `run_id` with `metric`'s rubric on `model_spec`; store the results."""
    plan, failed, skipped, judge_run = await asyncio.to_thread(
        _judge_plan, db, run_id, metric, metric.model or model_spec, dict(provider_options or {}), use_cache)
    if plan.todo is None or any(plan.todo.values()):
        await execute(plan, db, concurrency=concurrency, on_progress=on_progress, cancel=cancel)
    judge_run = judge_run or plan.variants[0].run_id
    if judge_run is None:  # cancelled before the judge run was made
        return JudgeResult(run_id, metric.label, None, 0, 0, skipped)
    scale = load_rubric(metric.config["rubric"]).scale

    def store_results() -> list[dict[str, Any]]:
        with store.connect(db) as con:
            rows = read_judge_run(con, run_id, metric.label, judge_run, scale, plan.dataset.rows)
            for f in failed:
                f["judge_run"] = judge_run
            store.write_judgements(con, rows + failed)
            if plan.todo is not None and not any(plan.todo.values()):
                store.set_status(con, judge_run, "done")
        return rows + failed

    rows = await asyncio.to_thread(store_results)
    errors = sum(r["error_kind"] is not None for r in rows)
    return JudgeResult(run_id, metric.label, judge_run, len(rows) - errors, errors, skipped)


async def judge_runs(db: str | None, run_ids: list[str], metrics: MetricSet, default_model: str, **options: Any
                     ) -> list[JudgeResult]:
    """Every judge metric of `metrics` on every run, one after the other (each at full concurrency)."""
    results = []
    cancel = options.get("cancel")
    for run_id in run_ids:
        for m in metrics.metrics:
            if isinstance(m, JudgeMetric) and not (cancel is not None and cancel.is_set()):
                results.append(await judge(db, run_id, m, default_model, **options))
    return results

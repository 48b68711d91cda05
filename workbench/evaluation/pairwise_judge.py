"""Pairwise judging: which of two runs answered each row better, asked in both orders.

`workbench judge pairwise RUN_A RUN_B --rubric NAME --judge-model SPEC` asks the judge about every row both
runs answered, once with RUN_A's answer shown first (as "A") and once with RUN_B's first, through the batch
engine (one judge run holds both orders of every pair: concurrency, cache, retries, resume). Both verdicts are
stored (judge_verdicts). A pair counts as a win only when the two orders agree; when they disagree the pair is
inconsistent and counts for no one. The report gives:

- position-bias rate: of the pairs with both verdicts, the share where the judge chose the same position
  both times (A and A, or B and B): the verdict followed the position, not the answers;
- first-position share: of all decisive verdicts, the share that chose the answer shown first (0.5 = no bias);
- inconsistent share: of the pairs with both verdicts, the share whose two verdicts name different winners.

Consistent verdicts feed the Bradley-Terry leaderboard as the "judge" source (workbench.rating.leaderboard).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from workbench import store
from workbench.authoring.datasets import Dataset
from workbench.authoring.rubrics import load_rubric
from workbench.engine.plan import Plan, Progress, Variant, plan_from_run
from workbench.errors import TemplateError, UserError
from workbench.evaluation.judging import answer_rows, judge_params
from workbench.metrics import MetricSet
from workbench.metrics.judge import BAD_JUDGE_REPLY, JudgeReplyError, read_verdict
from workbench.providers.keys import mask

PAIR_KEY = "_pair"  # [row_idx, turn_idx, repeat_idx, shown_first]


@dataclass
class PairwiseReport:
    comparison_id: str
    run_a: str
    run_b: str
    rubric: str
    judge_model: str
    pairs: int  # rows both runs answered
    complete: int  # pairs with both verdicts
    a_wins: int
    b_wins: int
    ties: int
    inconsistent: int
    errors: int  # verdicts that failed (bad_judge_reply, request errors)
    position_bias_rate: float | None
    first_position_share: float | None
    inconsistent_share: float | None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def lines(self) -> list[str]:
        pct = lambda x: "n/a" if x is None else f"{x:.0%}"  # noqa: E731
        return [f"comparison {self.comparison_id}: {self.run_a} (a) vs {self.run_b} (b), rubric {self.rubric}, "
                f"judge {self.judge_model}",
                f"{self.pairs} pairs, {self.complete} with both orders judged, {self.errors} failed verdicts",
                f"a wins {self.a_wins}, b wins {self.b_wins}, ties {self.ties}, inconsistent {self.inconsistent} "
                "(not counted)",
                f"position-bias rate {pct(self.position_bias_rate)} (same position chosen in both orders); "
                f"first-position share {pct(self.first_position_share)}; "
                f"inconsistent share {pct(self.inconsistent_share)}", *self.notes]


def _pair_rows(con, run_a: str, run_b: str) -> list[dict[str, Any]]:
    """Two judge rows per row both runs answered: RUN_A's answer first, then RUN_B's first."""
    meta_a, rows_a = answer_rows(con, run_a)
    meta_b, rows_b = answer_rows(con, run_b)
    if meta_a["dataset_hash"] != meta_b["dataset_hash"]:
        raise UserError("the two runs answered different datasets: pairwise judging compares answers to the same "
                        "rows", "RUN_A, RUN_B")
    by_key = {tuple(r["_judged"]): r for r in rows_b}
    out = []
    for ra in rows_a:
        rb = by_key.get(tuple(ra["_judged"]))
        if rb is None:
            continue
        base = {k: v for k, v in ra.items() if k not in ("answer", "_judged")}
        for first, (x, y) in (("a", (ra, rb)), ("b", (rb, ra))):
            out.append({**base, "answer_a": x["answer"], "answer_b": y["answer"], PAIR_KEY: [*ra["_judged"], first]})
    return out


def _plan(db: str | None, run_a: str, run_b: str, rubric_name: str, model_spec: str,
          provider_options: dict[str, Any], use_cache: bool) -> tuple[Plan, str, str | None, int]:
    rubric = load_rubric(rubric_name)
    prompt = rubric.pairwise_prompt(judge_params(rubric, model_spec, True, pairwise=True))
    with store.connect(db) as con:
        run_a, run_b = store.resolve_run(con, run_a), store.resolve_run(con, run_b)
        if run_a == run_b:
            raise UserError("compare two different runs", "RUN_A, RUN_B")
        rows = _pair_rows(con, run_a, run_b)
        lang = store.get_run(con, run_a)["lang"]
        cid = store.find_comparison(con, run_a, run_b, rubric.name, model_spec) or store.create_comparison(
            con, run_a, run_b, rubric.name, model_spec)
    if not rows:
        raise UserError("the two runs have no successful answers to the same rows", "RUN_A, RUN_B")
    try:
        messages = list(prompt.render_rows(rows))
    except TemplateError:  # which row: rendered one by one to name it
        for row in rows:
            try:
                prompt.render(row)
            except TemplateError as e:
                raise TemplateError(f"{e.message} (row {row[PAIR_KEY][0] + 1})", e.where) from None
        raise
    columns = list(dict.fromkeys(c for row in rows for c in row))
    dataset = Dataset(f"pairwise {rubric.name}: {run_a} vs {run_b}", f"runs:{run_a},{run_b}", rows, columns,
                      "reference", lang)
    label = f"pairwise:{cid}"
    with store.connect(db) as con:
        found = store.judge_run_for(con, run_a, label, model_spec, dataset.hash, prompt.version)
    if found:
        return plan_from_run(db, found, provider_options=provider_options, use_cache=use_cache), cid, found, len(rows)
    plan = Plan([Variant(prompt, model_spec, dict(prompt.params), messages)], dataset, MetricSet(()),
                list(range(len(rows))), 1, provider_options, use_cache, judge_of=(run_a, label))
    return plan, cid, None, len(rows)  # the engine creates the judge run as the first requests go out


def _verdicts(con, cid: str, judge_run: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for o in store.answers(con, judge_run).itertuples():
        r, t, k, first = rows[o.row_idx][PAIR_KEY]
        rec = {"comparison_id": cid, "row_idx": r, "turn_idx": t, "repeat_idx": k, "shown_first": first,
               "winner": None, "position": None, "reasoning": None, "error_kind": None, "error": None}
        if isinstance(o.error, str):
            rec.update(error_kind=o.error_kind, error=o.error)
        else:
            try:
                position, rec["reasoning"] = read_verdict(o.text or "")
            except JudgeReplyError as e:
                rec.update(error_kind=BAD_JUDGE_REPLY, error=mask(str(e), 500))
            else:
                rec["position"] = position
                other = "b" if first == "a" else "a"
                rec["winner"] = "tie" if position == "tie" else (first if position == "A" else other)
        out.append(rec)
    return out


def outcomes(verdicts: pd.DataFrame) -> pd.DataFrame:
    """One row per judged pair: both verdicts side by side and the outcome a | b | tie | inconsistent |
    incomplete (a verdict missing or failed)."""
    key = ["comparison_id", "row_idx", "turn_idx", "repeat_idx"]
    if verdicts.empty:
        return pd.DataFrame(columns=[*key, "run_a", "run_b", "winner_ab", "winner_ba", "position_ab", "position_ba",
                                     "outcome"])
    meta = verdicts[[*key, "run_a", "run_b"]].drop_duplicates(key)
    ab = verdicts[verdicts["shown_first"] == "a"][[*key, "winner", "position"]]
    ba = verdicts[verdicts["shown_first"] == "b"][[*key, "winner", "position"]]
    both = meta.merge(ab, on=key, how="left").merge(ba, on=key, how="left", suffixes=("_ab", "_ba"))

    def outcome(x: Any, y: Any) -> str:
        if not isinstance(x, str) or not isinstance(y, str):
            return "incomplete"
        return x if x == y else "inconsistent"

    both["outcome"] = [outcome(x, y) for x, y in zip(both["winner_ab"], both["winner_ba"])]
    return both


def report(con, comparison_id: str) -> PairwiseReport:
    c = store.get_comparison(con, comparison_id)
    if c is None:
        raise UserError(f"no pairwise comparison {comparison_id!r} (workbench judge list)", "COMPARISON")
    v = store.load_verdicts(con, [comparison_id])
    pairs = outcomes(v)
    complete = pairs[pairs["outcome"] != "incomplete"]
    n = len(complete)
    same_position = ((complete["position_ab"] == complete["position_ba"]) & (complete["position_ab"] != "tie")).sum()
    decisive = v[v["position"].isin(["A", "B"])]
    counts = complete["outcome"].value_counts()
    notes = []
    bias = float(same_position / n) if n else None
    if bias is not None and bias >= 0.2:
        notes.append(f"the judge chose the same position in both orders for {bias:.0%} of the pairs: its verdicts "
                     "follow the position; only pairs where both orders agree count")
    return PairwiseReport(
        comparison_id, c["run_a"], c["run_b"], c["rubric"], c["judge_model"], len(pairs), n,
        int(counts.get("a", 0)), int(counts.get("b", 0)), int(counts.get("tie", 0)), int(counts.get("inconsistent", 0)),
        int(v["error_kind"].notna().sum()), bias,
        float((decisive["position"] == "A").mean()) if len(decisive) else None,
        float(counts.get("inconsistent", 0) / n) if n else None, notes)


async def judge_pairwise(db: str | None, run_a: str, run_b: str, rubric: str, model_spec: str, *,
                         concurrency: int | None = None, provider_options: dict[str, Any] | None = None,
                         use_cache: bool = True, cancel: threading.Event | None = None,
                         on_progress: Callable[[list[Progress]], None] | None = None) -> PairwiseReport:
    """Judge every row both runs answered, in both orders; store both verdicts; return the report."""
    from workbench.engine.runner import execute

    plan, cid, judge_run, _ = await asyncio.to_thread(_plan, db, run_a, run_b, rubric, model_spec,
                                                      dict(provider_options or {}), use_cache)
    if plan.todo is None or any(plan.todo.values()):
        await execute(plan, db, concurrency=concurrency, on_progress=on_progress, cancel=cancel)
    judge_run = judge_run or plan.variants[0].run_id

    def finish() -> PairwiseReport:
        with store.connect(db) as con:
            if judge_run is not None:
                store.set_comparison_run(con, cid, judge_run)
                store.write_verdicts(con, _verdicts(con, cid, judge_run, plan.dataset.rows))
            return report(con, cid)

    return await asyncio.to_thread(finish)

"""Figures of a conversation run (read-only over the store): per turn, and per conversation.

Per turn: each metric's mean over the conversations (repeats averaged first) at that turn index.
Per conversation: the mean of the conversations' own means, the mean of their worst turns (a bot that
is fine on average but loses the thread on turn 4 shows here), and for checks (metrics whose every
score is 0 or 1: exact, contains, regex, ...) how many conversations fail somewhere and the turn where
each first fails.
"""

from __future__ import annotations

from typing import Any

from workbench import store
from workbench.metrics import LOWER_IS_BETTER


def assistant_turns(con, run: dict[str, Any]) -> int:
    """The number of assistant turns a conversation run covers (its `n_rows` counts conversations)."""
    rows = store.get_dataset(con, run["dataset_hash"])["rows"][: run["n_rows"]]
    return sum(m.get("role") == "assistant" for r in rows for m in r.get("messages", []))


def conversation_figures(con, run_id: str) -> dict[str, Any]:
    """{"per_turn": {turn: {metric: {"mean", "n"}}}, "per_conversation": {metric: {...}}}."""
    scores = store.load_scores(con, run_id)
    if scores.empty:
        return {"per_turn": {}, "per_conversation": {}}
    scores = scores.dropna(subset=["value"])
    cell = scores.groupby(["metric", "row_idx", "turn_idx"], as_index=False)["value"].mean()  # repeats averaged
    per_turn: dict[int, dict[str, Any]] = {}
    for (turn, metric), g in cell.groupby(["turn_idx", "metric"]):
        per_turn.setdefault(int(turn), {})[metric] = {"mean": float(g["value"].mean()), "n": len(g)}
    per_conv: dict[str, Any] = {}
    for metric, g in cell.groupby("metric"):
        by_conv = g.sort_values("turn_idx").groupby("row_idx")["value"]
        worst = by_conv.max() if metric in LOWER_IS_BETTER else by_conv.min()
        figures = {"mean": float(by_conv.mean().mean()), "worst_turn_mean": float(worst.mean()),
                   "conversations": int(by_conv.ngroups)}
        if g["value"].isin([0.0, 1.0]).all():  # a check: pass or fail
            failed = g[g["value"] < 1.0].groupby("row_idx")["turn_idx"].min()
            figures["failing_conversations"] = len(failed)
            figures["first_failure_at_turn"] = {int(t): int(n) for t, n in failed.value_counts().sort_index().items()}
        per_conv[metric] = figures
    return {"per_turn": dict(sorted(per_turn.items())), "per_conversation": per_conv}


def threads(con, run_ids: list[str], metric: str | None) -> dict[str, Any]:
    """Conversation runs of one dataset as threads, for showing them side by side.

    Returns {"conversations": [{"row_idx", "fields", "worst_turn", "worst_score", "turns": [{"turn_idx",
    "before": [user/system messages since the previous assistant turn], "reference", "outputs": {run_id:
    {"text", "error", "score"}}, "differs"}]}]}, conversations ordered worst first (lowest score of any
    variant on any turn; highest for lower-is-better metrics)."""
    runs = [store.get_run(con, r) for r in run_ids]
    if len({r["dataset_hash"] for r in runs}) > 1:
        from workbench.errors import UserError

        raise UserError("these runs are on different datasets; compare conversation runs of one dataset", "RUN")
    rows = store.get_dataset(con, runs[0]["dataset_hash"])["rows"][: max(r["n_rows"] for r in runs)]
    outs = store.turn_outputs(con, run_ids, metric)
    got = {(o.run_id, o.row_idx, o.turn_idx): o for o in outs.itertuples(index=False)}
    lower = metric in LOWER_IS_BETTER
    out = []
    for i, row in enumerate(rows):
        turns, before, t = [], [], 0
        for m in row.get("messages", []):
            if m.get("role") != "assistant":
                before.append(m)
                continue
            per_run = {}
            for r in run_ids:
                o = got.get((r, i, t))
                score = None if o is None or o.score is None or o.score != o.score else float(o.score)
                per_run[r] = {"text": None if o is None else o.text, "error": None if o is None else o.error,
                              "score": score}
            texts = {v["text"] for v in per_run.values()}
            turns.append({"turn_idx": t, "before": before, "reference": m["content"], "outputs": per_run,
                          "differs": len(texts) > 1})
            before, t = [], t + 1
        scored = [(v["score"], turn["turn_idx"]) for turn in turns for v in turn["outputs"].values()
                  if v["score"] is not None]
        worst = (max if lower else min)(scored) if scored else (None, None)
        fields = {k: v for k, v in row.items() if k != "messages"}
        out.append({"row_idx": i, "fields": fields, "turns": turns, "worst_score": worst[0], "worst_turn": worst[1]})
    out.sort(key=lambda c: (c["worst_score"] is None, (-1 if lower else 1) * (c["worst_score"] or 0), c["row_idx"]))
    return {"conversations": out}

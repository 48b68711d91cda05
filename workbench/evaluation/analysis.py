"""Summaries and comparisons of stored runs (read-only over the store).

Confidence intervals here are t-intervals of the mean over rows (Student t quantile from scipy), which is what a
95% CI of a per-row average means; rows that errored carry no scores and are counted apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

from workbench import store
from workbench.errors import UserError
from workbench.evaluation.conversations import assistant_turns, conversation_figures
from workbench.evaluation.corpus_summary import corpus_values
from workbench.evaluation.intervals import mean_ci, t_interval  # noqa: F401  (mean_ci: used here by callers)
from workbench.metrics import LOWER_IS_BETTER, UNIT_INTERVAL


@dataclass
class MetricSummary:
    metric: str
    mean: float
    ci_low: float
    ci_high: float
    n: int


@dataclass
class RunSummary:
    run: dict[str, Any]
    n_rows: int
    n_outputs: int
    n_errors: int
    errors_by_kind: dict[str, int]
    latency_p50: float | None
    latency_p95: float | None
    metrics: list[MetricSummary] = field(default_factory=list)
    n_cached: int = 0  # outputs served from the response cache
    stability: dict[str, Any] | None = None  # runs with repeats: see store.repeats.repeat_stability
    cost_usd: float | None = None  # all outputs' cost; None when the model's price is unknown
    cost_note: str = ""  # where the price came from, or why the cost is unknown
    conversations: dict[str, Any] | None = None  # conversation runs: evaluation.conversations.conversation_figures

    def to_dict(self) -> dict[str, Any]:
        r = self.run
        return {
            "run_id": r["id"], "prompt": r["prompt_name"], "prompt_version": r["prompt_hash"], "model": r["model_spec"],
            "status": r["status"], "rows": self.n_rows, "outputs": self.n_outputs, "errors": self.n_errors,
            "errors_by_kind": self.errors_by_kind, "latency_p50_ms": self.latency_p50,
            "latency_p95_ms": self.latency_p95,
            "metrics": {m.metric: {"mean": m.mean, "ci95": [m.ci_low, m.ci_high], "n": m.n} for m in self.metrics},
            "signatures": r.get("signatures", {}),
            "cached": self.n_cached, "repeats": r.get("repeats", 1), "stability": self.stability,
            "cost_usd": self.cost_usd, "cost_note": self.cost_note,
            "history": r.get("history"), "conversations": self.conversations,
        }


def summarize(con, run_id: str) -> RunSummary:
    run = store.get_run(con, run_id)
    o = store.output_summary(con, run_id)
    units = assistant_turns(con, run) if run.get("history") else run["n_rows"]  # outputs expected per repeat
    summary = RunSummary(run, units * run["repeats"], o["outputs"], o["errors"], o["errors_by_kind"],
                         o["latency_p50"], o["latency_p95"], n_cached=o["cached"])
    order = _labels(run["metrics"])
    for metric, n, mean, sd in store.score_moments(con, run_id):
        lo, hi = t_interval(mean, sd, n)
        if metric in UNIT_INTERVAL:  # a t-interval on few rows can leave the scale; the mean cannot
            lo, hi = max(lo, 0.0), min(hi, 1.0)
        summary.metrics.append(MetricSummary(metric, mean, lo, hi, n))
    # corpus_bleu / corpus_chrf: one value per run, with a bootstrap interval
    summary.metrics += [MetricSummary(*values) for values in corpus_values(con, run)]
    summary.metrics.sort(key=lambda m: order.index(m.metric) if m.metric in order else len(order))
    _add_batch_facts(con, summary)
    if run.get("history"):
        summary.conversations = conversation_figures(con, run_id)
    return summary


def _labels(specs: list[dict[str, Any]]) -> list[str]:
    """The score names of a stored metric set, in order (`bleu(tok=intl)`); plain names if a plugin is gone."""
    from workbench.metrics import metric_set

    try:
        return list(metric_set(specs).names)
    except UserError:
        return [s["name"] for s in specs]


def _add_batch_facts(con, summary: RunSummary) -> None:
    """For repeated runs, per-row variance and the share of rows whose output changed; the cost."""
    run_id = summary.run["id"]
    if (summary.run.get("repeats") or 1) > 1:
        summary.stability = store.repeat_stability(con, run_id)
    summary.cost_usd, summary.cost_note = run_cost(con, summary.run)


def run_cost(con, run: dict[str, Any]) -> tuple[float | None, str]:
    """(USD, where the price came from) of a run's outputs, or (None, why it is unknown)."""
    from workbench.providers.pricing import price_for

    price = price_for(run["model_spec"])
    if price is None:
        return None, f"unknown: no price for {run['model_spec']} (add it to a price file)"
    tokens = store.token_stats(con, [run["id"]])
    if tokens.empty:
        return 0.0, price.source
    cost = price.cost(*(None if v != v else float(v) for v in (tokens["tokens_in"][0], tokens["tokens_out"][0])))
    return cost, price.source if cost is not None else "unknown: the server reported no token counts"


@dataclass
class MetricComparison:
    metric: str
    mean_a: float
    mean_b: float
    delta: float
    wins: int  # rows where B beats A
    ties: int
    losses: int
    n: int


def compare_runs(con, run_a: str, run_b: str) -> list[MetricComparison]:
    """Per-metric deltas (B - A) and row-level wins/ties/losses of B against A, on rows both scored."""
    import pandas as pd

    a, b = store.get_run(con, run_a), store.get_run(con, run_b)
    if a["dataset_hash"] != b["dataset_hash"]:
        raise UserError(f"runs {run_a} and {run_b} are on different datasets; compare runs of one dataset", "RUN")
    sa = _per_row(store.load_scores(con, run_a))
    sb = _per_row(store.load_scores(con, run_b))
    out = []
    for metric in [m for m in sa.columns if m in sb.columns]:
        pair = pd.concat([sa[metric].rename("a"), sb[metric].rename("b")], axis=1).dropna()
        if pair.empty:
            continue
        diff = pair["b"] - pair["a"]
        if metric in LOWER_IS_BETTER:
            diff = -diff
        eps = 1e-12
        out.append(MetricComparison(
            metric, float(pair["a"].mean()), float(pair["b"].mean()), float(pair["b"].mean() - pair["a"].mean()),
            int((diff > eps).sum()), int((diff.abs() <= eps).sum()), int((diff < -eps).sum()), len(pair)))
    return out


def _per_row(scores: pd.DataFrame) -> pd.DataFrame:
    """Row x metric table; repeats are averaged."""
    if scores.empty:
        return scores
    return scores.pivot_table(index="row_idx", columns="metric", values="value", aggfunc="mean")

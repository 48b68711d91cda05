"""Gates: pass/fail thresholds on a run's numbers, for CI (`--gate "bleu.mean>=0.2"`).

A gate is `METRIC[.STAT] OP NUMBER` with OP one of >=, <=, >, <, ==. STAT (default mean): mean, ci_low and
ci_high (the 95% t-interval of the mean, for small samples), sum, min, max, p50, p90, p95, p99, n.
METRIC is any stored score (checks included: `"contains:refund>=1"`), an output measurement (latency_ms,
tokens_in, tokens_out, cost_usd) or `pass_rate`: the share of outputs that passed every check of the run
(a row's own `expected` checks included) and did not error; a run without checks passes an output that did
not error. A gate against a baseline run (`--gate-vs RUN "bleu>=-0.01"`) compares rows paired: its value is
the mean of (this run - baseline) per row (STAT ci_low / ci_high: the bootstrap interval of that mean).
"""

from __future__ import annotations

import json
import math
import operator
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from workbench import store
from workbench.errors import UserError
from workbench.metrics import UNIT_INTERVAL

OPS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt, "==": operator.eq}
STATS = ("mean", "ci_low", "ci_high", "sum", "min", "max", "p50", "p90", "p95", "p99", "n")
MEASURED = ("latency_ms", "tokens_in", "tokens_out", "cost_usd")  # read from the outputs when not scored
ROW_CHECKS = "expected"  # the score of a row's own checks (evaluation.row_checks)
_GATE = re.compile(r"^\s*(?P<metric>.+?)(?:\.(?P<stat>" + "|".join(STATS) + r"))?\s*(?P<op>>=|<=|==|>|<)\s*"
                   r"(?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*$")


@dataclass(frozen=True)
class Gate:
    text: str
    metric: str
    stat: str
    op: str
    threshold: float
    baseline: str | None = None  # a run id: the gate is on the paired difference against it

    @property
    def label(self) -> str:
        return f"{self.text} vs {self.baseline}" if self.baseline else self.text


@dataclass
class GateResult:
    run_id: str
    gate: Gate
    value: float | None
    passed: bool
    note: str = ""

    def line(self) -> str:
        shown = "none" if self.value is None else f"{self.value:.4g}"
        extra = f"  ({self.note})" if self.note else ""
        return f"{'PASS' if self.passed else 'FAIL'}  {self.run_id}  {self.gate.label}: {shown}{extra}"


def parse_gate(text: str, baseline: str | None = None, where: str = "--gate") -> Gate:
    m = _GATE.match(str(text))
    if not m or m["metric"].rstrip()[-1] in "=<>!":
        raise UserError(f"cannot read gate {text!r}: write METRIC[.STAT] OP NUMBER, e.g. bleu.mean>=0.2 "
                        f"(STAT: {', '.join(STATS)}; OP: {', '.join(OPS)})", where)
    return Gate(str(text).strip(), m["metric"].strip(), m["stat"] or "mean", m["op"], float(m["number"]), baseline)


def check_names(run: dict[str, Any]) -> list[str]:
    """The score names of a run's checks (its `check` metrics)."""
    from workbench.metrics import metric_set

    return [m.name for m in metric_set(run["metrics"]).metrics if m.spec()["name"] == "check"]


def run_table(con, run_id: str) -> tuple[dict[str, Any], Any]:
    """The run and one record per output: row_idx, repeat_idx, error, measurements (cost_usd where the model's
    price is known), `score_<metric>` columns."""
    from workbench.providers.pricing import price_for

    run, outputs = store.get_run(con, run_id), store.load_outputs(con, run_id)
    price = price_for(run["model_spec"])
    if price is not None and len(outputs):
        tokens = outputs[["tokens_in", "tokens_out"]].astype(float).fillna(0)
        cost = (tokens["tokens_in"] * price.input + tokens["tokens_out"] * price.output) / 1_000_000
        outputs["cost_usd"] = cost.where(outputs["error"].isna() & outputs[["tokens_in", "tokens_out"]].notna().any(axis=1))
    return run, outputs


def pass_flags(run: dict[str, Any], outputs) -> np.ndarray:
    """Per output: 1.0 when it did not error and passed every check (the run's and the row's own)."""
    ok = outputs["error"].isna().to_numpy().copy() if len(outputs) else np.zeros(0, bool)
    for name in [*check_names(run), ROW_CHECKS]:
        col = f"score_{name}"
        if col in outputs.columns:
            values = outputs[col].to_numpy(dtype=float)
            ok &= ~(values < 1)  # NaN (a row without checks of its own) passes
    return ok.astype(float)


def _values(run: dict[str, Any], outputs, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """(row_idx, value) of every output that has the metric."""
    if metric == "pass_rate":
        return outputs["row_idx"].to_numpy(), pass_flags(run, outputs)
    col = f"score_{metric}"
    if col not in outputs.columns and metric in MEASURED and metric in outputs.columns:
        col = metric
    if col not in outputs.columns:
        return np.zeros(0, int), np.zeros(0)
    values = outputs[col].to_numpy(dtype=float)
    keep = ~np.isnan(values)
    return outputs["row_idx"].to_numpy()[keep], values[keep]


def statistic(values: np.ndarray, stat: str, paired: bool = False, unit_interval: bool = False) -> float | None:
    from workbench.evaluation.analysis import mean_ci
    from workbench.evaluation.stats import bootstrap_ci

    if stat == "n":
        return float(len(values))
    if len(values) == 0:
        return None
    if stat in ("ci_low", "ci_high"):
        if paired:
            lo, hi = bootstrap_ci(values) if len(values) > 1 else (values[0], values[0])
        else:
            _, lo, hi = mean_ci(values)
            if unit_interval:  # as the summary shows it: a t-interval on few rows can leave the scale
                lo, hi = max(lo, 0.0), min(hi, 1.0)
        return float(lo if stat == "ci_low" else hi)
    if stat.startswith("p"):
        return float(np.percentile(values, int(stat[1:])))
    return float({"mean": np.mean, "sum": np.sum, "min": np.min, "max": np.max}[stat](values))


def _paired(con, run_id: str, run, outputs, gate: Gate) -> tuple[np.ndarray, str]:
    base_run, base_outputs = run_table(con, store.resolve_run(con, gate.baseline))
    if base_run["dataset_hash"] != run["dataset_hash"]:
        raise UserError(f"runs {run_id} and {base_run['id']} are on different datasets: a paired gate needs one",
                        "gate_vs")
    rows_a, a = _values(base_run, base_outputs, gate.metric)
    rows_b, b = _values(run, outputs, gate.metric)
    mean_a = _row_means(rows_a, a)
    mean_b = _row_means(rows_b, b)
    common = sorted(set(mean_a) & set(mean_b))
    diff = np.array([mean_b[r] - mean_a[r] for r in common], dtype=float)
    return diff, f"paired over {len(common)} rows against {base_run['id']}"


def _row_means(rows: np.ndarray, values: np.ndarray) -> dict[int, float]:
    sums: dict[int, list[float]] = {}
    for r, v in zip(rows.tolist(), values.tolist()):
        sums.setdefault(int(r), []).append(v)
    return {r: sum(v) / len(v) for r, v in sums.items()}


def evaluate_gates(db: str | None, run_ids: list[str], gates: list[Gate]) -> list[GateResult]:
    """Every gate on every run, in order."""
    out = []
    with store.connect(db) as con:
        for run_id in run_ids:
            run, outputs = run_table(con, run_id)
            checks = {*check_names(run), ROW_CHECKS, "pass_rate"}
            for gate in gates:
                if gate.baseline:
                    values, note = _paired(con, run_id, run, outputs, gate)
                else:
                    values, note = _values(run, outputs, gate.metric)[1], ""
                value = statistic(values, gate.stat, paired=bool(gate.baseline),
                                  unit_interval=gate.metric in UNIT_INTERVAL or gate.metric in checks)
                if value is None or math.isnan(value):
                    why = (f"unknown: no price for {run['model_spec']} (add it to a price file)"
                           if gate.metric == "cost_usd" and "cost_usd" not in outputs.columns
                           else f"no values of {gate.metric!r} in this run")
                    out.append(GateResult(run_id, gate, None, False, why))
                    continue
                out.append(GateResult(run_id, gate, value, bool(OPS[gate.op](value, gate.threshold)), note))
    return out


@dataclass
class FailedCheck:
    run_id: str
    row_idx: int
    repeat_idx: int
    checks: list[str]  # the failed checks' names (or the error)
    input: str
    output: str


def failed_checks(db: str | None, run_ids: list[str], row_check_names=None) -> list[FailedCheck]:
    """The outputs that failed a check (or errored, in a run with checks), with their input and output.
    `row_check_names(row_idx, output)`: the row's own checks that output fails, for the failure text."""
    out = []
    with store.connect(db) as con:
        for run_id in run_ids:
            run, outputs = run_table(con, run_id)
            names = check_names(run)
            if not names and f"score_{ROW_CHECKS}" not in outputs.columns:
                continue
            for rec in outputs.to_dict("records"):
                failed = [n for n in names if rec.get(f"score_{n}") == 0]
                if rec.get(f"score_{ROW_CHECKS}") == 0:
                    own = row_check_names(rec["row_idx"], rec.get("text") or "") if row_check_names else []
                    failed += own or [ROW_CHECKS]
                if isinstance(rec.get("error"), str):
                    failed = [f"error: {rec['error']}"]
                if failed:
                    out.append(FailedCheck(run_id, int(rec["row_idx"]), int(rec["repeat_idx"]), failed,
                                           _input_text(rec), rec.get("text") if isinstance(rec.get("text"), str)
                                           else ""))
    return out


def _input_text(rec: dict[str, Any]) -> str:
    """The last user message sent, else the row's data."""
    try:
        messages = json.loads(rec.get("messages") or "[]")
    except (TypeError, ValueError):
        messages = []
    users = [m.get("content") for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    if users and isinstance(users[-1], str):
        return users[-1]
    return str(rec.get("row_data") or "")

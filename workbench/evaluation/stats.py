"""Is B better than A, and how sure are we? Paired statistics of two runs over the same dataset rows.

For every metric both runs scored, on the rows both scored (repeats averaged per row):
- the mean difference B - A with a paired bootstrap confidence interval (scipy.stats.bootstrap over the
  per-row differences: BCa up to 2000 rows, percentile beyond, where the two agree and BCa's jackknife
  gets slow);
- the Wilcoxon signed-rank test (zero differences dropped, scipy's default) and the sign test
  (binomial test on rows B won vs rows A won) for "is there any difference at all".

The verdict follows the interval: B is better when the whole interval lies on the better side of 0.
Quality scores are better higher, latency lower; length and token counts have no better side, so
their verdict says only higher or lower. Every metric is a separate test: with ten metrics one of them
will look "significant" by chance now and then, so read a lone verdict with care.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from workbench import metrics as metric_lib
from workbench import store
from workbench.errors import UserError

BCA_MAX_ROWS = 2000


def direction(metric: str) -> int:
    """+1 when higher is better, -1 when lower is better, 0 when neither (length, tokens)."""
    if metric in metric_lib.HIGHER_IS_BETTER:
        return 1
    if metric in metric_lib.LOWER_IS_BETTER:
        return -1
    return 0


@dataclass
class PairedResult:
    metric: str
    n: int
    mean_a: float
    mean_b: float
    delta: float  # mean of B - A over paired rows
    ci_low: float
    ci_high: float
    level: float
    wins: int  # rows where B is better (or higher, for metrics without a better side)
    ties: int
    losses: int
    wilcoxon_p: float
    sign_p: float
    verdict: str  # better | worse | higher | lower | unclear

    def sentence(self, a: str = "A", b: str = "B") -> str:
        """The finding in words, e.g. 'B is better than A on bleu by +0.042 (95% CI [+0.010, +0.070]), ...'."""
        unit = metric_lib.UNITS.get(self.metric, "")
        unit = f" {unit}" if unit else ""
        ci = f"({self.level:.0%} CI [{_num(self.ci_low, self.metric)}, {_num(self.ci_high, self.metric)}])"
        p = f"Wilcoxon {_p(self.wilcoxon_p)}, sign test {_p(self.sign_p)}, n={self.n}"
        delta = f"{_num(self.delta, self.metric)}{unit} {ci}, {p}"
        if self.verdict == "unclear":
            return f"No clear difference between {b} and {a} on {self.metric}: {delta}"
        word = {"better": "better than", "worse": "worse than", "higher": "higher than", "lower": "lower than"}
        return f"{b} is {word[self.verdict]} {a} on {self.metric} by {delta}"


def _num(x: float, metric: str) -> str:
    """Scores on the 0-1 scale with three decimals; measurements (ms, characters, tokens) by magnitude."""
    if x is None or math.isnan(x):
        return "n/a"
    if metric in metric_lib.HIGHER_IS_BETTER or abs(x) < 1:
        return f"{x:+.3f}"
    return f"{x:+.0f}" if abs(x) >= 100 else f"{x:+.2f}"


def _p(p: float) -> str:
    if p is None or math.isnan(p):
        return "p=n/a"
    return "p<0.001" if p < 0.001 else f"p={p:.3f}"


def bootstrap_ci(diff: np.ndarray, n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Bootstrap confidence interval of the mean of paired differences."""
    from scipy import stats

    diff = np.asarray(diff, dtype=float)
    if len(diff) == 0:
        return math.nan, math.nan
    if len(diff) == 1 or np.ptp(diff) <= 1e-12 * max(1.0, float(np.abs(diff).max())):
        m = float(diff.mean())
        return m, m  # no spread: every resample has the same mean
    for method in ("BCa", "percentile") if len(diff) <= BCA_MAX_ROWS else ("percentile",):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = stats.bootstrap((diff,), np.mean, n_resamples=n_boot, confidence_level=level, method=method,
                                  vectorized=True, batch=500, rng=np.random.default_rng(seed))
        lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
        if not (math.isnan(lo) or math.isnan(hi)):  # BCa is undefined for some degenerate samples
            break
    return lo, hi


def paired_tests(diff: np.ndarray) -> tuple[float, float]:
    """(Wilcoxon signed-rank p, sign-test p), two-sided; 1.0 when every difference is zero."""
    from scipy import stats

    diff = np.asarray(diff, dtype=float)
    nonzero = diff[diff != 0]
    if len(nonzero) == 0:
        return 1.0, 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wilcoxon = float(stats.wilcoxon(diff).pvalue)
    sign = float(stats.binomtest(int((nonzero > 0).sum()), len(nonzero), 0.5).pvalue)
    return wilcoxon, sign


def paired_result(metric: str, a: np.ndarray, b: np.ndarray, n_boot: int = 2000, level: float = 0.95,
                  seed: int = 0) -> PairedResult:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    diff = b - a
    lo, hi = bootstrap_ci(diff, n_boot, level, seed)
    wilcoxon, sign = paired_tests(diff)
    d = direction(metric)
    toward = diff * (d or 1)  # positive: B better (or higher, for metrics without a better side)
    if lo > 0 or hi < 0:
        up = lo > 0
        verdict = ("higher" if up else "lower") if d == 0 else ("better" if up == (d > 0) else "worse")
    else:
        verdict = "unclear"
    return PairedResult(metric, len(diff), float(a.mean()), float(b.mean()), float(diff.mean()), lo, hi, level,
                        int((toward > 0).sum()), int((toward == 0).sum()), int((toward < 0).sum()), wilcoxon, sign,
                        verdict)


def _per_row(scores: pd.DataFrame) -> pd.DataFrame:
    if scores.empty:
        return pd.DataFrame()
    return scores.pivot_table(index="row_idx", columns="metric", values="value", aggfunc="mean")


def compare(con, run_a: str, run_b: str, n_boot: int = 2000, level: float = 0.95, seed: int = 0,
            metrics: list[str] | None = None) -> list[PairedResult]:
    """Paired comparison of run B against run A for every metric both scored (or only `metrics`)."""
    ra, rb = store.get_run(con, run_a), store.get_run(con, run_b)
    if ra["dataset_hash"] != rb["dataset_hash"]:
        raise UserError(f"runs {run_a} and {run_b} are on different datasets: there are no rows to pair", "RUN")
    sa, sb = _per_row(store.load_scores(con, run_a)), _per_row(store.load_scores(con, run_b))
    names = [m for m in sa.columns if m in sb.columns and (metrics is None or m in metrics)]
    out = []
    for metric in names:
        pair = pd.concat([sa[metric].rename("a"), sb[metric].rename("b")], axis=1).dropna()
        if len(pair):
            out.append(paired_result(metric, pair["a"].to_numpy(), pair["b"].to_numpy(), n_boot, level, seed))
    return out

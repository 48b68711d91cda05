"""Which automatic metric can a team trust on its own data? Compare each metric with human judgement.

Single-output sessions: for each metric, the Spearman and Kendall rank correlations between the metric
and the human score of the same outputs (the mean over annotators; thumbs up = 1, down = 0), with a
95% confidence interval from Fisher's z transform using the standard errors for rank correlations
(Spearman: sqrt((1 + r^2/2) / (n - 3)), Bonett & Wright 2000; Kendall: sqrt(0.437 / (n - 4)),
Fieller, Hartley & Pearson 1957).

Judges (metrics judge:RUBRIC): besides their rank correlation, Cohen's kappa against the humans' median rating
(quadratic weights for Likert) and Krippendorff's alpha with the judge as one more annotator, next to the
humans' alpha on the same outputs: a judge that can stand in for an annotator keeps alpha where it was.

Pairwise sessions: for each metric, how often the output the metric scores better is the one the
annotator voted for. Votes for a tie or "both bad", and pairs the metric scores equally, are left out
(and counted); the interval is Wilson's (scipy). For length and token counts, which have no better
side, "agrees" means the voters preferred the longer answer.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from workbench import store
from workbench.evaluation.stats import direction
from workbench.rating import annotation

# turn_idx WHOLE: an item rated as a whole (an output, or a whole conversation scored by its turns' mean)
KEY = ["run_id", "row_idx", "turn_idx", "repeat_idx"]
WHOLE = -1


@dataclass
class Correlation:
    metric: str
    scale: str
    n: int
    spearman: float
    spearman_ci: tuple[float, float]
    spearman_p: float
    kendall: float
    kendall_ci: tuple[float, float]
    kendall_p: float
    direction: int  # +1 higher is better, -1 lower is better, 0 neither

    @property
    def aligned(self) -> float:
        """Spearman with the sign turned so that larger means 'the metric agrees with the humans'."""
        return self.spearman * (self.direction or 1)


@dataclass
class VoteAgreement:
    metric: str
    n: int  # decisive votes on which the metric also picks a side
    agree: int
    metric_ties: int  # decisive votes where the metric scores both answers the same
    rate: float
    ci: tuple[float, float]
    prefers: str  # which side the metric counts as better: higher | lower


@dataclass
class JudgeAgreement:
    """A judge (metric judge:RUBRIC) against the human ratings of the same outputs."""

    judge: str
    scale: str  # the humans' scale: likert | thumbs
    n: int  # outputs both the judge and at least one human scored
    kappa: float  # Cohen's kappa, judge vs the humans' median (quadratic weights for Likert)
    weights: str | None
    alpha_with_judge: float  # Krippendorff's alpha with the judge as one more annotator
    alpha_humans: float  # the same items, the humans alone: the bar the judge is measured against
    spearman: float
    note: str = ""


@dataclass
class TrustReport:
    sessions: list[str]
    n_outputs: int  # human-scored outputs (single sessions)
    n_votes: int  # decisive pairwise votes
    correlations: list[Correlation] = field(default_factory=list)
    votes: list[VoteAgreement] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    judges: list[JudgeAgreement] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"sessions": self.sessions, "outputs": self.n_outputs, "votes": self.n_votes, "notes": self.notes,
                "correlations": [{**vars(c), "aligned": c.aligned} for c in self.correlations],
                "vote_agreement": [vars(v) for v in self.votes], "judges": [vars(j) for j in self.judges]}


def fisher_ci(r: float, n: int, kind: str, level: float = 0.95) -> tuple[float, float]:
    """Confidence interval of a Spearman or Kendall correlation by Fisher's z."""
    from scipy import stats

    if math.isnan(r) or n <= (3 if kind == "spearman" else 4):
        return math.nan, math.nan
    se = math.sqrt((1 + r * r / 2) / (n - 3)) if kind == "spearman" else math.sqrt(0.437 / (n - 4))
    z = math.atanh(max(min(r, 1 - 1e-12), -1 + 1e-12))
    h = float(stats.norm.ppf((1 + level) / 2)) * se
    return math.tanh(z - h), math.tanh(z + h)


def correlation(metric: str, scale: str, metric_values: np.ndarray, human: np.ndarray) -> Correlation:
    from scipy import stats

    n = len(human)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a constant column has no rank correlation: NaN
        rho, rho_p = stats.spearmanr(metric_values, human) if n >= 2 else (math.nan, math.nan)
        tau, tau_p = stats.kendalltau(metric_values, human) if n >= 2 else (math.nan, math.nan)
    rho, tau = float(rho), float(tau)
    return Correlation(metric, scale, n, rho, fisher_ci(rho, n, "spearman"), float(rho_p), tau,
                       fisher_ci(tau, n, "kendall"), float(tau_p), direction(metric))


def _scores(con, run_ids: list[str], session_ids: list[str]) -> pd.DataFrame:
    """Outputs x metrics table of the automatic scores of the outputs rated in the sessions: a row per turn (what
    a turn item is compared with) and a row per whole output, turn_idx WHOLE (a conversation's mean over its
    turns; a single row's own score)."""
    s = store.output_scores(con, run_ids, rated_in=session_ids)
    if s.empty:
        return pd.DataFrame(columns=KEY)
    wide = s.pivot_table(index=KEY, columns="metric", values="value", aggfunc="first")
    wide.columns = [str(c) for c in wide.columns]
    turns = wide.reset_index()
    whole = turns.drop(columns="turn_idx").groupby(["run_id", "row_idx", "repeat_idx"]).mean().reset_index()
    return pd.concat([turns, whole.assign(turn_idx=WHOLE)], ignore_index=True)


def report(con, session_ids: list[str]) -> TrustReport:
    ratings = annotation.session_ratings(con, session_ids)
    ratings["turn_idx"] = ratings["turn_idx"].fillna(WHOLE).astype(int)
    out = TrustReport(list(session_ids), 0, 0)
    single = ratings[ratings["scale"] != "pairwise"]
    pairwise = ratings[ratings["scale"] == "pairwise"]
    runs = sorted(set(ratings["run_a"]) | set(ratings["run_b"].dropna()))
    scores = _scores(con, runs, list(session_ids))
    metrics = [c for c in scores.columns if c not in KEY]
    if not metrics:
        out.notes.append("the rated runs have no automatic scores")
    for scale, group in single.groupby("scale"):
        human = (group.rename(columns={"run_a": "run_id"}).groupby(KEY)["score"].mean().rename("human")
                 .reset_index())
        joined = human.merge(scores, on=KEY, how="inner")
        out.n_outputs += len(joined)
        for metric in metrics:
            pair = joined[["human", metric]].dropna()
            out.correlations.append(correlation(metric, str(scale), pair[metric].to_numpy(), pair["human"].to_numpy()))
            if metric.startswith("judge:"):
                out.judges.append(judge_agreement(metric, str(scale), group, scores))
    if single["scale"].nunique() > 1:
        out.notes.append("sessions use both Likert and thumbs: correlations are given per scale")
    decisive = pairwise[pairwise["value"].isin(["A", "B"])]
    out.n_votes = len(decisive)
    if len(decisive):
        a = decisive.merge(scores, left_on=["run_a", "row_idx", "turn_idx", "repeat_idx"], right_on=KEY, how="left")
        b = decisive.merge(scores, left_on=["run_b", "row_idx", "turn_idx", "repeat_idx"], right_on=KEY, how="left")
        human_b = (decisive["value"] == "B").to_numpy()
        for metric in metrics:
            out.votes.append(_vote_agreement(metric, a[metric].to_numpy(float), b[metric].to_numpy(float), human_b))
    out.correlations.sort(key=lambda c: (c.scale, -np.nan_to_num(c.aligned, nan=-2.0)))
    out.votes.sort(key=lambda v: -np.nan_to_num(v.rate, nan=-1.0))
    if out.correlations and out.n_outputs < 30:
        out.notes.append(f"only {out.n_outputs} rated outputs: the intervals are wide; rate more before trusting one")
    return out


def _judge_codes(metric: str, human_scale: str, values: pd.Series) -> tuple[pd.Series | None, str]:
    """The judge's scores on the humans' scale: Likert 1-5 as is, thumbs as 1/0 (a 1-5 judge's 4 and 5 count as
    up); None when the two cannot be put on one scale (a pass/fail judge against Likert ratings)."""
    from workbench.authoring.rubrics import load_rubric
    from workbench.errors import UserError

    try:
        judge_scale = load_rubric(metric.partition(":")[2]).scale
    except UserError:  # the rubric file is gone: read the scale from the scores
        judge_scale = "pass/fail" if set(values.dropna()) <= {0.0, 1.0} else "1-5"
    if human_scale == "likert":
        return (values, "") if judge_scale == "1-5" else (None, "a pass/fail judge has no Likert value: Spearman only")
    return ((values >= 4).astype(float), "judge 4-5 counted as thumbs up") if judge_scale == "1-5" else (values, "")


def judge_agreement(metric: str, scale: str, ratings: pd.DataFrame, scores: pd.DataFrame) -> JudgeAgreement:
    """Cohen's kappa of the judge against the humans' median rating, Krippendorff's alpha with the judge as one
    more annotator next to the humans' own, and Spearman, on the outputs both scored."""
    from workbench.rating.agreement import cohen_kappa, krippendorff_alpha

    judge = scores[[*KEY, metric]].dropna()
    codes, note = _judge_codes(metric, scale, judge[metric])
    rated = ratings.rename(columns={"run_a": "run_id"})[[*KEY, "annotator", "score"]]
    rated = rated.merge(judge[KEY], on=KEY, how="inner")
    human = rated.groupby(KEY)["score"].median().rename("human").reset_index()
    joined = human.merge(judge, on=KEY)
    n = len(joined)
    rho = correlation(metric, scale, joined[metric].to_numpy(), joined["human"].to_numpy()).spearman if n else math.nan
    if codes is None or n == 0:
        return JudgeAgreement(metric, scale, n, math.nan, None, math.nan, math.nan, rho, note or "no shared outputs")
    judge = judge.assign(code=codes.to_numpy())
    joined = joined.merge(judge[[*KEY, "code"]], on=KEY)
    likert = scale == "likert"
    consensus = np.floor(joined["human"].to_numpy() + 0.5)  # the median of two raters can be x.5: rounded up
    labels = [1.0, 2.0, 3.0, 4.0, 5.0] if likert else [0.0, 1.0]
    kappa = cohen_kappa(consensus.tolist(), joined["code"].tolist(), labels, "quadratic" if likert else None)
    items = rated.assign(item=rated[KEY].astype(str).agg(":".join, axis=1))
    table = items.pivot_table(index="annotator", columns="item", values="score", aggfunc="first")
    judged = judge.assign(item=judge[KEY].astype(str).agg(":".join, axis=1)).set_index("item")["code"]
    with_judge = pd.concat([table, judged.reindex(table.columns).rename("judge").to_frame().T])
    level = "ordinal" if likert else "nominal"
    domain = labels if likert else None
    return JudgeAgreement(metric, scale, n, kappa, "quadratic" if likert else None,
                          krippendorff_alpha(with_judge.to_numpy(float), level, domain),
                          krippendorff_alpha(table.to_numpy(float), level, domain), rho, note)


def _vote_agreement(metric: str, a: np.ndarray, b: np.ndarray, human_b: np.ndarray) -> VoteAgreement:
    from scipy import stats

    d = direction(metric) or 1
    ok = ~(np.isnan(a) | np.isnan(b))
    toward_b = (b - a)[ok] * d
    picks = toward_b != 0
    metric_b = toward_b[picks] > 0
    agree = int((metric_b == human_b[ok][picks]).sum())
    n = int(picks.sum())
    if n:
        ci = stats.binomtest(agree, n).proportion_ci(confidence_level=0.95, method="wilson")
        bounds = (float(ci.low), float(ci.high))
    else:
        bounds = (math.nan, math.nan)
    return VoteAgreement(metric, n, agree, int((~picks).sum()), agree / n if n else math.nan, bounds,
                         "lower" if d < 0 else "higher")

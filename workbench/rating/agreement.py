"""How far annotators agree, and which items they disagree on.

Cohen's kappa (scikit-learn) for every pair of annotators on the items both rated; for Likert also the
quadratic-weighted kappa, which counts a 4-vs-5 split as a near miss. Krippendorff's alpha (the
`krippendorff` package) over all annotators at once, missing ratings allowed: ordinal for Likert, nominal
for thumbs and pairwise votes (A / B / tie / both bad are categories, not a scale). Both statistics are
undefined when every rating is the same value (no variation to agree on): they are reported as NaN.
"""

from __future__ import annotations

import itertools
import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from workbench import store
from workbench.rating import annotation

LEVELS = {"likert": "ordinal", "thumbs": "nominal", "pairwise": "nominal"}


def cohen_kappa(a: list, b: list, labels: list | None = None, weights: str | None = None) -> float:
    """Cohen's kappa of two raters' labels on the same items (NaN when chance agreement is total)."""
    from sklearn.metrics import cohen_kappa_score

    if len(a) != len(b) or not a:
        raise ValueError("two equally long, non-empty lists of labels are needed")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # 0/0 when both raters use one label only
        value = float(cohen_kappa_score(a, b, labels=labels, weights=weights))
    return value


def krippendorff_alpha(reliability: np.ndarray, level: str, value_domain: list | None = None) -> float:
    """Krippendorff's alpha of an annotators x items matrix of numeric codes, NaN where an item is unrated."""
    import krippendorff

    data = np.asarray(reliability, dtype=float)
    values = np.unique(data[~np.isnan(data)])
    pairable = (np.sum(~np.isnan(data), axis=0) >= 2).any()
    if len(values) < 2 or not pairable:
        return math.nan
    domain = value_domain if value_domain is not None else values
    return float(krippendorff.alpha(reliability_data=data, level_of_measurement=level, value_domain=domain))


@dataclass
class PairAgreement:
    annotator_a: str
    annotator_b: str
    n: int  # items both rated
    kappa: float
    weighted_kappa: float | None  # quadratic weights, Likert only
    percent: float  # share of those items with the same rating


@dataclass
class Agreement:
    session_id: str
    scale: str
    level: str
    n_items: int  # items rated by two or more annotators (the ones agreement is measured on)
    n_annotators: int
    n_ratings: int
    alpha: float
    pairs: list[PairAgreement] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"session": self.session_id, "scale": self.scale, "level": self.level, "items": self.n_items,
                "annotators": self.n_annotators, "ratings": self.n_ratings, "krippendorff_alpha": self.alpha,
                "pairs": [vars(p) for p in self.pairs]}


def _codes(scale: str, values: pd.Series) -> pd.Series:
    if scale == "likert":
        return values.astype(float)
    order = annotation.SCALES[scale]
    return values.map({v: float(i) for i, v in enumerate(order)})


def session_agreement(con, session_id: str) -> Agreement:
    session = store.get_session(con, session_id)
    scale = session["scale"]
    df = annotation.session_ratings(con, session_id)
    table = df.pivot(index="annotator", columns="item_idx", values="value") if not df.empty else pd.DataFrame()
    codes = table.apply(lambda col: _codes(scale, col)) if not table.empty else table
    shared = int((codes.notna().sum(axis=0) >= 2).sum()) if not codes.empty else 0
    domain = [1.0, 2.0, 3.0, 4.0, 5.0] if scale == "likert" else None
    alpha = krippendorff_alpha(codes.to_numpy(), LEVELS[scale], domain) if shared else math.nan
    labels = list(annotation.SCALES[scale])
    pairs = []
    for a, b in itertools.combinations(table.index, 2):
        both = table.loc[[a, b]].dropna(axis=1)
        if both.shape[1] == 0:
            continue
        ra, rb = both.loc[a].tolist(), both.loc[b].tolist()
        weighted = cohen_kappa(ra, rb, labels, "quadratic") if scale == "likert" else None
        pairs.append(PairAgreement(str(a), str(b), len(ra), cohen_kappa(ra, rb, labels), weighted,
                                   float(np.mean([x == y for x, y in zip(ra, rb)]))))
    return Agreement(session_id, scale, LEVELS[scale], shared, int(df["annotator"].nunique()) if len(df) else 0,
                     len(df), alpha, pairs)


def disagreements(con, session_id: str, min_spread: int = 2) -> pd.DataFrame:
    """Items whose annotators disagree, most disputed first, for adjudication.

    Categories (thumbs, pairwise): any two different ratings. Likert: ratings `min_spread` or more points
    apart (default 2, so a 4 next to a 5 is not a dispute). One row per item: the ratings by annotator,
    the spread, and the annotators' comments.
    """
    session = store.get_session(con, session_id)
    scale = session["scale"]
    df = annotation.session_ratings(con, session_id)
    rows = []
    for item, g in df.groupby("item_idx"):
        if len(g) < 2:
            continue
        if scale == "likert":
            spread = float(g["score"].max() - g["score"].min())
            disputed = spread >= min_spread
        else:
            spread = float(g["value"].nunique() - 1)
            disputed = spread > 0
        if disputed:
            comments = [f"{a}: {c}" for a, c in zip(g["annotator"], g["comment"]) if isinstance(c, str) and c]
            rows.append({"item_idx": int(item), "row_idx": int(g["row_idx"].iloc[0]),
                         "ratings": dict(zip(g["annotator"], g["value"])), "spread": spread,
                         "comments": comments})
    out = pd.DataFrame(rows, columns=["item_idx", "row_idx", "ratings", "spread", "comments"])
    return out.sort_values(["spread", "item_idx"], ascending=[False, True]).reset_index(drop=True)

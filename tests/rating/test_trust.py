"""Metric trust report: rank correlations with human scores, and agreement with pairwise votes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.annotation_runs import make_runs
from workbench import store
from workbench.rating import annotation as an
from workbench.rating import trust


def test_fisher_interval_hand_computed():
    # r = 0.5, n = 28. Spearman: se = sqrt((1 + 0.25/2) / 25) = 0.212132; z = atanh(0.5) = 0.549306;
    # z +- 1.959964 * se = 0.549306 +- 0.415771 = [0.133535, 0.965077]; tanh -> [0.132747, 0.746533].
    lo, hi = trust.fisher_ci(0.5, 28, "spearman")
    assert (lo, hi) == pytest.approx((0.132747, 0.746533), abs=1e-5)
    # Kendall: se = sqrt(0.437 / 24) = 0.134938; z +- 0.264474 = [0.284832, 0.813780] -> [0.277371, 0.671670]
    assert trust.fisher_ci(0.5, 28, "kendall") == pytest.approx((0.277371, 0.671670), abs=1e-5)
    assert math.isnan(trust.fisher_ci(0.5, 3, "spearman")[0])


GENERIC = ("Thank you so much for reaching out to us today! We really appreciate your message and we are always "
           "happy to help. Please have a look at the help centre on our website, where you will find many useful "
           "articles, or get in touch again and one of our friendly team members will get back to you soon.")


def answer(v: int, row: dict) -> str:
    """Variant 0 answers with the reference, 1 with its first half, 2 with a long generic reply (so that
    length does not track quality)."""
    ref = row["reference"]
    return [ref, ref[: len(ref) // 2], GENERIC][v]


VARIANTS = [("support_few_shot", "openai:good"), ("support_zero_shot", "openai:half"),
            ("support_persona", "openai:generic")]


def test_single_session_correlations_point_at_the_metric_that_tracks_humans(db):
    runs = make_runs(db, VARIANTS, n_rows=15, answer=answer)
    quality = dict(zip(runs, [5, 3, 1]))
    rng = np.random.default_rng(0)
    with store.connect(db) as con:
        sid = an.create_session(con, an.SessionSpec(runs, k=2, seed=4, annotators=["ann", "bob"]))
        items = store.item_outputs(con, sid)
        for name in ("ann", "bob"):
            noisy = [int(np.clip(quality[r] + rng.integers(-1, 2), 1, 5)) for r in items["run_a"]]
            store.upsert_ratings(con, [{"session_id": sid, "item_idx": int(i), "annotator": name, "kind": "likert",
                                        "value": str(v), "comment": None, "tags": None}
                                       for i, v in zip(items["item_idx"], noisy)])
        rep = trust.report(con, [sid])
    assert rep.n_outputs == 45 and rep.n_votes == 0
    by = {c.metric: c for c in rep.correlations}
    assert set(by) == {"exact", "contains", "bleu", "chrf", "rougeL", "length"}
    for name in ("bleu", "chrf", "rougeL"):
        c = by[name]
        assert c.spearman > 0.7 and c.kendall > 0.5 and c.spearman_p < 0.001 and c.n == 45
        assert c.spearman_ci[0] < c.spearman < c.spearman_ci[1] <= 1
    assert rep.correlations[0].metric in ("bleu", "chrf", "rougeL", "exact", "contains")
    assert by["length"].spearman < 0.3  # the longest answers are the worst ones here
    assert rep.correlations == sorted(rep.correlations, key=lambda c: -c.aligned)


def test_pairwise_votes_agreement_per_metric(db):
    runs = make_runs(db, [VARIANTS[0], VARIANTS[2]], n_rows=20, answer=answer)
    with store.connect(db) as con:
        sid = an.create_session(con, an.SessionSpec(runs, pairwise=True, seed=9, annotators=["ann"]))
        items = store.item_outputs(con, sid)
        # The voter prefers the reference answer, except on the first three items where they call a tie.
        votes = ["tie" if i < 3 else ("A" if a == runs[0] else "B") for i, a in zip(items["item_idx"], items["run_a"])]
        store.upsert_ratings(con, [{"session_id": sid, "item_idx": int(i), "annotator": "ann", "kind": "pairwise",
                                    "value": v, "comment": None, "tags": None} for i, v in zip(items["item_idx"], votes)])
        rep = trust.report(con, [sid])
    assert rep.n_votes == 17 and rep.correlations == []
    by = {v.metric: v for v in rep.votes}
    assert by["bleu"].rate == 1.0 and by["bleu"].n == 17 and by["bleu"].ci[0] > 0.8
    assert by["exact"].rate == 1.0
    assert by["length"].prefers == "higher" and by["length"].n + by["length"].metric_ties == 17

"""Judges in the trust report: on a session with known human ratings, a judge that rates like the humans
agrees (kappa, alpha kept, Spearman) and a judge that rates backwards does not."""

from __future__ import annotations

import numpy as np
import pytest

from tests.annotation_runs import make_runs
from workbench import store
from workbench.rating import annotation as an
from workbench.rating import trust

VARIANTS = [("support_few_shot", "openai:good"), ("support_zero_shot", "openai:half"),
            ("support_persona", "openai:generic")]


def judged(rows, metric, values):
    return [{"run_id": r, "row_idx": int(i), "turn_idx": 0, "repeat_idx": int(k), "metric": metric,
             "judge_run": "j", "score": float(v), "reasoning": "r", "error_kind": None, "error": None}
            for (r, i, k), v in zip(rows, values)]


@pytest.fixture
def rated(db):
    """Three runs of known quality (5, 3, 1) rated by two annotators who agree up to one point."""
    runs = make_runs(db, VARIANTS, n_rows=12)
    quality = dict(zip(runs, [5, 3, 1]))
    rng = np.random.default_rng(1)
    with store.connect(db) as con:
        sid = an.create_session(con, an.SessionSpec(runs, k=2, seed=3, annotators=["ann", "bob"]))
        items = store.item_outputs(con, sid)
        truth = [quality[r] for r in items["run_a"]]
        for name in ("ann", "bob"):
            noisy = [int(np.clip(q + rng.integers(-1, 2), 1, 5)) for q in truth]
            store.upsert_ratings(con, [{"session_id": sid, "item_idx": int(i), "annotator": name, "kind": "likert",
                                        "value": str(v), "comment": None, "tags": None}
                                       for i, v in zip(items["item_idx"], noisy)])
        keys = list(zip(items["run_a"], items["row_idx"], items["repeat_idx"]))
        store.write_judgements(con, judged(keys, "judge:correctness", truth))  # rates like the humans mean to
        store.write_judgements(con, judged(keys, "judge:helpfulness", [6 - q for q in truth]))  # backwards
        store.write_judgements(con, judged(keys, "judge:faithfulness", [q >= 3 for q in truth]))  # pass/fail
        return trust.report(con, [sid])


def test_a_judge_that_rates_like_the_humans_agrees_and_a_backwards_one_does_not(rated):
    by = {j.judge: j for j in rated.judges}
    good, noise = by["judge:correctness"], by["judge:helpfulness"]
    assert good.n == noise.n == 36 and good.scale == "likert" and good.weights == "quadratic"
    assert good.kappa > 0.8 and good.spearman > 0.8
    assert good.alpha_with_judge >= good.alpha_humans - 0.02 and good.alpha_humans > 0.6
    assert noise.kappa < -0.5 and noise.spearman < -0.8 and noise.alpha_with_judge < noise.alpha_humans - 0.3
    # its correlation stands with the automatic metrics'
    assert {"judge:correctness", "judge:helpfulness", "bleu"} <= {c.metric for c in rated.correlations}


def test_a_pass_fail_judge_against_likert_ratings_gets_spearman_only(rated):
    j = next(j for j in rated.judges if j.judge == "judge:faithfulness")
    assert j.spearman > 0.7 and np.isnan(j.kappa) and "Spearman only" in j.note
    assert rated.to_dict()["judges"][0]["judge"].startswith("judge:")

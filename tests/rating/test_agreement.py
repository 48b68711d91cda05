"""Cohen's kappa and Krippendorff's alpha against textbook numbers, then through a stored session."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.annotation_runs import make_runs
from workbench import store
from workbench.rating import agreement
from workbench.rating import annotation as an

# Six items, two raters, two categories (used twice below):
#   rater 1: 1 1 2 2 1 2
#   rater 2: 1 1 2 1 1 2
RATER_1 = [1, 1, 2, 2, 1, 2]
RATER_2 = [1, 1, 2, 1, 1, 2]


def test_cohen_kappa_textbook_example():
    # Wikipedia "Cohen's kappa", worked example: 50 proposals; both yes 20, both no 15, A yes/B no 5,
    # A no/B yes 10. p_o = 35/50 = 0.7; p_yes = 0.5 * 0.6 = 0.30, p_no = 0.5 * 0.4 = 0.20, p_e = 0.5;
    # kappa = (0.7 - 0.5) / (1 - 0.5) = 0.4
    a = ["yes"] * 25 + ["no"] * 25
    b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    assert agreement.cohen_kappa(a, b) == pytest.approx(0.4)


def test_cohen_kappa_small_hand_computed():
    # p_o = 5/6. Marginals: rater 1 has 3 x "1" and 3 x "2", rater 2 has 4 x "1" and 2 x "2",
    # p_e = (3*4 + 3*2) / 36 = 1/2, kappa = (5/6 - 1/2) / (1 - 1/2) = 2/3
    assert agreement.cohen_kappa(RATER_1, RATER_2) == pytest.approx(2 / 3)


def test_krippendorff_alpha_small_hand_computed():
    # Coincidence matrix (each unit with two values adds 1 to o[c][k] and o[k][c]):
    #   o11 = 6, o22 = 4, o12 = o21 = 1; n1 = 7, n2 = 5, n = 12
    #   D_o = (o12 + o21) / n = 2/12;  D_e = 2 * n1 * n2 / (n (n - 1)) = 70/132
    #   alpha = 1 - D_o / D_e = 1 - 264/840 = 24/35 = 0.685714...
    alpha = agreement.krippendorff_alpha(np.array([RATER_1, RATER_2]), "nominal")
    assert alpha == pytest.approx(24 / 35)


def test_krippendorff_alpha_published_example():
    # Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: four observers,
    # twelve units, values 1..5, missing data. Published: nominal 0.743, ordinal 0.815.
    n = np.nan
    data = np.array([
        [1, 2, 3, 3, 2, 1, 4, 1, 2, n, n, n],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, n, 3],
        [n, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, n],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, n],
    ])
    assert agreement.krippendorff_alpha(data, "nominal") == pytest.approx(0.743, abs=5e-4)
    assert agreement.krippendorff_alpha(data, "ordinal") == pytest.approx(0.815, abs=5e-4)


def test_undefined_when_there_is_nothing_to_agree_on():
    assert math.isnan(agreement.krippendorff_alpha(np.array([[3, 3, 3], [3, 3, 3]]), "ordinal"))
    assert math.isnan(agreement.krippendorff_alpha(np.array([[1, np.nan], [np.nan, 2]]), "nominal"))


def _rate_all(con, sid, annotator, values):
    """Rate this annotator's items in stored order with `values`."""
    for v in values:
        item = an.next_item(con, sid, annotator)
        an.record_rating(con, sid, item.item_idx, annotator, v, comment=f"{annotator} says {v}")


def test_session_agreement_thumbs_matches_the_hand_computed_numbers(db):
    runs = make_runs(db, [("support_zero_shot", "openai:m")], n_rows=6)
    up_down = {1: "up", 2: "down"}
    with store.connect(db) as con:
        sid = an.create_session(con, an.SessionSpec(runs, k=2, seed=2, scale="thumbs", annotators=["ann", "bob"]))
        _rate_all(con, sid, "ann", [up_down[v] for v in RATER_1])
        _rate_all(con, sid, "bob", [up_down[v] for v in RATER_2])
        result = agreement.session_agreement(con, sid)
        disputed = agreement.disagreements(con, sid)
    assert (result.level, result.n_items, result.n_annotators, result.n_ratings) == ("nominal", 6, 2, 12)
    assert result.alpha == pytest.approx(24 / 35)
    [pair] = result.pairs
    assert pair.kappa == pytest.approx(2 / 3) and pair.percent == pytest.approx(5 / 6) and pair.weighted_kappa is None
    assert disputed["item_idx"].tolist() == [3]  # the fourth item in stored order: 2 vs 1
    assert disputed["ratings"][0] == {"ann": "down", "bob": "up"}
    assert disputed["comments"][0] == ["ann: ann says down", "bob: bob says up"]


def test_session_agreement_likert_is_ordinal_and_flags_wide_splits(db):
    runs = make_runs(db, [("support_zero_shot", "openai:m")], n_rows=5)
    ann, bob, cy = [1, 2, 3, 4, 5], [1, 2, 3, 5, 5], [2, 2, 3, 4, 2]
    with store.connect(db) as con:
        sid = an.create_session(con, an.SessionSpec(runs, k=3, seed=2, annotators=["ann", "bob", "cy"]))
        for name, values in (("ann", ann), ("bob", bob), ("cy", cy)):
            _rate_all(con, sid, name, values)
        result = agreement.session_agreement(con, sid)
        disputed = agreement.disagreements(con, sid)
    expected = agreement.krippendorff_alpha(np.array([ann, bob, cy]), "ordinal", [1, 2, 3, 4, 5])
    assert result.level == "ordinal" and result.alpha == pytest.approx(expected)
    assert len(result.pairs) == 3
    ab = next(p for p in result.pairs if {p.annotator_a, p.annotator_b} == {"ann", "bob"})
    assert ab.weighted_kappa > ab.kappa  # a 4-vs-5 split is a near miss under quadratic weights
    assert disputed["item_idx"].tolist() == [4]  # 5, 5 and 2: spread 3; the 4-vs-5 item is not a dispute

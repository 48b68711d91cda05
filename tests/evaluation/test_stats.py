"""Paired bootstrap intervals and paired tests: coverage in simulation, verdicts, and stored runs."""

from __future__ import annotations

import numpy as np
import pytest

from tests.annotation_runs import make_runs
from workbench import store
from workbench.evaluation import stats


def test_bootstrap_interval_covers_the_true_difference_at_about_the_nominal_rate():
    # 400 simulated comparisons of 30 paired rows with skewed differences (exponential, mean 0.2).
    # At 95% the count of misses is Binomial(400, 0.05): mean 20, sd 4.4. Small samples from a skewed
    # distribution run slightly under nominal, so accept 0.91..0.985 (about -9 / +3 sd).
    rng = np.random.default_rng(2024)
    true = 0.2
    covered = 0
    for sim in range(400):
        diff = rng.exponential(1.0, 30) - 1.0 + true
        lo, hi = stats.bootstrap_ci(diff, n_boot=999, seed=sim)
        covered += lo <= true <= hi
    assert 0.91 <= covered / 400 <= 0.985


def test_paired_tests_hand_computed():
    # Six rows, B better on every one: sign test p = 2 * (1/2)^6 = 0.03125; the exact Wilcoxon
    # signed-rank test puts only the all-positive and all-negative signings at the extreme: 2/64.
    wilcoxon, sign = stats.paired_tests(np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6]))
    assert sign == pytest.approx(0.03125)
    assert wilcoxon == pytest.approx(0.03125)
    assert stats.paired_tests(np.zeros(5)) == (1.0, 1.0)


def test_verdicts_follow_the_interval_and_the_metric_direction():
    rng = np.random.default_rng(0)
    a = rng.uniform(0.2, 0.6, 60)
    better = stats.paired_result("bleu", a, a + rng.normal(0.05, 0.02, 60))
    assert better.verdict == "better" and better.ci_low > 0 and better.wins > 50
    text = better.sentence()
    assert text.startswith("B is better than A on bleu by +0.0") and "95% CI [+0.0" in text and "Wilcoxon p<0.001" in text
    faster = stats.paired_result("latency_ms", a * 1000, a * 1000 - 50 + rng.normal(0, 5, 60))
    assert faster.verdict == "better" and faster.delta < 0 and faster.wins == 60
    assert "ms" in faster.sentence("prompt v1", "prompt v2")
    assert stats.paired_result("length", a * 100, a * 100 + 30).verdict == "higher"
    assert stats.paired_result("rougeL", a, a - 0.1).verdict == "worse"
    noise = stats.paired_result("chrf", a, a + rng.normal(0, 0.05, 60))
    assert noise.verdict == "unclear" and noise.ci_low < 0 < noise.ci_high
    assert noise.sentence().startswith("No clear difference between B and A on chrf")
    same = stats.paired_result("exact", np.ones(8), np.ones(8))
    assert (same.ci_low, same.ci_high, same.wilcoxon_p, same.verdict, same.ties) == (0.0, 0.0, 1.0, "unclear", 8)


def test_compare_pairs_rows_of_two_stored_runs(db):
    def answer(v, row):
        return row["reference"] if v == 0 else "Please contact our support team."

    run_a, run_b = make_runs(db, [("support_few_shot", "openai:m1"), ("support_zero_shot", "openai:m2")],
                             n_rows=25, answer=answer)
    with store.connect(db) as con:
        results = {r.metric: r for r in stats.compare(con, run_a, run_b, n_boot=500)}
        flipped = {r.metric: r for r in stats.compare(con, run_b, run_a, n_boot=500, metrics=["bleu"])}
    assert set(results) == {"exact", "contains", "bleu", "chrf", "rougeL", "length"}
    assert results["bleu"].verdict == "worse" and results["bleu"].n == 25
    assert results["exact"].delta == pytest.approx(-1.0)
    assert results["length"].verdict == "lower"
    assert list(flipped) == ["bleu"] and flipped["bleu"].verdict == "better"
    assert flipped["bleu"].delta == pytest.approx(-results["bleu"].delta)

import json

import numpy as np
import pytest
from scipy import stats

from workbench import store
from workbench.evaluation import analysis


def test_mean_ci_matches_scipy_t_interval():
    rng = np.random.default_rng(0)
    x = rng.normal(0.4, 0.2, 25)
    m, lo, hi = analysis.mean_ci(x)
    ref = stats.t.interval(0.95, len(x) - 1, loc=x.mean(), scale=stats.sem(x))
    assert m == pytest.approx(x.mean()) and (lo, hi) == pytest.approx(ref)


def _run_with_scores(db, values, metric):

    with store.connect(db) as con:
        con.execute("INSERT INTO runs (id, prompt_hash, prompt_name, model_spec, params, dataset_hash, n_rows, "
                    "metrics, lang, status) VALUES ('r', 'h', 'p', 'm', '{}', 'd', ?, ?, 'en', 'done')",
                    [len(values), json.dumps([{"name": metric}])])
        store.write_results(con, [], [{"run_id": "r", "row_idx": i, "repeat_idx": 0, "metric": metric, "value": v}
                                      for i, v in enumerate(values)])
        return analysis.summarize(con, "r")


def test_ci_of_unit_scores_stays_on_the_scale(db):
    s = _run_with_scores(db, [1.0, 0.5], "bleu")
    (m,) = s.metrics
    assert m.mean == pytest.approx(0.75) and m.ci_low >= 0.0 and m.ci_high == 1.0


def test_ci_of_measurements_is_not_clipped(db):
    s = _run_with_scores(db, [10.0, 400.0], "latency_ms")
    (m,) = s.metrics
    assert m.ci_low < 0  # a plain t-interval: milliseconds have no upper bound to clip to

"""Bradley-Terry recovers a known ordering from simulated votes, with honest intervals."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.annotation_runs import make_runs
from workbench import store
from workbench.errors import UserError
from workbench.rating import annotation as an
from workbench.rating import leaderboard

TRUE = np.array([1.2, 0.4, -0.4, -1.2])  # centred log-strengths of four variants


def simulate(rng, pairs, strengths, p_tie=0.0):
    """One vote per (i, j) pair: 'A' if i wins, 'B' if j wins, 'tie' with probability p_tie."""
    out = []
    for i, j in pairs:
        if rng.random() < p_tie:
            out.append("tie")
        else:
            out.append("A" if rng.random() < 1 / (1 + math.exp(strengths[j] - strengths[i])) else "B")
    return out


def test_fit_recovers_strengths_from_many_votes():
    rng = np.random.default_rng(1)
    pairs = [tuple(rng.choice(4, 2, replace=False)) for _ in range(4000)]
    vote = simulate(rng, pairs, TRUE)
    wins = np.array([(i, j) if v == "A" else (j, i) for (i, j), v in zip(pairs, vote)])
    theta = leaderboard.fit(4, wins, np.zeros((0, 2), dtype=int))
    assert list(np.argsort(-theta)) == [0, 1, 2, 3]
    assert theta == pytest.approx(TRUE, abs=0.15)


def test_ties_count_as_half_a_win_each():
    # 0 beats 1 once, 1 beats 0 once, and one tie: evenly matched, whatever the tie does.
    even = leaderboard.fit(2, np.array([[0, 1], [1, 0]]), np.array([[0, 1]]))
    assert even == pytest.approx([0.0, 0.0], abs=1e-6)
    # 0 wins once and they tie twice: 2 "wins" to 1 for player 0, so theta_0 - theta_1 = log 2.
    theta = leaderboard.fit(2, np.array([[0, 1]]), np.array([[0, 1], [1, 0]]))
    assert theta[0] - theta[1] == pytest.approx(math.log(2), abs=0.02)


def test_session_leaderboard_ranks_variants_in_true_order(db):
    variants = [("support_few_shot", "openai:model-w"), ("support_zero_shot", "openai:model-x"),
                ("support_persona", "openai:model-y"), ("support_strict_json", "openai:model-z")]
    runs = make_runs(db, variants, n_rows=40)
    strength = dict(zip(runs, TRUE))
    rng = np.random.default_rng(7)
    with store.connect(db) as con:
        sid = an.create_session(con, an.SessionSpec(runs, pairwise=True, seed=3, annotators=["sim"]))
        items = store.item_outputs(con, sid)
        values = simulate(rng, list(zip(items["run_a"], items["run_b"])), strength, p_tie=0.1)
        store.upsert_ratings(con, [{"session_id": sid, "item_idx": int(i), "annotator": "sim", "kind": "pairwise",
                                    "value": v, "comment": None, "tags": []}
                                   for i, v in zip(items["item_idx"], values)])
        board = leaderboard.build(con, [sid], n_boot=200, seed=0)
        with pytest.raises(UserError, match="pairwise"):
            leaderboard.build(con, [an.create_session(con, an.SessionSpec(runs[:1]))])
    assert len(items) == 6 * 40  # every pair of the four runs on every row
    assert [s.run_id for s in board.standings] == runs  # best first, as simulated
    assert [s.rank for s in board.standings] == [1, 2, 3, 4]
    assert board.standings[0].label == "support_few_shot x openai:model-w"
    for s in board.standings:
        assert s.ci_low <= s.strength <= s.ci_high
        assert s.ci_low - 0.1 < strength[s.run_id] < s.ci_high + 0.1  # ties shrink strengths a little
        assert s.votes == 120  # each variant meets the three others on 40 rows
    assert board.standings[0].ci_low > board.standings[3].ci_high
    assert board.n_votes == 240 and board.n_ties == values.count("tie") > 0
    assert sum(s.wins for s in board.standings) + board.n_ties == 240
    assert board.notes == []

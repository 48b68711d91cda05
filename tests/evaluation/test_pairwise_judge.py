"""Pairwise judging in both orders, against loopback judges: a fair one, one that always picks the first
position, and one biased only when the answers are equally good. Wins count only when both orders agree."""

from __future__ import annotations

import asyncio
import json

import pytest

import workbench
from tests.conftest import DATA_EN, ROOT
from tests.openai_server import OpenAIServer, answers_from_jsonl, judge_reply
from workbench import store
from workbench.errors import UserError
from workbench.evaluation.pairwise_judge import judge_pairwise
from workbench.rating import leaderboard

ZERO_SHOT = ROOT / "prompts" / "support_zero_shot.yaml"
PERFECT = answers_from_jsonl(str(DATA_EN))
N = 10


def worse(messages):
    """The reference answer, except for password questions."""
    return "I am not sure." if "password" in messages[-1]["content"] else PERFECT(messages)


def fair(fields, messages):
    a, b = fields["A"], fields["B"]
    winner = "tie" if a == b else ("B" if a == "I am not sure." else "A")
    return json.dumps({"reasoning": f"picked {winner}", "winner": winner})


def first_position(fields, messages):
    return json.dumps({"reasoning": "the first one is better", "winner": "A"})


def biased_on_ties(fields, messages):
    """Fair when one answer is wrong, picks the first position when they are equally good."""
    return first_position(fields, messages) if fields["A"] == fields["B"] else fair(fields, messages)


@pytest.fixture
def two_runs(db):
    with OpenAIServer(reply=PERFECT) as good, OpenAIServer(reply=worse) as bad:
        a = workbench.evaluate(ZERO_SHOT, DATA_EN, f"openai:good@{good.base_url}", metrics="exact", limit=N, db=db)
        b = workbench.evaluate(ZERO_SHOT, DATA_EN, f"openai:bad@{bad.base_url}", metrics="exact", limit=N, db=db)
    with store.connect(db) as con:
        wrong = int((store.load_outputs(con, b.runs[0])["text"] == "I am not sure.").sum())
    assert 0 < wrong < N
    return a.runs[0], b.runs[0], wrong


def judge(db, run_a, run_b, judge_fn):
    with OpenAIServer(reply=judge_reply(judge_fn)) as server:
        report = asyncio.run(judge_pairwise(db, run_a, run_b, "helpfulness", f"openai:judge@{server.base_url}"))
        return report, server.requests


def test_a_fair_judge_wins_in_both_orders(db, two_runs):
    run_a, run_b, wrong = two_runs
    report, requests = judge(db, run_a, run_b, fair)
    assert len(requests) == 2 * N  # both orders of every pair
    assert requests[0]["response_format"]["json_schema"]["schema"]["properties"]["winner"]["enum"] == ["A", "B", "tie"]
    assert (report.pairs, report.complete, report.errors) == (N, N, 0)
    assert (report.a_wins, report.b_wins, report.ties, report.inconsistent) == (wrong, 0, N - wrong, 0)
    assert report.position_bias_rate == 0 and report.inconsistent_share == 0 and report.first_position_share == 0.5
    with store.connect(db) as con:
        verdicts = store.load_verdicts(con, [report.comparison_id])
        board = leaderboard.build(con, [], judge=[report.comparison_id], n_boot=20)
    assert len(verdicts) == 2 * N and set(verdicts["reasoning"]) >= {"picked A", "picked B"}
    assert [s.run_id for s in board.standings] == [run_a, run_b]
    assert board.sessions == [f"judge:{report.comparison_id}"]


def test_a_judge_that_always_picks_the_first_position_is_detected_and_counts_for_no_one(db, two_runs):
    run_a, run_b, _ = two_runs
    report, _ = judge(db, run_a, run_b, first_position)
    assert report.position_bias_rate == 1.0 and report.first_position_share == 1.0
    assert report.inconsistent == N and report.inconsistent_share == 1.0
    assert report.a_wins == report.b_wins == report.ties == 0
    assert any("follow the position" in n for n in report.notes)
    with store.connect(db) as con:
        assert leaderboard.judge_votes(con, [report.comparison_id]).empty


def test_a_judge_biased_on_ties_keeps_only_its_consistent_verdicts(db, two_runs):
    run_a, run_b, wrong = two_runs
    report, _ = judge(db, run_a, run_b, biased_on_ties)
    assert (report.a_wins, report.b_wins, report.ties, report.inconsistent) == (wrong, 0, 0, N - wrong)
    assert report.position_bias_rate == pytest.approx((N - wrong) / N)
    with store.connect(db) as con:
        votes = leaderboard.judge_votes(con, [report.comparison_id])
    assert len(votes) == wrong and set(votes["value"]) == {"A"}


def test_judge_votes_are_not_mixed_with_human_votes_unless_asked(db, two_runs):
    run_a, run_b, _ = two_runs
    report, _ = judge(db, run_a, run_b, fair)
    with store.connect(db) as con:
        with pytest.raises(UserError, match="ranked apart"):
            leaderboard.build(con, ["some-session"], judge=[report.comparison_id])


def test_malformed_verdicts_are_errors_and_the_pair_is_incomplete(db, two_runs):
    run_a, run_b, _ = two_runs
    calls = iter(range(10_000))

    def flaky(fields, messages):
        return "no idea" if next(calls) % 4 == 0 else fair(fields, messages)

    report, _ = judge(db, run_a, run_b, flaky)
    assert report.errors >= 1 and N - report.errors <= report.complete < N
    with store.connect(db) as con:
        v = store.load_verdicts(con, [report.comparison_id])
    assert set(v["error_kind"].dropna()) == {"bad_judge_reply"} and v[v["error_kind"].notna()]["winner"].isna().all()

"""Judges in the app through AppTest: the judge's score and reasoning under each answer in Compare (escaped),
and the Leaderboard page's judge ranking beside the annotators'."""

from __future__ import annotations

import json

from streamlit.testing.v1 import AppTest

import workbench
from tests.conftest import DATA_EN, ROOT
from tests.openai_server import OpenAIServer, answers_from_jsonl, judge_reply
from workbench import store
from workbench.rating import annotation as an

PAGES = ROOT / "workbench" / "app" / "views"
ZERO_SHOT = ROOT / "prompts" / "support_zero_shot.yaml"
PERFECT = answers_from_jsonl(str(DATA_EN))


def worse(messages):
    return "I am not sure." if "password" in messages[-1]["content"] else PERFECT(messages)


def judge(fields, messages):
    if "A" in fields:
        a, b = fields["A"], fields["B"]
        return json.dumps({"reasoning": "r", "winner": "tie" if a == b else ("B" if a == "I am not sure." else "A")})
    bad = fields.get("Answer to judge") == "I am not sure."
    return json.dumps({"reasoning": "<b>dodges</b> the question" if bad else "answers it", "score": 1 if bad else 5})


def no_exceptions(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def test_compare_shows_judge_scores_and_reasoning_under_each_answer(db):
    with OpenAIServer(reply=judge_reply(judge, worse)) as server:
        workbench.evaluate(ZERO_SHOT, DATA_EN, f"openai:m@{server.base_url}", metrics="exact,judge:correctness",
                           judge_model=f"openai:judge@{server.base_url}", limit=6, db=db)
    at = AppTest.from_file(str(PAGES / "compare.py"), default_timeout=60).run()
    no_exceptions(at)
    html = at.get("html")[0].proto.body
    assert html.count("<span class='judge'>") == 6
    assert "<b>judge&#58;correctness 5</b> — answers it" in html
    assert "&#60;b&#62;dodges&#60;/b&#62; the question" in html and "<b>dodges</b>" not in html  # escaped
    assert "judge:correctness" in " ".join(str(t.value) for t in at.table)  # in the summary too


def test_leaderboard_shows_the_judge_ranking_beside_the_annotators(db):
    with OpenAIServer(reply=PERFECT) as good, OpenAIServer(reply=worse) as bad, \
            OpenAIServer(reply=judge_reply(judge)) as j:
        runs = [workbench.evaluate(ZERO_SHOT, DATA_EN, f"openai:{n}@{s.base_url}", metrics="exact", limit=6,
                                   db=db).runs[0] for n, s in (("good", good), ("bad", bad))]
        report = workbench.api.judge_pairwise(runs[0], runs[1], "helpfulness", f"openai:judge@{j.base_url}", db=db)
    with store.connect(db) as con:
        an.create_session(con, an.SessionSpec(runs, pairwise=True, seed=1))
    at = AppTest.from_file(str(PAGES / "leaderboard.py"), default_timeout=120).run()
    no_exceptions(at)
    texts = " ".join(m.value for m in at.markdown)
    assert "**The annotators**" in texts and "**The pairwise judge**" in texts
    assert at.multiselect(key="lb_judge").value == [report.comparison_id]
    frames = [df.value for df in at.dataframe]
    ranked = next(f for f in frames if "strength" in f.columns)  # the judge's (the humans have no votes yet)
    assert list(ranked["run"]) == runs
    assert any("position bias" in f.columns for f in frames)

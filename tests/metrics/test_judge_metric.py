"""The judge metric as typed and stored, and the reading of judge replies: a reply without a usable score is a
JudgeReplyError (stored as bad_judge_reply), never a score."""

from __future__ import annotations

import json

import pytest

from workbench.metrics import metric_set, parse_metrics
from workbench.metrics.judge import JudgeReplyError, read_reply, read_verdict


def test_judge_metrics_parse_store_and_rebuild():
    ms = parse_metrics("bleu,judge:correctness,judge:persona(model=openai:x@http://127.0.0.1:1/v1,schema=no)")
    assert ms.names == ("bleu", "judge:correctness", "judge:persona")
    again = metric_set(ms.to_json())
    assert again == ms and again.metrics[2].model == "openai:x@http://127.0.0.1:1/v1"
    assert again.metrics[2].config["schema"] is False
    assert ms.score_batch(["a"], [["a"]], "en") == [{"bleu": pytest.approx(1.0)}]  # judges score later


@pytest.mark.parametrize("text, scale, expected", [
    ('{"reasoning": "ok", "score": 4}', "1-5", (4.0, "ok")),
    ('Sure!\n```json\n{"reasoning": "ok", "score": "5"}\n```', "1-5", (5.0, "ok")),
    ('Here: {"score": 2, "reasoning": "meh"} done', "1-5", (2.0, "meh")),
    ('{"reasoning": "fine", "score": "pass"}', "pass/fail", (1.0, "fine")),
    ('{"reasoning": "no", "score": "FAIL"}', "pass/fail", (0.0, "no")),
    ('{"score": 3}', "1-5", (3.0, "")),
])
def test_replies_that_are_read(text, scale, expected):
    assert read_reply(text, scale) == expected


@pytest.mark.parametrize("text, scale, words", [
    ("I'd say four", "1-5", "not a JSON object"),
    ('{"reasoning": "x"}', "1-5", "no `score`"),
    ('{"score": 9}', "1-5", "outside the scale"),
    ('{"score": 0}', "1-5", "outside the scale"),
    ('{"score": 3.5}', "1-5", "outside the scale"),
    ('{"score": true}', "1-5", "not a number"),
    ('{"score": "great"}', "1-5", "not a number"),
    ('{"score": 4}', "pass/fail", "not pass or fail"),
    (json.dumps([1, 2]), "1-5", "not a JSON object"),
])
def test_replies_that_are_bad_judge_replies(text, scale, words):
    with pytest.raises(JudgeReplyError, match=words):
        read_reply(text, scale)


def test_pairwise_verdicts():
    assert read_verdict('{"reasoning": "r", "winner": "b"}') == ("B", "r")
    assert read_verdict('{"winner": "Tie"}') == ("tie", "")
    with pytest.raises(JudgeReplyError):
        read_verdict('{"winner": "both are bad"}')


def test_loose_predictions_cannot_be_judged():
    import workbench
    from workbench.errors import UserError

    with pytest.raises(UserError, match="judge score RUN"):
        workbench.score(["a"], ["a"], "bleu,judge:correctness")

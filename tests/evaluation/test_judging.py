"""Judges through the batch engine, against the loopback server playing the judge: scores and reasoning
stored beside the answers, bad replies stored as bad_judge_reply errors (the run completes), the judge's
cost kept apart, resume, and the default judge."""

from __future__ import annotations

import asyncio
import json

import pytest

import workbench
from tests.conftest import DATA_EN, ROOT
from tests.openai_server import OpenAIServer, answers_from_jsonl, is_judge_request, judge_reply
from workbench import store
from workbench.evaluation import judging
from workbench.metrics import parse_metrics

ZERO_SHOT = ROOT / "prompts" / "support_zero_shot.yaml"
PERFECT = answers_from_jsonl(str(DATA_EN))


def answers(messages):
    """Reference answers, except for password questions (echoed: wrong)."""
    text = PERFECT(messages)
    return "I am not sure." if "password" in messages[-1]["content"] else text


def fair_judge(fields, messages):
    good = fields.get("Answer to judge") == fields.get("Reference answer")
    return json.dumps({"reasoning": "matches the reference" if good else "does not answer the question",
                       "score": 5 if good else 2})


def evaluate(server, metrics="exact,judge:correctness", limit=8, **options):
    return workbench.evaluate(ZERO_SHOT, DATA_EN, f"openai:test@{server.base_url}", metrics=metrics, limit=limit,
                              judge_model=f"openai:judge@{server.base_url}", **options)


def judgements(db, run_id):
    with store.connect(db) as con:
        return store.load_judgements(con, [run_id])


def test_scores_and_reasoning_are_stored_beside_the_answers(db):
    with OpenAIServer(reply=judge_reply(fair_judge, answers)) as server:
        ev = evaluate(server, db=db)
        judge_requests = [r for r in server.requests if is_judge_request(r["messages"])]
    (run_id,) = ev.runs
    j = judgements(db, run_id)
    assert len(j) == 8 and j["error_kind"].isna().all()
    with store.connect(db) as con:
        outputs = store.load_outputs(con, run_id)
        runs = store.list_runs(con)
        cost = store.judge_runs(con, [run_id])
    wrong = outputs["text"] == "I am not sure."
    assert wrong.sum() >= 2 and (~wrong).sum() >= 2
    by_row = dict(zip(j["row_idx"], zip(j["score"], j["reasoning"])))
    for row, is_wrong in zip(outputs["row_idx"], wrong):
        assert by_row[row] == ((2.0, "does not answer the question") if is_wrong else (5.0, "matches the reference"))
    # the score is a metric of the run like any other; the judge's own requests are a run apart, not listed
    assert outputs["score_judge:correctness"].tolist() == [by_row[r][0] for r in outputs["row_idx"]]
    assert list(runs["id"]) == [run_id]
    assert cost["calls"].tolist() == [8] and cost["tokens_in"].iloc[0] > 0 and cost["model_spec"].iloc[0].startswith(
        "openai:judge@")
    # structured output asked for, at temperature 0, with the scale in the schema
    assert len(judge_requests) == 8
    schema = judge_requests[0]["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["score"] == {"type": "integer", "minimum": 1, "maximum": 5}
    assert judge_requests[0]["temperature"] == 0
    summary = ev.summary()
    assert summary["judge:correctness"].iloc[0] == pytest.approx(j["score"].mean())


def test_malformed_and_out_of_scale_replies_are_bad_judge_reply_errors_and_the_run_completes(db):
    def moody_judge(fields, messages):
        answer = fields.get("Answer to judge", "")
        if "password" in fields.get("Question", ""):
            return "I would give it a four."  # no JSON at all
        if "24 hours" in answer or "refund" in answer.lower():
            return json.dumps({"reasoning": "great", "score": 9})  # off the 1-5 scale
        return "```json\n" + json.dumps({"reasoning": "fine", "score": 4}) + "\n```"  # fenced: read

    with OpenAIServer(reply=judge_reply(moody_judge, PERFECT)) as server:
        ev = evaluate(server, db=db, limit=12)
    (run_id,) = ev.runs
    j = judgements(db, run_id)
    assert len(j) == 12
    bad = j[j["error_kind"].notna()]
    assert set(bad["error_kind"]) == {"bad_judge_reply"} and bad["score"].isna().all()
    assert any("not a JSON object" in e for e in bad["error"]) and any("outside the scale" in e for e in bad["error"])
    good = j[j["error_kind"].isna()]
    assert len(good) >= 1 and set(good["score"]) == {4.0} and set(good["reasoning"]) == {"fine"}
    with store.connect(db) as con:
        run = store.get_run(con, run_id)
        scores = store.load_scores(con, run_id)
        errors = store.judge_error_counts(con, run_id)
    assert run["status"] == "done"
    judged = scores[scores["metric"] == "judge:correctness"]
    assert len(judged) == len(good)  # an unreadable reply is never a score
    assert errors == {"judge:correctness": {"bad_judge_reply": len(bad)}}


def test_judging_again_reuses_the_judge_run_and_asks_nothing_new(db):
    with OpenAIServer(reply=judge_reply(fair_judge, answers)) as server:
        ev = evaluate(server, db=db, limit=4)
        (run_id,) = ev.runs
        asked = len(server.requests)
        metric = parse_metrics(f"judge:correctness(model=openai:judge@{server.base_url})").metrics[0]
        result = asyncio.run(judging.judge(db, run_id, metric, "unused"))
        assert len(server.requests) == asked
    assert (result.judged, result.errors) == (4, 0)
    with store.connect(db) as con:
        assert len(store.judge_runs(con, [run_id])) == 1


def test_a_killed_judge_run_is_finished_not_redone(db):
    """The judge run is an engine run: rows it lost are asked again, the others are not."""
    with OpenAIServer(reply=judge_reply(fair_judge, answers)) as server:
        ev = evaluate(server, db=db, limit=6)
        (run_id,) = ev.runs
        with store.connect(db) as con:
            judge_run = store.judge_runs(con, [run_id])["judge_run"].iloc[0]
            con.execute("DELETE FROM outputs WHERE run_id = ? AND row_idx >= 4", [judge_run])
            con.execute("UPDATE runs SET status = 'cancelled' WHERE id = ?", [judge_run])
        asked = len(server.requests)
        metric = parse_metrics(f"judge:correctness(model=openai:judge@{server.base_url})").metrics[0]
        asyncio.run(judging.judge(db, run_id, metric, "unused", use_cache=False))
        assert len(server.requests) - asked == 2
    assert len(judgements(db, run_id)) == 6


def test_rows_without_what_the_rubric_needs_are_not_judged(db, tmp_path):
    data = tmp_path / "d.jsonl"
    data.write_text("\n".join(json.dumps({"question": q, "reference": r}) for q, r in
                              [("hi", "hello"), ("bye", None), ("thanks", "you're welcome")]) + "\n")
    with OpenAIServer(reply=judge_reply(fair_judge)) as server:
        ev = workbench.evaluate(ZERO_SHOT, data, f"openai:test@{server.base_url}", metrics="judge:correctness,judge:helpfulness",
                                judge_model=f"openai:judge@{server.base_url}", db=db)
    j = judgements(db, ev.runs[0])
    assert sorted(j[j["metric"] == "judge:correctness"]["row_idx"]) == [0, 2]  # no reference, no correctness
    assert sorted(j[j["metric"] == "judge:helpfulness"]["row_idx"]) == [0, 1, 2]


def test_without_a_key_the_default_judge_is_the_local_model_with_a_warning(capsys):
    from workbench.api import judge_model_default

    spec = judge_model_default()
    assert spec.startswith("hf:") and "support-tiny" in spec
    assert "smoke test, not a judge" in capsys.readouterr().err


def test_retrying_errors_judges_the_new_answers_with_the_stored_judge(db):
    from tests.openai_server import Fault

    failing = {"on": True}

    def fault(n, body):
        content = body["messages"][-1]["content"]
        broken = failing["on"] and not is_judge_request(body["messages"]) and "cancel" in content.lower()
        return Fault(status=500) if broken else None

    with OpenAIServer(reply=judge_reply(fair_judge, answers), fault=fault) as server:
        ev = evaluate(server, db=db, limit=40, retries=0)
        (run_id,) = ev.runs
        before = judgements(db, run_id)
        with store.connect(db) as con:
            errored = int(store.load_outputs(con, run_id)["error"].notna().sum())
        assert errored >= 1 and len(before) == 40 - errored
        failing["on"] = False
        workbench.resume(run_id, db, errors_only=True)  # no judge model given: the stored one judges
    after = judgements(db, run_id)
    assert len(after) == 40 and after["error_kind"].isna().all()
    with store.connect(db) as con:
        models = set(store.judge_runs(con, [run_id])["model_spec"])
    assert len(models) == 1 and models.pop().startswith("openai:judge@")


def test_a_server_that_refuses_response_format_is_asked_again_without_it(db):
    from tests.openai_server import Fault

    def no_structured_output(n, body):
        return Fault(status=400) if "response_format" in body else None

    with OpenAIServer(reply=judge_reply(fair_judge, answers), fault=no_structured_output) as server:
        ev = evaluate(server, db=db, limit=8, concurrency=2)
        judge_requests = [r for r in server.requests if is_judge_request(r["messages"])]
    j = judgements(db, ev.runs[0])
    assert len(j) == 8 and j["error_kind"].isna().all()
    with_schema = [r for r in judge_requests if "response_format" in r]
    assert 1 <= len(with_schema) <= 2 and len(judge_requests) == 8 + len(with_schema)  # learnt once per request in flight


@pytest.mark.slow  # loads torch and the local model
def test_the_tiny_local_default_judge_runs_end_to_end_as_a_smoke_test(db, capsys):
    """No key, no --judge-model: the bundled local model judges (badly); whatever it says is read or stored as
    bad_judge_reply, and the run completes."""
    with OpenAIServer(reply=answers) as server:
        ev = workbench.evaluate(ZERO_SHOT, DATA_EN, f"openai:test@{server.base_url}", metrics="judge:helpfulness",
                                limit=3, db=db)
    assert "smoke test, not a judge" in capsys.readouterr().err
    j = judgements(db, ev.runs[0])
    assert len(j) == 3 and (j["score"].notna() | (j["error_kind"] == "bad_judge_reply")).all()
    with store.connect(db) as con:
        assert store.judge_runs(con, ev.runs)["model_spec"].iloc[0].startswith("hf:")

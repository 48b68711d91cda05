"""`workbench eval --metrics judge:NAME --judge-model`, `workbench judge score|pairwise|list|rubrics`,
`workbench show` with the judge's cost apart, and `workbench leaderboard --judge`, in process."""

from __future__ import annotations

import json

from tests.conftest import DATA_EN, ROOT
from tests.openai_server import OpenAIServer, answers_from_jsonl, judge_reply

ZERO_SHOT = ROOT / "prompts" / "support_zero_shot.yaml"
PERFECT = answers_from_jsonl(str(DATA_EN))


def worse(messages):
    return "I am not sure." if "password" in messages[-1]["content"] else PERFECT(messages)


def both_judge(fields, messages):
    if "A" in fields:  # pairwise
        a, b = fields["A"], fields["B"]
        return json.dumps({"reasoning": "r", "winner": "tie" if a == b else ("B" if a == "I am not sure." else "A")})
    answer = fields.get("Answer to judge", "")
    if answer == "I am not sure.":
        return "unparsable"
    return json.dumps({"reasoning": "fine", "score": 4})


def test_eval_with_a_judge_then_show_reports_its_cost_apart(cli):
    with OpenAIServer(reply=judge_reply(both_judge, worse)) as server:
        r = cli("eval", ZERO_SHOT, "--data", DATA_EN, "--model", f"openai:m@{server.base_url}", "--limit", 6,
                "--metrics", "exact,judge:correctness", "--judge-model", f"openai:judge@{server.base_url}", "--json")
    assert r.code == 0, r.err
    (run,) = r.json()["runs"]
    assert run["metrics"]["judge:correctness"]["mean"] == 4.0
    shown = cli("show", run["run_id"])
    assert shown.code == 0
    line = next(ln for ln in shown.out.splitlines() if ln.startswith("judge judge:correctness"))
    assert "6 calls" in line and "bad_judge_reply" in line and "openai:judge@" in line
    data = cli("show", run["run_id"], "--json").json()
    (j,) = data["judges"]
    assert j["calls"] == 6 and j["errors_by_kind"]["bad_judge_reply"] >= 1


def test_judge_score_pairwise_list_and_leaderboard(cli):
    with OpenAIServer(reply=PERFECT) as good, OpenAIServer(reply=worse) as bad, \
            OpenAIServer(reply=judge_reply(both_judge)) as judge:
        ids = []
        for server, name in ((good, "good"), (bad, "bad")):
            r = cli("eval", ZERO_SHOT, "--data", DATA_EN, "--model", f"openai:{name}@{server.base_url}", "--limit", 6,
                    "--metrics", "exact", "--json")
            ids.append(r.json()["runs"][0]["run_id"])
        spec = f"openai:judge@{judge.base_url}"
        scored = cli("judge", "score", ids[0], "--rubric", "helpfulness", "--judge-model", spec, "--json")
        assert scored.code == 0, scored.err
        assert scored.json()[0]["judged"] == 6
        pw = cli("judge", "pairwise", ids[0], ids[1], "--rubric", "helpfulness", "--judge-model", spec)
        assert pw.code == 0, pw.err
        assert "position-bias rate 0%" in pw.out and "inconsistent 0" in pw.out
        listed = cli("judge", "list")
    cid = listed.out.splitlines()[-1].split()[0]
    board = cli("leaderboard", "--judge", cid, "--boot", 10, "--json").json()
    assert [s["run_id"] for s in board["standings"]] == ids
    assert cli("judge", "rubrics").out.count("1-5") >= 4


def test_a_bad_rubric_is_one_line_naming_file_and_line(cli, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nscale: 1-10\ncriteria: x\ntemplate: '{{ answer }}'\n")
    r = cli("judge", "score", "nope", "--rubric", str(bad))
    assert r.code == 2 and r.err.count("\n") == 1
    assert f"{bad}:2" in r.err and "scale" in r.err


def test_an_eval_file_names_the_judge(cli, tmp_path):
    with OpenAIServer(reply=judge_reply(both_judge, worse)) as server:
        (tmp_path / "eval.yaml").write_text(
            f"prompts: {ZERO_SHOT}\ndata: {DATA_EN}\nmodels: [openai:m@{server.base_url}]\n"
            f"metrics: judge:helpfulness\njudge_model: openai:judge@{server.base_url}\nlimit: 3\n")
        r = cli("eval", "--config", tmp_path / "eval.yaml", "--json")
    assert r.code == 0, r.err
    assert "smoke test" not in r.err  # the file's judge, not the default
    shown = cli("show", r.json()["runs"][0]["run_id"], "--json").json()
    assert shown["judges"][0]["model_spec"].startswith("openai:judge@")

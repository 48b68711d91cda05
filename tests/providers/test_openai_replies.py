"""One malformed reply never fails the run: every field of a reply is checked per row, a bad one is that row's
bad_response error, and the other rows are stored (and --resume finishes the run)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import DATA_EN, ROOT
from tests.openai_server import Fault, OpenAIServer
from workbench import store

ZERO_SHOT = ROOT / "prompts" / "support_zero_shot.yaml"
QUESTIONS = [json.loads(line)["question"] for line in DATA_EN.read_text().splitlines() if line.strip()]
BAD_ROW = 77


@pytest.mark.parametrize("field, value", [("prompt_tokens", "12"), ("prompt_tokens", 2**40),
                                          ("prompt_tokens", [1, 2]), ("completion_tokens", -1),
                                          ("completion_tokens", True)])
def test_one_bad_usage_field_is_that_rows_error_and_the_other_177_are_stored(cli, db, field, value):
    assert len(QUESTIONS) == 178
    bad = QUESTIONS[BAD_ROW]

    def fault(n, req):
        if req["messages"][-1]["content"].strip() == bad:
            return Fault(patch={"usage": {"prompt_tokens": 5, "completion_tokens": 5, field: value}})
        return None

    with OpenAIServer(fault=fault) as server:
        r = cli("eval", ZERO_SHOT, "--data", DATA_EN, "--model", f"openai:test@{server.base_url}", "--json")
        assert r.code == 0, r.err
        run = r.json()["runs"][0]
        assert run["status"] == "done" and run["outputs"] == 178
        assert run["errors"] == 1 and run["errors_by_kind"] == {"bad_response": 1}
        with store.connect(db) as con:
            rows = con.execute("SELECT row_idx, error, tokens_in FROM outputs WHERE run_id = ? ORDER BY row_idx",
                               [run["run_id"]]).fetchall()
            assert len(rows) == 178 and [i for i, e, _ in rows if e] == [BAD_ROW]
            assert f"usage.{field}" in rows[BAD_ROW][1] and all(t is not None for i, e, t in rows if i != BAD_ROW)
            # a run cut short after the bad row: --resume finishes it, the bad row again its own error
            con.execute("DELETE FROM outputs WHERE run_id = ? AND row_idx >= 70", [run["run_id"]])
            store.set_status(con, run["run_id"], "running")
        r = cli("eval", "--resume", run["run_id"], "--json")
        assert r.code == 0, r.err
        again = r.json()["runs"][0]
        assert again["status"] == "done" and again["outputs"] == 178 and again["errors"] == 1


def test_other_malformed_fields_are_row_errors(cli, db):
    patches = [{"choices": [{"message": {"content": "ok"}, "finish_reason": {"x": 1}}]},
               {"usage": "lots"}, {"choices": {"0": 1}}, {"choices": [{"message": {"content": ["a"]}}]}]
    bad = {QUESTIONS[i]: p for i, p in zip((3, 5, 7, 9), patches)}

    def fault(n, req):
        patch = bad.get(req["messages"][-1]["content"].strip())
        if patch:
            return Fault(patch=patch)
        if req["messages"][-1]["content"].strip() == QUESTIONS[11]:
            return Fault(body=b"[" * 100_000)  # deeper than json can parse
        return None

    with OpenAIServer(fault=fault) as server:
        r = cli("eval", ZERO_SHOT, "--data", DATA_EN, "--model", f"openai:test@{server.base_url}", "--limit", "12",
                "--retries", "0", "--json")
    assert r.code == 0, r.err
    run = r.json()["runs"][0]
    assert run["status"] == "done" and run["errors_by_kind"] == {"bad_response": 5}

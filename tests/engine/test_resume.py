"""Plans rebuilt from the store: --resume and --retry-errors finish a run in place, without redoing or
duplicating rows, whatever state the run was left in."""

from __future__ import annotations

import asyncio

from tests.conftest import DATA_EN, ROOT
from workbench import store
from workbench.engine import runner
from workbench.metrics import parse_metrics

FEW_SHOT = ROOT / "prompts" / "support_few_shot.yaml"


def first_run(cli, server, *extra):
    r = cli("eval", FEW_SHOT, "--data", DATA_EN, "--model", f"openai:test@{server.base_url}", "--limit", "10",
            "--json", *extra)
    assert r.code == 0, r.err
    return r.json()["runs"][0]["run_id"]


def forget(db, run_id, where: str):
    """Simulate a run interrupted before these outputs were stored (what a kill leaves)."""
    with store.connect(db) as con:
        con.execute(f"DELETE FROM scores WHERE run_id = ? AND ({where})", [run_id])
        con.execute(f"DELETE FROM outputs WHERE run_id = ? AND ({where})", [run_id])
        store.set_status(con, run_id, "running")


def test_resume_redoes_only_missing_rows_and_repeats(cli, openai_server, db):
    run_id = first_run(cli, openai_server, "--repeat", "2")
    forget(db, run_id, "row_idx IN (2, 7) AND repeat_idx = 1 OR row_idx = 9")
    plan = runner.plan_from_run(db, run_id)
    assert plan.todo == {run_id: [(2, 1), (7, 1), (9, 0), (9, 1)]}
    assert plan.repeats == 2 and plan.variants[0].run_id == run_id
    assert plan.variants[0].messages[2] is not None and plan.variants[0].messages[3] is None  # only what is needed
    before = len(openai_server.requests)
    r = cli("eval", "--resume", run_id, "--json")
    assert r.code == 0, r.err
    assert len(openai_server.requests) - before == 4
    run = r.json()["runs"][0]
    assert run["outputs"] == 20 and run["status"] == "done"
    with store.connect(db) as con:
        assert len(store.done_rows(con, run_id)) == 20
        assert len(store.load_scores(con, run_id)) == 20 * 10


def test_resume_of_a_complete_run_does_nothing(cli, openai_server, db):
    run_id = first_run(cli, openai_server)
    before = len(openai_server.requests)
    assert runner.plan_from_run(db, run_id).todo == {run_id: []}
    r = cli("eval", "--resume", run_id, "--json")
    assert r.code == 0 and r.json()["runs"][0]["outputs"] == 10 and len(openai_server.requests) == before


def test_outputs_without_scores_are_scored_on_resume(cli, openai_server, db):
    run_id = first_run(cli, openai_server)
    with store.connect(db) as con:
        con.execute("DELETE FROM scores WHERE run_id = ? AND row_idx IN (1, 4)", [run_id])
    assert runner.plan_from_run(db, run_id).todo == {run_id: [(1, 0), (4, 0)]}
    r = cli("eval", "--resume", run_id, "--json")
    assert r.code == 0, r.err
    with store.connect(db) as con:
        assert len(store.load_scores(con, run_id)) == 10 * 10
        assert len(store.done_rows(con, run_id)) == 10


def test_metrics_with_a_regex_survive_the_round_trip(cli, openai_server, db):
    run_id = first_run(cli, openai_server, "--metrics", "exact,length", "--metrics", r"regex=(\d+,\d+|days?)")
    plan = runner.plan_from_run(db, run_id)
    assert plan.metrics == parse_metrics(["exact,length", r"regex=(\d+,\d+|days?)"])
    forget(db, run_id, "row_idx = 0")
    asyncio.run(runner.execute(runner.plan_from_run(db, run_id), db))
    with store.connect(db) as con:
        assert set(store.load_scores(con, run_id)["metric"]) == {"exact", "length", "regex"}


def test_retry_errors_with_no_errors_is_a_no_op(cli, openai_server, db):
    run_id = first_run(cli, openai_server)
    assert runner.plan_from_run(db, run_id, errors_only=True).todo == {run_id: []}
    r = cli("eval", "--retry-errors", run_id[:5], "--json")
    assert r.code == 0 and r.json()["runs"][0]["errors"] == 0


def test_resume_refuses_what_it_cannot_change_and_unknown_runs(cli, openai_server, db):
    run_id = first_run(cli, openai_server)
    for extra in (["--limit", "3"], ["--data", str(DATA_EN)], ["--repeat", "2"], [str(FEW_SHOT)]):
        r = cli("eval", "--resume", run_id, *extra)
        assert r.code == 2 and "--resume" in r.err and len(r.err.strip().splitlines()) == 1, r.err
    r = cli("eval", "--resume", "nosuchrun")
    assert r.code == 2 and "no run" in r.err
    r = cli("eval")
    assert r.code == 2 and "PROMPT_FILE" in r.err

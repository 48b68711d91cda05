"""Background runs: progress read from the database, cancel, errors, and runs started elsewhere."""

from __future__ import annotations

import time

from tests.conftest import DATA_EN, ROOT
from tests.openai_server import OpenAIServer
from workbench.app import jobs
from workbench.authoring.datasets import load_dataset
from workbench.authoring.templates import load_prompt
from workbench.engine import runner
from workbench.metrics import parse_metrics


def plan(spec: str, rows: int):
    prompt = load_prompt(ROOT / "prompts" / "support_zero_shot.yaml")
    return runner.plan_eval([prompt], load_dataset(DATA_EN), [spec], parse_metrics("exact,length"), limit=rows)


def test_a_job_runs_in_the_background_and_progress_comes_from_the_database(db):
    registry = jobs.Jobs()
    with OpenAIServer(latency=0.05) as server:
        job = registry.start(plan(f"openai:m@{server.base_url}", 40), db, concurrency=2)
        assert job.error is None and len(job.run_ids) == 1 and job.alive
        assert registry.owner(job.run_ids[0]) is job
        seen = []
        while job.alive:
            p = jobs.progress(db, job.run_ids).iloc[0]
            seen.append((p["status"], int(p["done"])))
            time.sleep(0.2)
        assert job.wait(30)
    assert any(s == "running" and 0 < d < 40 for s, d in seen), seen
    final = jobs.progress(db).iloc[0]
    assert (final["status"], final["done"], final["total"], final["errors"], final["fraction"]) == ("done", 40, 40, 0, 1.0)


def test_cancel_stops_the_run_and_keeps_what_finished(db):
    registry = jobs.Jobs()
    with OpenAIServer(latency=0.1) as server:
        job = registry.start(plan(f"openai:m@{server.base_url}", 60), db, concurrency=1)
        time.sleep(1.0)
        registry.cancel(job.id)
        assert job.wait(30)
    p = jobs.progress(db).iloc[0]
    assert p["status"] == "cancelled" and 0 < p["done"] < 60


def test_a_bad_model_leaves_nothing_behind(db):
    registry = jobs.Jobs()
    job = registry.start(plan("openai:gpt-4o-mini", 3), db)  # no key in tests
    assert job.wait(10)
    assert "OPENAI_API_KEY" in job.error and job.run_ids == []
    assert jobs.progress(db).empty


def test_runs_from_the_cli_show_up(db, cli, openai_server):
    r = cli("eval", ROOT / "prompts" / "support_zero_shot.yaml", "--data", DATA_EN, "--model",
            f"openai:m@{openai_server.base_url}", "--limit", "4", "--metrics", "exact")
    assert r.code == 0, r.err
    p = jobs.progress(db)
    assert len(p) == 1 and (p.iloc[0]["done"], p.iloc[0]["total"], p.iloc[0]["status"]) == (4, 4, "done")
    assert jobs.Jobs().owner(p.iloc[0]["id"]) is None  # not this process's job

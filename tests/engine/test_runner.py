"""The batch runner against real loopback servers: concurrency bounds per provider, several providers
at once, scoring in worker processes (same values), batches for batching providers, cancel, progress."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest

from tests.conftest import DATA_EN, ROOT
from tests.openai_server import OpenAIServer
from workbench import metrics, providers, store
from workbench.authoring.datasets import load_dataset
from workbench.authoring.templates import load_prompt
from workbench.engine import runner
from workbench.metrics import parse_metrics
from workbench.metrics.batch import POOL_MIN_ITEMS, BatchScorer, score_items
from workbench.providers import Completion, Provider

FEW_SHOT = ROOT / "prompts" / "support_few_shot.yaml"
ZERO_SHOT = ROOT / "prompts" / "support_zero_shot.yaml"


def write_rows(path, n: int):
    """n distinct rows built from the bundled English data."""
    base = [json.loads(line) for line in DATA_EN.read_text(encoding="utf-8").splitlines() if line.strip()]
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n):
            row = dict(base[i % len(base)], question=f"{base[i % len(base)]['question']} (#{i})")
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


def outputs(db, run_id):
    with store.connect(db) as con:
        return store.load_outputs(con, run_id)


def test_requests_in_flight_never_exceed_the_limit(cli, db):
    with OpenAIServer(latency=0.05) as server:
        r = cli("eval", FEW_SHOT, "--data", DATA_EN, "--model", f"openai:test@{server.base_url}", "--limit", "40",
                "-j", "4", "--json", "--no-cache")
        assert r.code == 0, r.err
    run = r.json()["runs"][0]
    assert run["outputs"] == 40 and run["errors"] == 0 and run["status"] == "done"
    assert 2 <= server.max_in_flight <= 4
    assert r.err == ""  # --json: no progress bar, nothing else on stderr


def test_two_providers_run_at_once_each_within_its_own_limit(cli, db):
    with OpenAIServer(latency=0.05) as a, OpenAIServer(latency=0.05) as b:
        start = time.monotonic()
        r = cli("eval", FEW_SHOT, ZERO_SHOT, "--data", DATA_EN, "--model", f"openai:a@{a.base_url}",
                "--model", f"openai:b@{b.base_url}", "--limit", "24", "-j", "3", "--json", "--no-cache")
        took = time.monotonic() - start
        assert r.code == 0, r.err
    runs = r.json()["runs"]
    assert len(runs) == 4 and all(x["outputs"] == 24 and x["errors"] == 0 for x in runs)
    assert len(a.requests) == len(b.requests) == 48
    # per provider at most 3 in flight, shared by its two prompt variants
    assert a.max_in_flight <= 3 and b.max_in_flight <= 3
    # the providers were busy at the same time, not one after the other
    a_times = [t for t, _ in a.arrivals]
    b_times = [t for t, _ in b.arrivals]
    assert min(b_times) < max(a_times) and min(a_times) < max(b_times)
    assert took < 48 * 0.05 * 2 / 3 * 1.5 + 2  # far from the 48 x 50 ms x 2 serial time


def test_scores_from_worker_processes_equal_in_process_scores(cli, db, tmp_path):
    data = write_rows(tmp_path / "rows.jsonl", POOL_MIN_ITEMS + 20)
    with OpenAIServer() as server:
        r = cli("eval", FEW_SHOT, "--data", data, "--model", f"openai:test@{server.base_url}", "--json", "-j", "32",
                "--no-cache")
        assert r.code == 0, r.err
    run_id = r.json()["runs"][0]["run_id"]
    df = outputs(db, run_id)
    assert len(df) == POOL_MIN_ITEMS + 20
    got = scores_by_row(db, run_id)
    ds = load_dataset(data)
    ms = parse_metrics(None)
    for rec in df.itertuples():
        want = metrics.score(rec.text, ds.references(rec.row_idx), ms, "en", latency_ms=rec.latency_ms,
                             tokens_out=rec.tokens_out)
        assert got[rec.row_idx] == want


def scores_by_row(db, run_id) -> dict[int, dict[str, float]]:
    with store.connect(db) as con:
        sc = store.load_scores(con, run_id)
    out: dict[int, dict[str, float]] = {}
    for rec in sc.itertuples():
        out.setdefault(rec.row_idx, {})[rec.metric] = rec.value
    return out


def test_batch_scorer_pool_and_inline_agree():
    ms = parse_metrics(None)
    items = [(f"Tap Forgot password? and follow the link {i}", ["Tap 'Forgot password?' on the sign-in screen"],
              12.5, 7) for i in range(150)]
    with BatchScorer(ms, "en", pool=True, workers=2) as pool:
        assert pool.uses_pool
        assert pool.score_now(items) == score_items(items, ms, "en")
        assert asyncio.run(pool.score(items[:10])) == score_items(items[:10], ms, "en")


class EchoBatchProvider(Provider):
    """A provider that generates in batches, like a local model: records the batch sizes it got."""

    batch_size = 5
    max_concurrency = 1
    seen: list[int] = []
    active = 0
    most_active = 0

    def __init__(self, rest: str, **_):
        self.spec = f"batchtest:{rest}"

    async def complete_batch(self, batch, params):
        type(self).seen.append(len(batch))
        type(self).active += 1
        type(self).most_active = max(type(self).most_active, type(self).active)
        await asyncio.sleep(0.01)
        type(self).active -= 1
        return [Completion(text=m[-1]["content"], tokens_out=3, latency_ms=1.0) for m in batch]


def test_batching_provider_gets_batches_one_at_a_time(cli, db, monkeypatch):
    monkeypatch.setitem(providers.REGISTRY.targets(), "batchtest", EchoBatchProvider)
    EchoBatchProvider.seen, EchoBatchProvider.most_active = [], 0
    r = cli("eval", ZERO_SHOT, "--data", DATA_EN, "--model", "batchtest:x", "--limit", "23", "-j", "8", "--json")
    assert r.code == 0, r.err
    assert r.json()["runs"][0]["outputs"] == 23
    assert sum(EchoBatchProvider.seen) == 23 and max(EchoBatchProvider.seen) == 5
    assert EchoBatchProvider.most_active == 1  # -j does not make a local model run batches side by side


def test_cancel_stops_new_requests_and_leaves_a_resumable_run(db):
    prompt = load_prompt(FEW_SHOT)
    with OpenAIServer(latency=0.05) as server:
        spec = f"openai:test@{server.base_url}"
        plan = runner.plan_eval([prompt], load_dataset(DATA_EN), [spec], parse_metrics("exact,bleu"), limit=60,
                                use_cache=False)
        cancel = threading.Event()
        result = {}

        def go():
            result["ids"] = asyncio.run(runner.execute(plan, db, concurrency=2, cancel=cancel))

        t = threading.Thread(target=go)
        t.start()
        time.sleep(0.6)
        cancel.set()
        t.join(30)
        run_id = result["ids"][0]
        with store.connect(db) as con:
            assert store.get_run(con, run_id)["status"] == "cancelled"
            done = store.done_rows(con, run_id)
        assert 0 < len(done) < 60
        before = len(server.requests)
        resumed = runner.plan_from_run(db, run_id, use_cache=False)
        assert sorted(resumed.todo[run_id]) == sorted({(r, 0) for r in range(60)} - done)
        asyncio.run(runner.execute(resumed, db, concurrency=4))
        assert len(server.requests) - before == 60 - len(done)
    df = outputs(db, run_id)
    assert len(df) == 60 and df[["row_idx", "repeat_idx"]].duplicated().sum() == 0 and df["error"].isna().all()
    with store.connect(db) as con:
        assert store.get_run(con, run_id)["status"] == "done"
        assert len(store.load_scores(con, run_id)) == 60 * 2


def test_progress_reports_rows_errors_and_cached():
    from workbench.cli.eval_cmd import _progress_printer

    show = _progress_printer()
    p = runner.Progress("r", total=10, done=10, errors=2, cached=3, started=time.monotonic() - 2)
    import io
    import sys

    buf, old = io.StringIO(), sys.stderr
    sys.stderr = buf
    try:
        show([p])
        show([p])  # after the end nothing more is printed
    finally:
        sys.stderr = old
    line = buf.getvalue()
    assert line.count("\n") == 1 and "10/10" in line and "rows/s" in line and "ETA" in line
    assert "errors 2" in line and "cached 3" in line


def test_no_progress_bar_when_not_a_terminal(cli, openai_server, db):
    r = cli("eval", ZERO_SHOT, "--data", DATA_EN, "--model", f"openai:test@{openai_server.base_url}", "--limit", "3")
    assert r.code == 0 and "rows/s" not in r.err


@pytest.mark.parametrize("args, where", [
    (["-j", "0"], "--concurrency"),
    (["--retries", "-1"], "--retries"),
    (["--timeout", "0"], "--timeout"),
    (["--rpm", "0"], "--rpm"),
    (["--repeat", "0"], "--repeat"),
])
def test_bad_engine_options_exit_2_and_leave_nothing(cli, openai_server, db, args, where):
    r = cli("eval", ZERO_SHOT, "--data", DATA_EN, "--model", f"openai:test@{openai_server.base_url}", "--limit", "2",
            *args)
    assert r.code == 2 and where in r.err and len(r.err.strip().splitlines()) == 1, r.err
    with store.connect(db) as con:
        assert store.list_runs(con).empty
    assert not openai_server.requests


class BrokenProvider(EchoBatchProvider):
    """Fails on some rows with an exception no provider should raise."""

    batch_size = 1

    async def complete_batch(self, batch, params):
        if "password" in batch[0][-1]["content"].lower():
            raise KeyError("surprise")
        return [Completion(text="ok", tokens_out=1, latency_ms=1.0)]


def test_an_answer_with_a_lone_surrogate_is_stored_with_the_rest(cli, db):
    """A server's broken \\uD83D escape decodes to a character DuckDB cannot store; it must not cost the batch."""
    with OpenAIServer(reply=lambda messages: f"{messages[-1]['content'][:20]} \ud83d") as server:
        r = cli("eval", ZERO_SHOT, "--data", DATA_EN, "--model", f"openai:test@{server.base_url}", "--limit", "12",
                "--json", "--no-cache")
    assert r.code == 0, r.err
    assert r.json()["runs"][0]["outputs"] == 12 and r.json()["runs"][0]["errors"] == 0
    texts = outputs(db, r.json()["runs"][0]["run_id"])["text"].tolist()
    assert len(texts) == 12 and all(t.endswith(" \ufffd") for t in texts)


def test_an_unexpected_provider_exception_is_recorded_on_its_rows(cli, db, monkeypatch):
    monkeypatch.setitem(providers.REGISTRY.targets(), "broken", BrokenProvider)
    r = cli("eval", ZERO_SHOT, "--data", DATA_EN, "--model", "broken:x", "--limit", "12", "--json")
    assert r.code == 0, r.err
    run = r.json()["runs"][0]
    assert run["outputs"] == 12 and run["status"] == "done"
    assert 0 < run["errors"] < 12 and run["errors_by_kind"] == {"other": run["errors"]}
    df = outputs(db, run["run_id"])
    assert df.loc[df["error"].notna(), "error"].str.contains("KeyError").all()


def test_a_scoring_failure_keeps_the_outputs_and_resume_scores_them(cli, openai_server, db, monkeypatch):
    import workbench.metrics.batch as batch

    real = batch.score_items

    def broken(items, metrics, lang):
        raise ValueError("metric bug")

    monkeypatch.setattr(batch, "score_items", broken)
    r = cli("eval", ZERO_SHOT, "--data", DATA_EN, "--model", f"openai:test@{openai_server.base_url}", "--limit", "6",
            "--json")
    assert r.code == 0, r.err
    run = r.json()["runs"][0]
    assert run["outputs"] == 6 and run["errors"] == 0 and run["status"] == "failed" and run["metrics"] == {}
    monkeypatch.setattr(batch, "score_items", real)
    before = len(openai_server.requests)
    r = cli("eval", "--resume", run["run_id"], "--json")
    run = r.json()["runs"][0]
    assert run["status"] == "done" and run["metrics"]["bleu"]["n"] == 6
    assert len(openai_server.requests) == before  # the answers came from the cache, only scoring was redone

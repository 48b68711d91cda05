"""A slow metric (an embedding model loading, a judge) must not cost outputs: scoring that starts while a
flush waits for earlier scoring is waited for too, so every answer is stored with its scores."""

from __future__ import annotations

import threading
import time

from tests.conftest import DATA_EN, ROOT
from tests.openai_server import OpenAIServer
from workbench import metrics, store
from workbench.metrics import Metric


class Slow(Metric):
    """Like a metric that loads a model on first use and then keeps the cores busy: the first batch takes
    seconds, every later one a while, one at a time."""

    name = "slow"
    needs_reference = False
    loading = threading.Lock()
    loaded = False

    def score_batch(self, predictions, references_lists, lang):
        with Slow.loading:
            if not Slow.loaded:
                time.sleep(2.0)  # the run's requests all finish meanwhile
                Slow.loaded = True
            time.sleep(0.3)
        return [1.0 for _ in predictions]


def test_every_output_is_stored_when_scoring_is_slow(cli, db, monkeypatch):
    monkeypatch.setitem(metrics.REGISTRY.targets(), "slow", Slow)
    with OpenAIServer(latency=0.01) as server:
        r = cli("eval", ROOT / "prompts" / "support_zero_shot.yaml", "--data", DATA_EN, "--limit", "60",
                "--model", f"openai:test@{server.base_url}", "--metrics", "slow", "--json")
        assert r.code == 0, r.err
        assert len(server.requests) == 60
    run_id = r.json()["runs"][0]["run_id"]
    with store.connect(db) as con:
        outputs = store.load_outputs(con, run_id)
        assert store.get_run(con, run_id)["status"] == "done"
    assert len(outputs) == 60 and (outputs["score_slow"] == 1.0).all()


class Steady(Metric):
    """A metric slower than a fast server's answers: each batch takes a while."""

    name = "steady"
    needs_reference = False

    def score_batch(self, predictions, references_lists, lang):
        time.sleep(0.15)
        return [1.0 for _ in predictions]


def test_requests_wait_for_scoring_and_the_store_to_catch_up(cli, db, monkeypatch):
    """Outputs waiting to be scored or stored are bounded (results.BACKLOG_ROWS, plus the requests already in
    flight): a 100,000-row run against a fast server otherwise held nearly every output in memory at once."""
    from workbench.engine import results

    monkeypatch.setitem(metrics.REGISTRY.targets(), "steady", Steady)
    monkeypatch.setattr(results, "BACKLOG_ROWS", 10)
    seen = []
    add = results.Writer.add

    def counting_add(self, done):
        add(self, done)
        seen.append(len(self.pending) + self.n_scoring + len(self.ready))

    monkeypatch.setattr(results.Writer, "add", counting_add)
    with OpenAIServer(latency=0.0) as server:
        r = cli("eval", ROOT / "prompts" / "support_zero_shot.yaml", "--data", DATA_EN, "--limit", "120",
                "--model", f"openai:test@{server.base_url}", "--metrics", "steady", "-j", "4", "--json")
        assert r.code == 0, r.err
    assert len(seen) == 120 and max(seen) <= 10 + 4
    run_id = r.json()["runs"][0]["run_id"]
    with store.connect(db) as con:
        outputs = store.load_outputs(con, run_id)
    assert len(outputs) == 120 and (outputs["score_steady"] == 1.0).all()

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

"""The metric contract and registry: built-ins as registered classes, sets derived from them, a plugin's
metric with options, batch scoring equal to each computation called row by row, stored sets as JSON."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tests.metrics.test_metrics import pairs_en
from workbench import metrics
from workbench.errors import UserError
from workbench.metrics import Metric, metric_set, overlap, parse_metrics, rouge, text


class Shouting(Metric):
    """A plugin-style metric: share of upper-case letters above a threshold; reads tokens_out too."""

    name = "shouting"
    needs_reference = False
    direction = "lower"
    options = {"threshold": float}
    wants = ("tokens_out",)

    def score_batch(self, predictions, references_lists, lang, *, tokens_out):
        limit = self.config.get("threshold", 0.5)
        return [None if t is None else float(sum(c.isupper() for c in p) > limit * max(len(p), 1))
                for p, t in zip(predictions, tokens_out)]


class Lazy(Metric):
    name = "lazy"


@pytest.fixture
def plugin(monkeypatch):
    monkeypatch.setitem(metrics.REGISTRY.targets(), "shouting", Shouting)
    monkeypatch.setitem(metrics.REGISTRY.targets(), "lazy", Lazy)


def test_derived_sets_are_what_the_builtins_declare():
    assert metrics.ALL == set(metrics.BUILTIN)
    rouge_names = {f"rouge{k}{s}" for k in ("1", "2", "L", "Lsum") for s in ("", "_p", "_r")}
    assert metrics.NEEDS_REFERENCE == {"exact", "contains", "bleu", "chrf", "chrfpp", "corpus_bleu", "corpus_chrf",
                                         "semsim"} | rouge_names
    assert metrics.UNITS == {"length": "chars", "latency_ms": "ms", "tokens_out": "tokens"}
    assert metrics.LOWER_IS_BETTER == {"latency_ms"}
    assert metrics.HIGHER_IS_BETTER == metrics.NEEDS_REFERENCE | {"regex", "json_valid", "check", "judge", "retrieval_hit",
                                                                  "retrieval_mrr", "retrieval_recall", "grounded"}
    assert "judge:correctness" in metrics.HIGHER_IS_BETTER and "judge:correctness" not in metrics.UNIT_INTERVAL
    assert metrics.UNIT_INTERVAL == metrics.ALL - set(metrics.UNITS) - {"judge"}  # a judge is on its rubric's scale
    with pytest.raises(AttributeError):
        metrics.NO_SUCH_SET  # noqa: B018


def test_batch_scores_equal_each_computation_row_by_row():
    ms = parse_metrics(None)
    pairs = pairs_en(40)
    preds = [p for p, _ in pairs] + ["no reference here", ""]
    refs = [[r] for _, r in pairs] + [[], []]
    latency = [float(i) for i in range(len(preds))]
    tokens = [None if i % 3 else i for i in range(len(preds))]
    got = ms.score_batch(preds, refs, "en", latency_ms=latency, tokens_out=tokens)
    for i, (p, r) in enumerate(zip(preds, refs)):
        want = {"length": text.length(p), "latency_ms": latency[i]}
        if tokens[i] is not None:
            want["tokens_out"] = float(tokens[i])
        if r:
            want.update(exact=text.exact(p, r), contains=text.contains(p, r), bleu=overlap.bleu(p, r, "en"),
                        chrf=overlap.chrf(p, r), **rouge.rouge(p, r))
        assert got[i] == want, i
    assert metrics.score(preds[0], refs[0], ms, "en", latency_ms=0.0, tokens_out=0) == got[0]


def test_a_plugin_metric_with_an_option(plugin):
    ms = parse_metrics(["exact,shouting=0.3", "length"])
    assert ms.names == ("exact", "shouting", "length")
    assert ms.specs() == [{"name": "exact"}, {"name": "shouting", "threshold": 0.3}, {"name": "length"}]
    got = ms.score_batch(["HELLO there", "hello"], [["x"], []], "en", tokens_out=[2, None])
    assert got == [{"exact": 0.0, "shouting": 1.0, "length": 11.0}, {"length": 5.0}]
    assert ms.signatures("en")["shouting"] == "shouting|threshold:0.3|scale:0-1"
    assert "shouting" in metrics.LOWER_IS_BETTER and "shouting" in metrics.UNIT_INTERVAL
    with pytest.raises(UserError, match="bad value 'high' for option 'threshold' of metric 'shouting'"):
        parse_metrics("shouting=high")
    with pytest.raises(UserError, match="metric 'exact' takes no option"):
        parse_metrics("exact=1")
    with pytest.raises(UserError, match="does not implement score_batch"):
        parse_metrics("lazy")


def test_unknown_and_incomplete_metrics_are_user_errors():
    with pytest.raises(UserError, match=r"unknown metric 'blue' \(known: .*bleu.*\)"):
        parse_metrics("bleu,blue")
    with pytest.raises(UserError, match="metric 'regex' needs option 'pattern'"):
        parse_metrics("regex")
    with pytest.raises(UserError, match="unknown option 'flags' for metric 'regex'"):
        metric_set([{"name": "regex", "pattern": "a", "flags": "i"}])


def test_a_stored_set_is_json_and_reads_back_equal(plugin):
    ms = parse_metrics(["bleu,rouge", r"regex=^\d+,\d+$", "shouting=0.9"])
    stored = ms.to_json()
    assert json.loads(stored)[4] == {"name": "regex", "pattern": r"^\d+,\d+$"}
    assert metric_set(stored) == ms and metric_set(json.loads(stored)) == ms
    for bad in ("bleu,chrf", '{"name": "bleu"}', '[{"metric": "bleu"}]'):
        with pytest.raises(UserError, match="not a stored metric set"):
            metric_set(bad)
    with pytest.raises(UserError, match="run r1: metrics: not a stored metric set"):
        metric_set('[{"metric": "bleu"}]', "run r1: metrics")


def test_worker_processes_score_a_plugin_metric_like_this_process(plugin):
    """Workers get the metric set pickled: a registered class is imported there by its module."""
    from workbench.metrics.batch import BatchScorer, score_items

    ms = parse_metrics("bleu,shouting=0.2,tokens_out")
    items = [(f"HELLO number {i}", [f"hello number {i % 7}"], 1.0, i if i % 2 else None) for i in range(90)]
    with BatchScorer(ms, "en", pool=True, workers=1) as pool:
        got = pool.score_now(items)
        assert pool.uses_pool  # the worker did not fail over to this process
    assert got == score_items(items, ms, "en")
    assert got[1]["shouting"] == 1.0 and got[1]["tokens_out"] == 1.0 and "tokens_out" not in got[2]


def test_asking_about_a_builtin_reads_no_installed_package():
    """Membership of a built-in loads just its class: an eval with built-ins never scans the dist-infos."""
    code = ("from workbench import metrics, plugins, providers; "
            "ms = metrics.parse_metrics(None); providers.provider_class('openai'); "
            "assert 'latency_ms' in metrics.LOWER_IS_BETTER and 'bleu' in metrics.UNIT_INTERVAL; "
            "print(plugins._installed.cache_info().currsize)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "0"


def test_scoring_a_file_uses_every_core(monkeypatch):
    """`workbench score` waits for its scores: a worker per core (on 2 cores, 2 — a run keeps one core for its
    requests and gets 1)."""
    from workbench.metrics import batch

    monkeypatch.setattr(batch.os, "cpu_count", lambda: 2)
    assert batch.default_workers() == 1 and batch.default_workers(caller_waits=True) == 2
    monkeypatch.setattr(batch.os, "cpu_count", lambda: 64)
    assert batch.default_workers() == 2 and batch.default_workers(caller_waits=True) == batch.MAX_WORKERS

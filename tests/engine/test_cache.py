"""The response cache: on by default at temperature 0, keyed by provider, model, parameters and exact
messages, bypassed by --no-cache and by repeats; cached outputs are marked and keep their scores."""

from __future__ import annotations

import json
import random

from tests.conftest import DATA_EN, ROOT
from tests.openai_server import OpenAIServer
from workbench import metrics, store
from workbench.authoring.datasets import load_dataset
from workbench.engine import runner
from workbench.metrics import parse_metrics
from workbench.providers import make_provider

FEW_SHOT = ROOT / "prompts" / "support_few_shot.yaml"


def eval_json(cli, server, *extra):
    r = cli("eval", FEW_SHOT, "--data", DATA_EN, "--model", f"openai:test@{server.base_url}", "--limit", "15",
            "--json", *extra)
    assert r.code == 0, r.err
    return r.json()["runs"][0]


def rows(db, run_id):
    with store.connect(db) as con:
        out = store.load_outputs(con, run_id)
        sc = store.load_scores(con, run_id)
    scores = {}
    for rec in sc.itertuples():
        scores.setdefault(rec.row_idx, {})[rec.metric] = rec.value
    return out, scores


def test_second_run_at_temperature_0_comes_from_the_cache(cli, openai_server, db):
    first = eval_json(cli, openai_server)
    assert first["cached"] == 0 and len(openai_server.requests) == 15
    second = eval_json(cli, openai_server)
    assert len(openai_server.requests) == 15  # not one more request
    assert second["cached"] == 15 and second["outputs"] == 15 and second["status"] == "done"
    out1, sc1 = rows(db, first["run_id"])
    out2, sc2 = rows(db, second["run_id"])
    assert list(out2["text"]) == list(out1["text"]) and out2["cached"].all() and not out1["cached"].any()
    assert list(out2["messages"]) == list(out1["messages"])
    assert sc2 == sc1  # scores copied with the answers, not recomputed differently
    shown = cli("show", second["run_id"], "--json").json()
    assert shown["cached"] == 15


def test_no_cache_bypasses_it(cli, openai_server, db):
    eval_json(cli, openai_server)
    again = eval_json(cli, openai_server, "--no-cache")
    assert again["cached"] == 0 and len(openai_server.requests) == 30


def test_other_temperature_parameters_or_model_miss(cli, openai_server, db):
    eval_json(cli, openai_server)
    warm = eval_json(cli, openai_server, "--param", "temperature=0.7")
    assert warm["cached"] == 0 and len(openai_server.requests) == 30
    again = eval_json(cli, openai_server, "--param", "temperature=0.7")  # not cached at temperature > 0
    assert again["cached"] == 0 and len(openai_server.requests) == 45
    shorter = eval_json(cli, openai_server, "--param", "max_tokens=5")  # other params: other key
    assert shorter["cached"] == 0 and len(openai_server.requests) == 60
    r = cli("eval", FEW_SHOT, "--data", DATA_EN, "--model", f"openai:other@{openai_server.base_url}", "--limit", "15",
            "--json")
    assert r.json()["runs"][0]["cached"] == 0 and len(openai_server.requests) == 75


def test_cache_key_covers_provider_params_and_exact_messages(openai_server):
    a = make_provider(f"openai:m@{openai_server.base_url}")
    b = make_provider(f"openai:n@{openai_server.base_url}")
    msgs = json.dumps([{"role": "user", "content": "hi"}])
    base = runner.cache_key(a, {"temperature": 0}, msgs)
    assert base == runner.cache_key(a, {"temperature": 0}, msgs)
    assert base != runner.cache_key(b, {"temperature": 0}, msgs)
    assert base != runner.cache_key(a, {"temperature": 0, "max_tokens": 5}, msgs)
    assert base != runner.cache_key(a, {"temperature": 0}, json.dumps([{"role": "user", "content": "hi "}]))
    assert "sk-" not in json.dumps(a.identity())


def test_messages_json_is_json_dumps():
    from workbench.engine.results import MessagesJSON

    system = {"role": "system", "content": 'Be "brief".\n\tThanks \u2014 谢谢 \\ /'}
    conversations = [[system, {"role": "user", "content": f"q{i} 你好"}] for i in range(3)]
    conversations += [[dict(system), {"role": "user", "content": [{"type": "text", "text": "parts"}]}],
                      [{"role": "user", "content": "x", "name": "extra key"}], []]
    encode = MessagesJSON()
    for messages in conversations * 2:  # the second pass comes from the memo
        assert encode(messages) == json.dumps(messages, ensure_ascii=False)


def test_cached_answers_are_rescored_against_other_references(cli, openai_server, db, tmp_path):
    first = eval_json(cli, openai_server)
    other = tmp_path / "other_refs.jsonl"
    lines = DATA_EN.read_text(encoding="utf-8").splitlines()[:15]
    with open(other, "w", encoding="utf-8") as f:
        for line in lines:
            row = json.loads(line)
            row["reference"] = "Please contact our support team by email."
            f.write(json.dumps(row) + "\n")
    r = cli("eval", FEW_SHOT, "--data", other, "--model", f"openai:test@{openai_server.base_url}", "--json")
    run = r.json()["runs"][0]
    assert run["cached"] == 15 and len(openai_server.requests) == 15
    out, sc = rows(db, run["run_id"])
    ds = load_dataset(other)
    for rec in out.itertuples():
        want = metrics.score(rec.text, ds.references(rec.row_idx), parse_metrics(None), "en",
                             latency_ms=rec.latency_ms, tokens_out=rec.tokens_out)
        assert sc[rec.row_idx] == want
    assert sc != rows(db, first["run_id"])[1]
    # and the cache now holds those scores too: a third run copies them
    r = cli("eval", FEW_SHOT, "--data", other, "--model", f"openai:test@{openai_server.base_url}", "--json")
    assert rows(db, r.json()["runs"][0]["run_id"])[1] == sc


def test_repeat_bypasses_the_cache_and_show_reports_stability(cli, db):
    rng = random.Random(7)

    def reply(messages):
        last = messages[-1]["content"]
        if "password" in last.lower():  # these rows answer differently from one repeat to the next
            return rng.choice(["Use the reset link.", "Tap Forgot password and follow the email link."])
        return "Our team answers within one business day."

    with OpenAIServer(reply=reply) as server:
        eval_json(cli, server)  # fills the cache
        r = cli("eval", FEW_SHOT, "--data", DATA_EN, "--model", f"openai:test@{server.base_url}", "--limit", "15",
                "--repeat", "4", "--json")
        assert r.code == 0, r.err
        assert len(server.requests) == 15 + 60
    run = r.json()["runs"][0]
    assert run["outputs"] == 60 and run["cached"] == 0 and run["repeats"] == 4
    st = run["stability"]
    assert st["rows"] == 15 and 0 < st["changed_rows"] < 15
    assert st["changed_share"] == st["changed_rows"] / 15
    assert st["metrics"]["length"]["mean_row_variance"] > 0 and st["metrics"]["length"]["rows"] == 15
    shown = cli("show", run["run_id"])
    assert shown.code == 0 and "repeats 4" in shown.out and "changed" in shown.out and "variance" in shown.out

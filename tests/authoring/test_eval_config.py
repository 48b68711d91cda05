"""Eval files: settings in one YAML file, paths relative to it, flags overriding it, bad files named."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.conftest import DATA_EN, ROOT
from tests.openai_server import OpenAIServer
from workbench.authoring.eval_config import load_eval_config
from workbench.errors import UserError


def test_an_eval_file_with_overrides(cli, openai_server, tmp_path, db):
    folder = tmp_path / "ci"
    folder.mkdir()
    (folder / "schema.json").write_text(json.dumps({"type": "string"}))
    (folder / "eval.yaml").write_text(f"""
prompts: {ROOT / 'prompts' / 'support_zero_shot.yaml'}
data: {DATA_EN}
models: [openai:m@{openai_server.base_url}]
metrics: exact,bleu
checks: ["not-contains:zzz", "is-json:schema.json"]
gates: ["exact>=0.9"]
limit: 3
params: {{temperature: 0, max_tokens: 50}}
junit: out/report.xml
""")
    (folder / "out").mkdir()
    r = cli("eval", "--config", folder / "eval.yaml", "--db", db, "--json")
    assert r.code == 0, r.err  # is-json fails on every plain answer (the JUnit file says so); the gate passes
    run = r.json()["runs"][0]
    assert run["outputs"] == 3 and set(run["metrics"]) == {"exact", "bleu", "not-contains:zzz", f"is-json:{folder / 'schema.json'}"}
    assert r.json()["gates"][0]["passed"] and openai_server.requests[0]["max_tokens"] == 50
    root = ET.parse(folder / "out" / "report.xml").getroot()
    assert root.get("failures") == "3"  # the three rows failing is-json
    # flags override the file: limit, the gate, params, no JUnit path change
    r = cli("eval", "--config", folder / "eval.yaml", "--db", db, "--json", "--limit", "2", "--gate", "exact>=0.99",
            "--check", "max-length:1000", "--param", "max_tokens=200", "--metrics", "exact")
    assert r.code == 0, r.err
    run = r.json()["runs"][0]
    assert run["outputs"] == 2 and set(run["metrics"]) == {"exact", "max-length:1000"}
    assert [g["gate"] for g in r.json()["gates"]] == ["exact>=0.99"]
    assert openai_server.requests[-1]["max_tokens"] == 200 and openai_server.requests[-1]["temperature"] == 0


@pytest.mark.parametrize("text,message", [
    ("prompts: [a.yaml]\nmodel: openai:x\n", "unknown key 'model'"),
    ("limit: ten\n", "`limit` must be a whole number"),
    ("gate_vs: [{run: x}]\n", "gate_vs"),
    ("- a\n- b\n", "is a mapping"),
    ("a: &x [1]\nb: *x\nc: [\n", "invalid YAML"),
    ("a: &a [x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [" + ", ".join(["*b"] * 10) + "]\n"
     "d: &d [" + ", ".join(["*c"] * 10) + "]\ne: &e [" + ", ".join(["*d"] * 10) + "]\nf: [" + ", ".join(["*e"] * 10)
     + "]\n", "aliases expand"),
])
def test_bad_eval_files_are_named(tmp_path, text, message):
    path = tmp_path / "eval.yaml"
    path.write_text(text)
    with pytest.raises(UserError, match=message) as e:
        load_eval_config(path)
    assert str(path) in e.value.shown(lambda s: s)


def test_the_ci_example_runs_against_a_loopback_server(cli, tmp_path, db):
    """examples/ci/eval.yaml as CI would run it, its model pointed at a local server that answers perfectly."""
    from tests.openai_server import answers_from_jsonl

    config = load_eval_config(ROOT / "examples" / "ci" / "eval.yaml")
    assert Path(config["data"]).is_file() and all(Path(p).is_file() for p in config["prompts"])
    with OpenAIServer(reply=answers_from_jsonl(str(DATA_EN))) as server:
        r = cli("eval", "--config", ROOT / "examples" / "ci" / "eval.yaml", "--db", db, "--limit", "5",
                "--model", f"openai:gpt-4o-mini@{server.base_url}", "--junit", tmp_path / "r.xml")
    assert r.code == 0, r.out + r.err
    assert "all 6 gates passed" in r.out  # 3 gates x 2 prompts and (tmp_path / "r.xml").is_file()
    workflow = (ROOT / "examples" / "ci" / "github-workflow.yml").read_text()
    assert "pull_request" in workflow and "workbench eval --config examples/ci/eval.yaml" in workflow

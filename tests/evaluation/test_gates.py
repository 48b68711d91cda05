"""Gates and JUnit through the CLI against the loopback OpenAI server: each gate kind passing and failing,
exit code 3 with a JUnit file read back by the standard library, a paired gate against a baseline run."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from tests.openai_server import OpenAIServer
from workbench.errors import UserError
from workbench.evaluation.gates import parse_gate

PROMPT = """name: support
messages:
  - role: user
    content: '{{ question }}'
params:
  temperature: 0
"""
ROWS = [  # question, reference, what the server answers
    ("refund?", "You get a refund in 5 days.", "You get a refund in 5 days."),
    ("hours?", "We open at 9.", "We open at 9."),
    ("json please", '{"status": "ok"}', '{"status": "ok"}'),
    ("where is my parcel?", "It ships today.", "Sorry, I cannot help."),
]


@pytest.fixture
def setup(tmp_path):
    prompt = tmp_path / "support.yaml"
    prompt.write_text(PROMPT)
    data = tmp_path / "data.jsonl"
    data.write_text("\n".join(json.dumps({"question": q, "reference": r}) for q, r, _ in ROWS))
    answers = {q: a for q, _, a in ROWS}
    with OpenAIServer(reply=lambda messages: answers[messages[-1]["content"]]) as server:
        yield prompt, data, f"openai:m@{server.base_url}"


def _eval(cli, setup, db, *extra):
    prompt, data, model = setup
    return cli("eval", prompt, "--data", data, "--model", model, "--db", db, "--metrics", "exact,bleu,latency_ms",
               *extra)


@pytest.mark.parametrize("gate,passes", [
    ("exact>=0.75", True), ("exact>=0.8", False),
    ("bleu.mean>=0.7", True), ("bleu.mean>=0.8", False),
    ("bleu.ci_low>=0.03", True), ("bleu.ci_low>=0.1", False),  # 4 rows: a wide interval
    ("latency_ms.p95<=60000", True), ("latency_ms.p95<=0", False),
    ("exact.n==4", True), ("exact.sum>3", False),
    ("pass_rate>=0.25", True), ("pass_rate>0.25", False),  # only the first row has "refund"
    ("contains:refund.mean>=0.25", True), ("contains:refund.mean>0.25", False),
])
def test_each_gate_kind_passes_and_fails(cli, setup, db, gate, passes):
    r = _eval(cli, setup, db, "--check", "not-contains:Sorry", "--check", "contains:refund", "--gate", gate)
    assert r.code == (0 if passes else 3), r.err
    assert f"{'PASS' if passes else 'FAIL'}  " in r.out and f"{gate}: " in r.out


def test_pass_rate_counts_every_check_and_row_check(cli, setup, db, tmp_path):
    prompt, data, model = setup
    rows = [json.loads(line) for line in data.read_text().splitlines()]
    rows[1]["__expected"] = "contains: 9"
    rows[2]["checks"] = ["json-path:$.status=ok", "is-json"]
    rows[0]["checks"] = ["max-length:5"]  # fails
    data.write_text("\n".join(json.dumps(r) for r in rows))
    r = _eval(cli, setup, db, "--check", "not-contains:Sorry", "--gate", "pass_rate>=0.5", "--gate",
              "expected.mean>=0.67", "--json")
    assert r.code == 3
    gates = {g["gate"]: g for g in r.json()["gates"]}
    assert gates["pass_rate>=0.5"]["value"] == pytest.approx(0.5) and gates["pass_rate>=0.5"]["passed"]
    assert gates["expected.mean>=0.67"]["value"] == pytest.approx(2 / 3) and not gates["expected.mean>=0.67"]["passed"]


def test_exit_3_writes_a_junit_file(cli, setup, db, tmp_path):
    junit = tmp_path / "report.xml"
    r = _eval(cli, setup, db, "--check", "not-contains:Sorry", "--gate", "exact>=0.5", "--gate", "exact>=0.9",
              "--junit", junit)
    assert r.code == 3, r.err
    assert "1 of 2 gates failed" in r.out
    root = ET.parse(junit).getroot()
    assert root.tag == "testsuites" and root.get("tests") == "3" and root.get("failures") == "2"
    suite = root.find("testsuite")
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == ["exact>=0.5", "exact>=0.9", "row 3"]
    assert cases[0].find("failure") is None
    assert cases[1].find("failure").get("message") == "exact>=0.9: 0.75"
    row = cases[2].find("failure")
    assert row.get("message") == "failed: not-contains:Sorry"
    assert "input:\nwhere is my parcel?" in row.text and "output:\nSorry, I cannot help." in row.text


def test_all_gates_pass_exit_0_and_a_valid_junit(cli, setup, db, tmp_path):
    junit = tmp_path / "ok.xml"
    r = _eval(cli, setup, db, "--gate", "exact>=0.5", "--junit", junit)
    assert r.code == 0, r.err
    assert "all 1 gates passed" in r.out
    root = ET.parse(junit).getroot()
    assert root.get("failures") == "0" and len(root.iter("testcase").__next__().findall("failure")) == 0


def test_gate_vs_a_baseline_run_is_paired(cli, setup, db, tmp_path):
    r = _eval(cli, setup, db, "--json")
    baseline = r.json()["runs"][0]["run_id"]
    prompt, data, model = setup
    worse = tmp_path / "worse.yaml"  # the model echoes nothing known: every answer becomes the fallback
    worse.write_text(PROMPT.replace("'{{ question }}'", "'where is my parcel?'").replace("support", "worse"))
    r = cli("eval", worse, "--data", data, "--model", model, "--db", db, "--metrics", "exact",
            "--gate-vs", baseline, "exact>=-0.01", "--gate-vs", baseline, "exact.ci_high>=-1", "--json")
    assert r.code == 3, r.err
    first, second = r.json()["gates"]
    assert first["value"] == pytest.approx(-0.75) and not first["passed"] and "paired over 4 rows" in first["note"]
    assert second["passed"]
    r = cli("eval", prompt, "--data", data, "--model", model, "--db", db, "--metrics", "exact", "--no-cache",
            "--gate-vs", baseline, "exact>=0")
    assert r.code == 0, r.err


def test_a_gate_on_a_metric_the_run_lacks_fails_and_says_so(cli, setup, db):
    r = _eval(cli, setup, db, "--gate", "rougeL>=0.1")
    assert r.code == 3 and "no values of 'rougeL'" in r.out


@pytest.mark.parametrize("text", ["bleu", "bleu>=high", ">=0.3", "bleu=>0.2"])
def test_unreadable_gates_are_bad_input(cli, setup, db, text):
    with pytest.raises(UserError, match="cannot read gate"):
        parse_gate(text)
    r = _eval(cli, setup, db, "--gate", text)
    assert r.code == 2 and "--gate" in r.err


def test_gate_parts():
    g = parse_gate("latency_ms.p95<=2000")
    assert (g.metric, g.stat, g.op, g.threshold) == ("latency_ms", "p95", "<=", 2000)
    g = parse_gate("contains:a.b.mean > .5")
    assert (g.metric, g.stat, g.op, g.threshold) == ("contains:a.b", "mean", ">", 0.5)


def test_checks_and_gates_from_python(setup, db):
    import workbench

    prompt, data, model = setup
    ev = workbench.evaluate(prompt, data, model, metrics="exact", db=db, checks=["not-contains:Sorry"])
    assert list(ev.summary().columns)[-1] == "not-contains:Sorry"
    low, high = ev.gates(["pass_rate>=0.75", "not-contains:Sorry.mean>0.75"])
    assert (low.passed, low.value, high.passed) == (True, 0.75, False)
    with pytest.raises(UserError, match="cannot read gate"):
        ev.gates("pass_rate")
    with pytest.raises(UserError, match="unknown check"):
        workbench.evaluate(prompt, data, model, db=db, checks=["contain:x"])
    rows = [json.loads(line) for line in data.read_text().splitlines()]
    rows[2]["checks"] = ["max-len:3"]
    data.write_text("\n".join(json.dumps(r) for r in rows))
    with pytest.raises(UserError, match="unknown check 'max-len'") as e:  # before any request
        workbench.evaluate(prompt, data, model, db=db)
    assert "data.jsonl:3" in e.value.shown(lambda s: s)


def test_a_csv_dataset_with_expected_columns(cli, setup, db, tmp_path):
    prompt, _, model = setup
    data = tmp_path / "data.csv"
    data.write_text("question,reference,__expected,__expected2\n"
                    "refund?,x,contains: refund,max-length:100\n"
                    "hours?,x,We open at 9.,\n"
                    "where is my parcel?,x,icontains: SHIPS,\n")
    r = cli("eval", prompt, "--data", data, "--model", model, "--db", db, "--metrics", "exact",
            "--gate", "expected>=0.66", "--junit", tmp_path / "j.xml", "--json")
    assert r.code == 0, r.err
    assert r.json()["gates"][0]["value"] == pytest.approx(2 / 3)
    failing = [c for c in ET.parse(tmp_path / "j.xml").getroot().iter("testcase") if c.get("name") == "row 2"]
    assert failing[0].find("failure").get("message") == "failed: icontains:SHIPS"


def test_row_checks_found_on_the_few_rows_that_have_them(tmp_path):
    """Rows are read for checks only when some row has a check column: a check on one row of many is still found,
    and a bad one is named by its row."""
    from workbench.authoring.datasets import load_dataset
    from workbench.evaluation.row_checks import dataset_checks

    rows = [{"question": f"q{i}", "reference": "r"} for i in range(50)]
    rows[7]["__expected2"] = "contains:refund"
    rows[9]["checks"] = ["max-length:10"]
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    found = dataset_checks(load_dataset(path))
    assert sorted(found) == [7, 9] and found[7][0]("a refund") and not found[9][0]("x" * 11)
    rows[30]["checks"] = "contains:x"  # not a list
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    with pytest.raises(UserError) as e:
        dataset_checks(load_dataset(path))
    assert ":31" in str(e.value.where)

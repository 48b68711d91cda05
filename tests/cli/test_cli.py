"""The CLI contract: eval -> runs/show/compare/export, score, and exit code 2 with one line for bad input."""

import json

import duckdb
import pandas as pd
import pytest

from tests.conftest import DATA_EN, DATA_ZH, run_process

FEW_SHOT = "prompts/support_few_shot.yaml"
ZERO_SHOT = "prompts/support_zero_shot.yaml"


def model(server):
    return f"openai:test@{server.base_url}"


def count_runs(db):
    with duckdb.connect(db) as con:
        try:
            return con.execute("SELECT count(*) FROM runs").fetchone()[0]
        except duckdb.CatalogException:
            return 0


def test_eval_show_compare_export(cli, openai_server, db, tmp_path):
    r = cli("eval", FEW_SHOT, ZERO_SHOT, "--data", DATA_EN, "--model", model(openai_server), "--limit", "20",
            "--json", "--db", db)
    assert r.code == 0, r.err
    summary = r.json()
    assert [run["prompt"] for run in summary["runs"]] == ["support_few_shot", "support_zero_shot"]
    run_a, run_b = (run["run_id"] for run in summary["runs"])
    assert summary["runs"][0]["outputs"] == 20 and summary["runs"][0]["errors"] == 0
    # the server answers known questions with the reference: a perfect model
    assert summary["runs"][0]["metrics"]["bleu"]["mean"] == pytest.approx(1.0)
    assert "tok:13a" in summary["runs"][0]["signatures"]["bleu"]
    # requests went through the official client, with the few-shot turns rendered
    assert len(openai_server.requests) == 40
    assert openai_server.headers_seen[0]["user-agent"].startswith("AsyncOpenAI/Python")
    few_shot = [r for r in openai_server.requests if len(r["messages"]) > 2]
    assert len(few_shot) == 20
    assert [m["role"] for m in few_shot[0]["messages"]][:3] == ["system", "user", "assistant"]

    with duckdb.connect(db) as con:
        assert con.execute("SELECT count(*) FROM outputs").fetchone()[0] == 40
        assert con.execute("SELECT count(DISTINCT metric) FROM scores").fetchone()[0] == 10
        assert con.execute("SELECT count(*) FROM metric_signatures WHERE run_id = ?", [run_a]).fetchone()[0] == 10

    r = cli("runs", "--db", db, "--json")
    assert {x["id"] for x in r.json()} == {run_a, run_b}
    r = cli("runs", "--db", db)
    assert run_a in r.out and "support_few_shot" in r.out

    r = cli("show", run_a[:6], "--db", db)
    assert r.code == 0 and "95% CI" in r.out and "p95" in r.out and "rougeL" in r.out
    shown = cli("show", run_a, "--db", db, "--json").json()
    assert shown["metrics"]["exact"]["n"] == 20 and shown["latency_p95_ms"] > 0

    r = cli("compare", run_a, run_b, "--db", db, "--json")
    bleu = next(m for m in r.json()["metrics"] if m["metric"] == "bleu")
    assert bleu["n"] == 20 and bleu["wins"] + bleu["ties"] + bleu["losses"] == 20
    assert cli("compare", run_a, run_b, "--db", db).out.count("\n") > 5

    for fmt in ("csv", "jsonl", "parquet"):
        out = tmp_path / f"x.{fmt}"
        assert cli("export", run_a, "--format", fmt, "-o", out, "--db", db).code == 0
        df = {"csv": pd.read_csv, "jsonl": lambda p: pd.read_json(p, lines=True), "parquet": pd.read_parquet}[fmt](out)
        assert len(df) == 20
        assert {"input", "output", "error", "reference", "score_bleu", "score_rougeL"} <= set(df.columns)
        assert json.loads(df["input"][0])[-1]["role"] == "user"


def test_eval_chinese_uses_zh_tokenizer(cli, openai_server, db):
    r = cli("eval", "prompts/support_zh_zero_shot.yaml", "--data", DATA_ZH, "--model", model(openai_server),
            "--limit", "5", "--json", "--db", db)
    assert r.code == 0, r.err
    run = r.json()["runs"][0]
    assert "tok:zh" in run["signatures"]["bleu"] and run["metrics"]["rouge1"]["mean"] == pytest.approx(1.0)


def test_default_db_from_env(cli, openai_server, isolated):
    assert cli("eval", ZERO_SHOT, "--data", DATA_EN, "--model", model(openai_server), "--limit", "2").code == 0
    assert (isolated / "wb.duckdb").exists()


def test_score_file_as_json_lines(cli, tmp_path):
    path = tmp_path / "preds.jsonl"
    rows = [{"prediction": "the cat sat on the mat", "reference": "the cat sat on a mat"},
            {"prediction": "我的订单到了", "reference": "我的订单到哪了"}]
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    r = cli("score", path, "--json", "--lang", "zh")
    assert r.code == 0, r.err
    lines = [json.loads(x) for x in r.out.splitlines()]
    assert len(lines) == 2
    for key in ("bleu", "chrf", "rouge1", "rouge2", "rougeL"):
        assert all(isinstance(x[key], float) for x in lines)
    assert 0 < lines[1]["rouge1"] < 1
    r = cli("score", path)
    assert r.code == 0 and "bleu" in r.out and "tok:" in r.err


def test_score_file_equals_scoring_row_by_row(cli, tmp_path):
    """Scored as the runner scores (chrF counted for the whole file at once): the values of metrics.score."""
    from workbench import metrics

    rows = [json.loads(line) for line in DATA_EN.read_text(encoding="utf-8").splitlines()][:40]
    path = tmp_path / "preds.jsonl"
    path.write_text("\n".join(json.dumps({"prediction": r["question"], "reference": r["reference"]}) for r in rows),
                    encoding="utf-8")
    r = cli("score", path, "--json")
    assert r.code == 0, r.err
    got = [json.loads(x) for x in r.out.splitlines()]
    ms = metrics.parse_metrics(["exact,contains,bleu,chrf,rouge1,rouge2,rougeL,length"])
    assert [{k: v for k, v in g.items() if k != "row"} for g in got] == [
        metrics.score(x["question"], [x["reference"]], ms, "en") for x in rows]


def write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


BAD_PROMPT = "name: bad\nmessages:\n  - role: system\n    content: hi\n  - role: user\n    content: |-\n      line one\n      {BODY}\n"


@pytest.mark.parametrize("body, expect", [
    ("{{ question }", "message 2, line 2"),
    ("{{ no_such_field }}", "no_such_field"),
    ("{{ question.__class__.__mro__ }}", "message 2, line 2"),
    ("{{ 'a' * 50000000 }}", "message 2, line 2"),
])
def test_bad_template_exit_2_and_no_run(cli, openai_server, db, tmp_path, body, expect):
    prompt = write(tmp_path / "bad.yaml", BAD_PROMPT.replace("{BODY}", body))
    r = cli("eval", prompt, "--data", DATA_EN, "--model", model(openai_server), "--db", db, "--limit", "3")
    assert r.code == 2
    assert len(r.err.strip().splitlines()) == 1 and str(prompt) in r.err and expect in r.err, r.err
    assert count_runs(db) == 0 and not openai_server.requests


def test_undefined_attribute_names_row(cli, openai_server, db, tmp_path):
    prompt = write(tmp_path / "bad.yaml", BAD_PROMPT.replace("{BODY}", "{{ question.text.upper() }}"))
    r = cli("eval", prompt, "--data", DATA_EN, "--model", model(openai_server), "--db", db)
    assert r.code == 2 and "line 2" in r.err and "support_en.jsonl:1" in r.err
    assert count_runs(db) == 0


@pytest.mark.parametrize("name, content, encoding, expect", [
    ("broken.jsonl", "\n".join(['{"question": "q", "reference": "r"}'] * 36 + ['{"question": oops'] + ['{"question": "q", "reference": "r"}'] * 5), "utf-8", "broken.jsonl:37"),
    ("cols.csv", "prompt,reference\nhi,hello\n", "utf-8", "'question'"),
    ("empty.jsonl", "", "utf-8", "empty"),
    ("empty.csv", "", "utf-8", "empty"),
])
def test_bad_dataset_exit_2_and_no_run(cli, openai_server, db, tmp_path, name, content, encoding, expect):
    data = write(tmp_path / name, content, encoding)
    r = cli("eval", ZERO_SHOT, "--data", data, "--model", model(openai_server), "--db", db)
    assert r.code == 2
    assert len(r.err.strip().splitlines()) == 1 and name in r.err and expect in r.err, r.err
    assert count_runs(db) == 0 and not openai_server.requests


def test_gbk_csv_runs_with_chinese_intact(cli, openai_server, db, tmp_path):
    data = write(tmp_path / "gbk.csv", "question,reference\n我的订单到哪了？,请在“我的订单”中查看物流。\n", "gbk")
    r = cli("eval", "prompts/support_zh_zero_shot.yaml", "--data", data, "--model", model(openai_server), "--db", db,
            "--json")
    assert r.code == 0, r.err
    assert openai_server.requests[0]["messages"][-1]["content"] == "我的订单到哪了？"


@pytest.mark.parametrize("args, expect", [
    (["--model", "nosuch:x"], "unknown model spec"),
    (["--model", "openai:gpt-4o-mini"], "OPENAI_API_KEY"),
    (["--model", "openai:x@http://127.0.0.1:9/v1", "--metrics", "blue"], "unknown metric"),
    (["--model", "openai:x@http://127.0.0.1:9/v1", "--limit", "0"], "--limit"),
])
def test_bad_options_exit_2(cli, db, args, expect):
    r = cli("eval", ZERO_SHOT, "--data", DATA_EN, *args, "--db", db)
    assert r.code == 2 and expect in r.err and count_runs(db) == 0


@pytest.mark.parametrize("args, expect", [
    (["--model", "openai:other@http://127.0.0.1:9/v1"], "--model cannot be changed"),
    (["--history", "own"], "--history cannot be changed"),
    (["--repeat", "2"], "--repeat cannot be changed"),
])
def test_resume_refuses_a_changed_setting(cli, openai_server, db, args, expect):
    r = cli("eval", ZERO_SHOT, "--data", DATA_EN, "--model", model(openai_server), "--limit", "2", "--json", "--db", db)
    run_id = r.json()["runs"][0]["run_id"]
    r = cli("eval", "--resume", run_id, *args, "--db", db)
    assert r.code == 2 and expect in r.err, r.err


def test_unknown_run_exit_2(cli, db):
    r = cli("show", "nope", "--db", db)
    assert r.code == 2 and "no run 'nope'" in r.err


def test_user_error_has_no_traceback_as_a_process(tmp_path):
    bad = write(tmp_path / "bad.yaml", BAD_PROMPT.replace("{BODY}", "{% for %}"))
    p = run_process("eval", bad, "--data", DATA_EN, "--model", "openai:x@http://127.0.0.1:9/v1",
                    "--db", tmp_path / "p.duckdb")
    assert p.returncode == 2 and "Traceback" not in p.stderr and len(p.stderr.strip().splitlines()) == 1


def test_api_key_never_stored_or_printed(cli, db, monkeypatch):
    from tests.openai_server import Fault, OpenAIServer

    secret = "sk-test-0123456789abcdefSECRET"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    with OpenAIServer(fault=lambda n, req: Fault(status=500) if n % 2 else None) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)  # the key's home (no other host gets it)
        r = cli("eval", ZERO_SHOT, "--data", DATA_EN, "--model", "openai:test", "--limit", "4",
                "--retries", "0", "--db", db, "--json")
        assert server.headers_seen[0]["authorization"] == f"Bearer {secret}"
    assert r.code == 0 and secret not in r.out + r.err
    run = r.json()["runs"][0]
    assert run["errors"] >= 1 and run["errors_by_kind"].get("server_error")
    with duckdb.connect(db) as con:
        dump = json.dumps(con.execute("SELECT * FROM outputs").fetchall(), default=str)
        dump += json.dumps(con.execute("SELECT * FROM runs").fetchall(), default=str)
    assert secret not in dump
    with open(db, "rb") as f:
        assert secret.encode() not in f.read()


def test_help_imports_nothing_heavy():
    """`workbench --help` must stay instant: no torch, transformers, streamlit, pandas or openai on that path."""
    import subprocess
    import sys

    code = ("import sys, workbench.cli.main as m; m.build_parser(); "
            "print(sorted(k for k in ('torch', 'transformers', 'streamlit', 'pandas', 'openai') if k in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


def test_api_eval_does_not_import_torch(openai_server, tmp_path):
    import subprocess
    import sys

    code = ("import sys; from workbench.cli.main import main; "
            f"rc = main(['eval', {ZERO_SHOT!r}, '--data', {str(DATA_EN)!r}, '--model', 'openai:t@{openai_server.base_url}', "
            f"'--limit', '1', '--json', '--db', {str(tmp_path / 'x.duckdb')!r}]); "
            "print('HEAVY', sorted(k for k in ('torch', 'transformers', 'streamlit') if k in sys.modules)); sys.exit(rc)")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert "HEAVY []" in p.stdout


def test_a_one_row_eval_loads_no_scipy(openai_server, db):
    """Start-up: one row has no interval to compute, so neither the summary nor the prefetch thread imports
    scipy (~0.2 s of a 1-row eval); a bigger eval computes its intervals with it."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    code = ("import sys; from workbench.cli.main import main\n"
            "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
            "print('scipy' in sys.modules, file=sys.stderr)")
    for limit, scipy in (("1", "False"), ("3", "True")):
        r = subprocess.run([sys.executable, "-c", code, "eval", FEW_SHOT, "--data", str(DATA_EN), "--model",
                            model(openai_server), "--limit", limit, "--json", "--db", db],
                           capture_output=True, text=True, cwd=ROOT, timeout=120)
        assert json.loads(r.stdout)["runs"][0]["outputs"] == int(limit), r.stderr
        assert r.stderr.split()[-1] == scipy


def test_eval_in_process_leaves_the_collector_as_it_was(cli, openai_server, db):
    """The CLI freezes what imports made for the run's collections (eval_cmd._imports_frozen); a process that
    calls it (a test, a notebook) gets its garbage collector back afterwards, or every later cycle would leak."""
    import gc

    frozen = gc.get_freeze_count()
    res = cli("eval", "prompts/support_few_shot.yaml", "--data", DATA_EN, "--model", model(openai_server),
              "--limit", "2", "--db", db)
    assert res.code == 0, res.err
    assert gc.get_freeze_count() == frozen

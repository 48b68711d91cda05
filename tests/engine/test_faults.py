"""A loopback server that misbehaves on purpose. Every row ends as an output or a recorded error with
its kind; nothing is lost or duplicated, not even when the eval process is killed with SIGKILL, stopped
with Ctrl-C, or shares its DuckDB file with a process that keeps reading it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import zlib

from tests.conftest import DATA_EN, ROOT, default_sigint
from tests.openai_server import Fault, OpenAIServer
from workbench import store

FEW_SHOT = ROOT / "prompts" / "support_few_shot.yaml"
FAULTS = [Fault(status=429, retry_after=0.05), Fault(status=500), Fault(slow=1.0), Fault(drop=True),
          Fault(garbage=True)]
KIND_OF = ["rate_limit", "server_error", "timeout", "connection", "bad_response"]


def question(req) -> str:
    return next(m["content"] for m in reversed(req["messages"]) if m["role"] == "user")


def bundled_questions(n: int) -> list[str]:
    import json

    return [json.loads(line)["question"] for line in DATA_EN.read_text(encoding="utf-8").splitlines()[:n]]


def check_every_row_once(db: str, run_id: str, n: int):
    with store.connect(db) as con:
        df = store.load_outputs(con, run_id)
    assert len(df) == n, len(df)
    assert not df[["row_idx", "repeat_idx"]].duplicated().any()
    assert sorted(df["row_idx"]) == list(range(n))
    ok = df["error"].isna()
    assert df.loc[ok, "text"].notna().all()
    assert df.loc[~ok, "error_kind"].notna().all() and (df.loc[~ok, "error"].str.len() > 0).all()
    return df


def test_faulty_server_run_completes_and_accounts_for_every_row(cli, db):
    """~20% of first attempts fail in one of five ways; three rows always fail."""
    always = set(bundled_questions(40)[5:40:15])  # rows 5, 20, 35
    attempts: dict[str, int] = {}

    def fault(n, req):
        q = question(req)
        attempts[q] = attempts.get(q, 0) + 1
        if q in always:
            return Fault(status=500, retry_after=0.05)
        h = zlib.crc32(q.encode())
        if attempts[q] == 1 and h % 5 == 0:
            return FAULTS[(h // 5) % len(FAULTS)]
        return None

    with OpenAIServer(fault=fault) as server:
        r = cli("eval", FEW_SHOT, "--data", DATA_EN, "--model", f"openai:test@{server.base_url}", "--limit", "40",
                "--timeout", "0.5", "--retries", "3", "-j", "8", "--json", "--no-cache")
        assert r.code == 0, r.err
    run = r.json()["runs"][0]
    assert run["status"] == "done" and run["outputs"] == 40
    assert run["errors"] == 3 and run["errors_by_kind"] == {"server_error": 3}
    df = check_every_row_once(db, run["run_id"], 40)
    assert set(df.loc[df["error"].notna(), "row_idx"]) == {5, 20, 35}
    faulty_first = [q for q in attempts if q not in always and zlib.crc32(q.encode()) % 5 == 0]
    assert len(faulty_first) >= 4  # the hook really fired, and every such row still got its answer
    assert all(attempts[q] >= 2 for q in faulty_first)
    assert all(attempts[q] == 4 for q in always)  # 1 + --retries 3


def test_each_fault_maps_to_its_error_kind_when_retries_run_out(cli, db, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-never-shown-123")
    qs = bundled_questions(10)

    def fault(n, req):
        return FAULTS[qs.index(question(req)) % len(FAULTS)]

    with OpenAIServer(fault=fault) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)  # the key's home: it is sent, and never shown
        r = cli("eval", FEW_SHOT, "--data", DATA_EN, "--model", "openai:test", "--limit", "10",
                "--timeout", "0.3", "--retries", "0", "--json")
        assert r.code == 0, r.err
    run = r.json()["runs"][0]
    assert run["errors"] == 10 and run["errors_by_kind"] == {k: 2 for k in KIND_OF}
    df = check_every_row_once(db, run["run_id"], 10)
    for rec in df.itertuples():
        assert rec.error_kind == KIND_OF[rec.row_idx % 5]
        assert "sk-test-never-shown-123" not in rec.error
    shown = cli("show", run["run_id"])
    assert shown.code == 0 and "rate_limit 2" in shown.out and "bad_response 2" in shown.out


def test_retry_after_is_honoured(cli, db):
    first = {}

    def fault(n, req):
        q = question(req)
        if q not in first:
            first[q] = n
            return Fault(status=429, retry_after=0.6)
        return None

    with OpenAIServer(fault=fault) as server:
        r = cli("eval", FEW_SHOT, "--data", DATA_EN, "--model", f"openai:test@{server.base_url}", "--limit", "1",
                "--retries", "2", "--json")
        assert r.code == 0 and r.json()["runs"][0]["errors"] == 0, r.err
    (t1, _), (t2, _) = server.arrivals
    assert t2 - t1 >= 0.55


def test_retry_errors_redoes_only_the_failed_rows(cli, db):
    broken = {"on": True}
    bad = set(bundled_questions(12)[::4])  # rows 0, 4, 8

    def fault(n, req):
        return Fault(status=503) if broken["on"] and question(req) in bad else None

    with OpenAIServer(fault=fault) as server:
        spec = f"openai:test@{server.base_url}"
        r = cli("eval", FEW_SHOT, "--data", DATA_EN, "--model", spec, "--limit", "12", "--retries", "0", "--json")
        run_id = r.json()["runs"][0]["run_id"]
        assert r.json()["runs"][0]["errors"] == 3
        broken["on"] = False
        before = len(server.requests)
        r = cli("eval", "--retry-errors", run_id, "--json")
        assert r.code == 0, r.err
        assert sorted(question(q) for q in server.requests[before:]) == sorted(bad)
    run = r.json()["runs"][0]
    assert run["run_id"] == run_id and run["errors"] == 0 and run["outputs"] == 12 and run["status"] == "done"
    check_every_row_once(db, run_id, 12)


def eval_process(db: str, base_url: str, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "workbench", "eval", str(FEW_SHOT), "--data", str(DATA_EN), "--model",
         f"openai:test@{base_url}", "--db", db, "--json", "-j", "4", "--no-cache", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, preexec_fn=default_sigint)


def stored(db: str) -> tuple[list[str], int]:
    """(run ids, outputs stored) as another process sees them; waits if the file is busy."""
    with store.connect(db) as con:
        runs = store.list_runs(con)
    return list(runs["id"]), int(runs["n_outputs"].sum()) if len(runs) else 0


def wait_for_outputs(db: str, proc: subprocess.Popen, at_least: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        if os.path.exists(db) and stored(db)[1] >= at_least:
            return
        time.sleep(0.1)
    raise AssertionError("the eval stored nothing in time")


def test_sigkill_mid_run_then_resume_gives_exactly_n_outputs(cli, db):
    n = 160
    with OpenAIServer(latency=0.05) as server:
        proc = eval_process(db, server.base_url, "--limit", str(n))
        wait_for_outputs(db, proc, 10)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        (run_id,), done = stored(db)
        assert 10 <= done < n
        with store.connect(db) as con:  # killed: nobody marked it, but its process is gone
            assert store.get_run(con, run_id)["status"] == "interrupted"
            assert store.list_runs(con)["status"].tolist() == ["interrupted"]
        shown = cli("show", run_id)
        assert "[interrupted]" in shown.out and f"workbench eval --resume {run_id}" in shown.out
        before = len(server.requests)
        r = cli("eval", "--resume", run_id[:6], "--json", "--no-cache")
        assert r.code == 0, r.err
        # only what was not stored is asked again (what was in flight or unflushed at the kill)
        assert len(server.requests) - before == n - done
    run = r.json()["runs"][0]
    assert run["outputs"] == n and run["errors"] == 0 and run["status"] == "done"
    check_every_row_once(db, run_id, n)
    with store.connect(db) as con:
        assert len(store.load_scores(con, run_id)) == n * 10  # default metrics, every row scored once
    again = cli("eval", "--resume", run_id, "--json")
    assert again.code == 0 and again.json()["runs"][0]["outputs"] == n


def test_resume_refuses_a_run_that_a_live_process_is_still_running(cli, db):
    with OpenAIServer(latency=0.2) as server:  # 160 rows, 4 at a time: the first eval runs for ~8 s
        proc = eval_process(db, server.base_url, "--limit", "160")
        try:
            wait_for_outputs(db, proc, 10)
            (run_id,), _ = stored(db)
            r = cli("eval", "--resume", run_id, "--json")
            assert r.code == 2 and f"still running in process {socket.gethostname()}:{proc.pid}" in r.err
            assert proc.poll() is None  # the running eval was not disturbed
        finally:
            proc.kill()
            proc.wait(10)
        assert cli("eval", "--resume", run_id, "--json", "--no-cache").code == 0
    check_every_row_once(db, run_id, 160)


def test_ctrl_c_leaves_a_cancelled_run_that_resumes(cli, db):
    n = 160
    # 0.3 s a request, 4 at a time: ~12 s of requests, so the Ctrl-C lands mid-run even when this process is slow
    # to get into the file and see the first outputs (at 50 ms, and once in a full run at 0.2 s, the run had
    # finished first, under load)
    with OpenAIServer(latency=0.3) as server:
        proc = eval_process(db, server.base_url, "--limit", str(n))
        wait_for_outputs(db, proc, 10)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 130, err
        assert "Traceback" not in err, err
        (run_id,), done = stored(db)
        with store.connect(db) as con:
            assert store.get_run(con, run_id)["status"] == "cancelled"
        assert done < n
        r = cli("eval", "--resume", run_id, "--json", "--no-cache")
        assert r.code == 0, r.err
    assert r.json()["runs"][0]["outputs"] == n
    check_every_row_once(db, run_id, n)


READER = """
import os, sys, time
from workbench import store
db, stop, ready = sys.argv[1], sys.argv[2], sys.argv[3]
reads = 0
while not os.path.exists(stop):
    with store.connect(db) as con:
        store.list_runs(con)
        con.execute("SELECT count(*) FROM outputs").fetchone()
    reads += 1
    if reads == 1:
        open(ready, "w").close()
    time.sleep(0.02)
print(reads)
"""


def test_a_second_process_reading_the_file_during_an_eval(tmp_path, db):
    n = 160
    stop, ready = tmp_path / "stop", tmp_path / "ready"
    with OpenAIServer(latency=0.05) as server:
        reader = subprocess.Popen([sys.executable, "-c", READER, db, str(stop), str(ready)], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, cwd=ROOT)
        deadline = time.monotonic() + 30
        while not ready.exists():  # the reader is up and reading before the eval starts
            assert reader.poll() is None and time.monotonic() < deadline, reader.communicate()
            time.sleep(0.05)
        runs_cli = []
        proc = eval_process(db, server.base_url, "--limit", str(n))
        while proc.poll() is None:  # and `workbench runs` from the command line meanwhile
            runs_cli.append(subprocess.run([sys.executable, "-m", "workbench", "runs", "--db", db, "--json"],
                                           capture_output=True, text=True, cwd=ROOT))
        out, err = proc.communicate()
        stop.write_text("")
        r_out, r_err = reader.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert reader.returncode == 0 and int(r_out) > 5, r_err
    assert runs_cli and all(x.returncode == 0 for x in runs_cli), [x.stderr for x in runs_cli if x.returncode]
    import json

    run_id = json.loads(out)["runs"][0]["run_id"]
    check_every_row_once(db, run_id, n)

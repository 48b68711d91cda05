"""A real serving engine: Hugging Face's own OpenAI-compatible server (`transformers serve`, the
`transformers[serving]` extra) serving the bundled model models/support-tiny, two of them behind one
round-robin spec. Greedy answers through `openai:` equal the in-process `hf:` provider's on the same
rows: the path a team takes to vLLM or TGI is the code path these tests run. No download: the model
folder is in the repository."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import DATA_EN, ROOT
from workbench import store

ZERO_SHOT = ROOT / "prompts" / "support_zero_shot.yaml"
MODEL = "models/support-tiny"  # the served model's id is the folder as given on its command line
ROWS = 24


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_transformers_serve(log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    cli = Path(sys.executable).with_name("transformers")  # the console script of this environment's transformers
    cmd = [str(cli if cli.exists() else shutil.which("transformers")), "serve", MODEL, "--host", "127.0.0.1", "--port", str(port), "--device", "cpu"]
    env = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PATH": "/usr/bin:/bin", "HOME": str(log.parent)}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    return proc, f"http://127.0.0.1:{port}/v1"


def wait_until_serving(proc: subprocess.Popen, base_url: str, log: Path, timeout: float = 300) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()[-3000:]
        try:
            with urllib.request.urlopen(f"{base_url}/models", timeout=2) as r:
                if MODEL in r.read().decode():
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"transformers serve did not start in {timeout:.0f} s:\n{log.read_text()[-3000:]}")


def texts(db: str, run_id: str) -> list[str]:
    with store.connect(db) as con:
        df = store.load_outputs(con, run_id).sort_values("row_idx")
    assert df["error"].isna().all(), df["error"].dropna().tolist()[:3]
    return df["text"].tolist()


@pytest.mark.slow
def test_transformers_serve_answers_as_the_in_process_hf_provider(cli, db, tmp_path):
    pytest.importorskip("fastapi", reason="needs the transformers[serving] extra (the `serving` extra here)")
    servers = [start_transformers_serve(tmp_path / f"serve{i}.log") for i in range(2)]
    try:
        for i, (proc, url) in enumerate(servers):
            wait_until_serving(proc, url, tmp_path / f"serve{i}.log")
        pool = ",".join(url for _, url in servers)
        served = cli("eval", ZERO_SHOT, "--data", DATA_EN, "--model", f"openai:{MODEL}@{pool}", "--limit", str(ROWS),
                     "-j", "4", "--timeout", "120", "--json", "--no-cache")
        assert served.code == 0, served.err
    finally:
        for proc, _ in servers:
            proc.terminate()
            proc.wait(30)
    local = cli("eval", ZERO_SHOT, "--data", DATA_EN, "--model", f"hf:{MODEL}", "--limit", str(ROWS), "--json",
                "--no-cache")
    assert local.code == 0, local.err
    (s_run,), (l_run,) = served.json()["runs"], local.json()["runs"]
    assert s_run["outputs"] == l_run["outputs"] == ROWS and s_run["errors"] == l_run["errors"] == 0
    over_http, in_process = texts(db, s_run["run_id"]), texts(db, l_run["run_id"])
    assert [t.strip() for t in over_http] == in_process  # greedy: the same answers, row by row
    assert len(set(in_process)) > 3  # and not one canned answer
    for i in range(2):  # both servers answered (uvicorn's access log), round-robin
        assert (tmp_path / f"serve{i}.log").read_text().count("POST /v1/chat/completions") >= ROWS // 2 - 2
    summary = json.dumps(s_run)
    assert "support-tiny" in summary

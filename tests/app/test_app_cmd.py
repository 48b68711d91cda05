"""`workbench app`: the command it execs, the default-model step, and a real start on a port."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.browser import chromium, free_port
from tests.conftest import ROOT
from workbench.cli import app_cmd


def test_command_runs_streamlit_on_the_database(tmp_path):
    argv, env = app_cmd.streamlit_command(str(tmp_path / "x.duckdb"), 8765, "127.0.0.1")
    assert argv[1:4] == ["-m", "streamlit", "run"] and argv[4].endswith("workbench/app/server.py")
    assert argv[argv.index("--server.port") + 1] == "8765"
    assert env["WORKBENCH_DB"] == str(tmp_path / "x.duckdb")


def test_default_model_step(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-x")
    assert app_cmd.prepare_default_model() is None  # a key: nothing to prepare
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.setitem(sys.modules, "workbench.finetune.default_model", None)  # import fails as if absent
    assert "no bundled local model" in app_cmd.prepare_default_model()


def test_bad_port_is_a_user_error(cli):
    r = cli("app", "--port", "0")
    assert r.code == 2 and "--port" in r.err


@pytest.mark.browser
def test_app_starts_and_serves_deep_links_through_main(tmp_path):
    port = free_port()
    env = {**os.environ, "OPENAI_API_KEY": "sk-unused"}  # skips preparing the local model
    proc = subprocess.Popen([sys.executable, "-m", "workbench", "app", "--db", str(tmp_path / "a.duckdb"),
                             "--port", str(port)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1) as r:
                    assert r.status == 200
                    break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read().decode()[-2000:]
                time.sleep(0.3)
        # The first request of this server is a deep link: it must still get main.py's navigation.
        with chromium() as browser:
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{port}/datasets")
            page.get_by_role("heading", name="Datasets").wait_for(timeout=30_000)
            nav = page.locator('[data-testid="stSidebarNav"]').inner_text().split()
            titles = [w for w in nav if w[0].isupper()]  # the icons' ligature names are lower case
            assert titles[:7] == ["Prompts", "Datasets", "Knowledge", "Models", "Run", "Compare", "Export"], nav
            assert "main" not in nav
    finally:
        proc.terminate()
        proc.wait(10)


def test_the_server_polls_its_config_files_once_a_second():
    """Streamlit polls config.toml and secrets.toml every 0.2 s in a thread each (~5 ms of CPU a second in an
    idle server); the app's server module slows that to CONFIG_POLL_SECONDS."""
    from streamlit.watcher import polling_path_watcher

    from workbench.app import server

    assert polling_path_watcher._POLLING_PERIOD_SECS == server.CONFIG_POLL_SECONDS >= 1.0

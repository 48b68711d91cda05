"""Sharing the app: no start beyond loopback without authentication, the shared-password gate before any
page, and the annotator-only mode that shows no run, prompt or model."""

from __future__ import annotations

import os
import re

import pytest
from streamlit.testing.v1 import AppTest

from tests.annotation_runs import make_runs
from tests.browser import app_server, chromium, screenshot
from tests.conftest import ROOT
from workbench.app import sharing
from workbench.cli import app_cmd
from workbench.errors import UserError
from workbench.rating import annotation as an

MAIN = ROOT / "workbench" / "app" / "main.py"
PASSWORD = "correct horse battery"


@pytest.fixture
def no_secrets(tmp_path, monkeypatch):
    """No secrets file and no password but what a test writes: HOME and the working folder are tmp_path."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(sharing.PASSWORD_ENV, raising=False)
    return tmp_path


@pytest.fixture
def started(monkeypatch):
    """Record the exec that would replace the process with Streamlit, instead of doing it."""
    calls = []
    monkeypatch.setenv("OPENAI_API_KEY", "sk-unused")  # skips preparing the local model
    monkeypatch.setattr(app_cmd.os, "execvpe", lambda *a: calls.append(a))
    return calls


@pytest.mark.parametrize("address, loopback", [("127.0.0.1", True), ("127.0.0.5", True), ("localhost", True),
                                               ("::1", True), ("[::1]", True), ("0.0.0.0", False), ("::", False),
                                               ("192.168.1.20", False), ("myhost.example", False), ("", False)])
def test_loopback_addresses(address, loopback):
    assert sharing.is_loopback(address) is loopback


@pytest.mark.parametrize("address", ["0.0.0.0", "192.168.1.20", "::"])
def test_sharing_without_authentication_refuses_to_start(cli, no_secrets, started, address):
    r = cli("app", "--address", address)
    assert r.code == 2 and started == []
    assert r.err.count("\n") == 1 and "--address" in r.err and sharing.PASSWORD_ENV in r.err, r.err


def test_sharing_with_a_password_starts(cli, no_secrets, started, monkeypatch):
    monkeypatch.setenv(sharing.PASSWORD_ENV, "short")
    r = cli("app", "--address", "0.0.0.0")
    assert r.code == 2 and "at least 8 characters" in r.err and started == []
    monkeypatch.setenv(sharing.PASSWORD_ENV, PASSWORD)
    r = cli("app", "--address", "0.0.0.0", "--annotate-only")
    assert r.code == 0 and "login: password" in r.err and "Annotate page only" in r.err
    argv, env = started[0][1], started[0][2]
    assert argv[argv.index("--server.address") + 1] == "0.0.0.0" and env[sharing.ANNOTATE_ONLY_ENV] == "1"


def test_password_in_secrets_and_oidc_settings(cli, no_secrets, started):
    secrets = no_secrets / ".streamlit" / "secrets.toml"
    secrets.parent.mkdir()
    secrets.write_text(f'password = "{PASSWORD}"\n')
    assert cli("app", "--address", "0.0.0.0").code == 0
    secrets.write_text('[auth]\nredirect_uri = "http://h:8501/oauth2callback"\n')
    r = cli("app", "--address", "0.0.0.0")
    assert r.code == 2 and "cookie_secret" in r.err and "secrets.toml" in r.err
    secrets.write_text('[auth]\nredirect_uri = "http://h:8501/oauth2callback"\ncookie_secret = "s3cr3t-s3cr3t"\n'
                       'client_id = "x"\nclient_secret = "y"\nserver_metadata_url = "http://h/.well-known/x"\n')
    if _has_authlib():
        assert sharing.check_serving("0.0.0.0", sharing.read_secrets()) == "oidc"
    else:
        r = cli("app", "--address", "0.0.0.0")
        assert r.code == 2 and "Authlib" in r.err
    secrets.write_text("password = \n")
    r = cli("app", "--address", "0.0.0.0")
    assert r.code == 2 and "TOML" in r.err and str(secrets) in r.err
    assert len(started) == 1


def _has_authlib() -> bool:
    import importlib.util

    return importlib.util.find_spec("authlib") is not None


def test_password_comparison():
    assert sharing.password_matches(PASSWORD, PASSWORD)
    assert not sharing.password_matches(PASSWORD[:-1], PASSWORD)
    assert not sharing.password_matches("", PASSWORD)
    assert sharing.password_matches("pässwörd", "pässwörd")
    with pytest.raises(UserError):
        sharing.check_serving("0.0.0.0", {}, env={})
    assert sharing.check_serving("127.0.0.1", {}, env={}) is None


def test_password_gate_before_any_page(no_secrets, monkeypatch):
    from workbench.app import context

    context._signed_in().clear()  # AppTest gives every test the same session id
    monkeypatch.setenv(sharing.PASSWORD_ENV, PASSWORD)
    monkeypatch.setenv("WORKBENCH_PROMPTS", str(ROOT / "prompts"))
    at = AppTest.from_file(str(MAIN), default_timeout=60).run()
    assert not at.exception
    assert [t.value for t in at.title] == ["workbench"] and len(at.text_input) == 1
    at.text_input(key="wb_password").input("wrong password")
    at.button[0].click().run()
    assert [e.value for e in at.error] == ["Wrong password."]
    assert [t.value for t in at.title] == ["workbench"]
    at.text_input(key="wb_password").input(PASSWORD)
    at.button[0].click().run()
    assert not at.exception and "Prompts" in [t.value for t in at.title]
    context._signed_in().clear()


@pytest.mark.browser
def test_annotate_only_shows_no_run_prompt_or_model(db, tmp_path):
    runs = make_runs(db, [("support_few_shot", "openai:model-alpha"), ("support_zero_shot", "openai:model-beta")],
                     n_rows=4)
    from workbench import store

    with store.connect(db) as con:
        sid = an.create_session(con, an.SessionSpec(runs, pairwise=True, k=1, seed=3))
    env = {sharing.ANNOTATE_ONLY_ENV: "1", "WORKBENCH_PROMPTS": str(ROOT / "prompts"),
           "WORKBENCH_MODELS_DIR": str(tmp_path / "models")}
    forbidden = [*runs, "support_few_shot", "support_zero_shot", "model-alpha", "model-beta", "openai"]
    with app_server(db, env) as url, chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1400})
        page.set_default_timeout(30_000)
        page.goto(f"{url}/?session={sid}&annotator=rater1")
        page.get_by_role("button", name="A is better").wait_for()
        text = page.locator("body").inner_text()
        screenshot(page, "annotate-only")
        assert re.search(r"Item \d+ of", text) and "Answer A" in text
        assert page.locator('[data-testid="stSidebarNav"]').count() == 0
        assert [w for w in forbidden if w in text] == [], text
        page.goto(f"{url}/compare")  # a deep link to another page shows the Annotate page, nothing else
        page.get_by_role("heading", name="Annotate").wait_for()
        text = page.locator("body").inner_text()
        assert [w for w in forbidden if w in text] == [], text
        assert "Compare" not in text
    assert os.path.exists(db)


def test_oidc_login_before_any_page(no_secrets):
    at = AppTest.from_file(str(MAIN), default_timeout=60)
    at.secrets["auth"] = {"redirect_uri": "http://127.0.0.1:8501/oauth2callback", "cookie_secret": "x" * 32,
                          "client_id": "c", "client_secret": "s", "server_metadata_url": "http://127.0.0.1:9/x"}
    at.run()
    assert not at.exception
    assert [t.value for t in at.title] == ["workbench"] and [b.label for b in at.button] == ["Log in"]


def test_app_started_directly_on_a_shared_address_shows_nothing(no_secrets):
    """`streamlit run workbench/app/main.py --server.address 0.0.0.0` skips the CLI's check: the app refuses too."""
    from streamlit import config

    before = config.get_option("server.address")
    config.set_option("server.address", "0.0.0.0")
    try:
        at = AppTest.from_file(str(MAIN), default_timeout=60).run()
    finally:
        config.set_option("server.address", before)
    assert not at.exception and not at.title
    assert len(at.error) == 1 and "--address: serving on 0.0.0.0" in at.error[0].value.replace("\\", "")

import os

from tests.conftest import DATA_EN
from tests.openai_server import OpenAIServer
from workbench.providers.keys import load_secrets


def test_environment_wins_then_project_then_home(tmp_path, monkeypatch):
    project, home = tmp_path / "p.toml", tmp_path / "h.toml"
    project.write_text('OPENAI_API_KEY = "sk-project"\n')
    home.write_text('OPENAI_API_KEY = "sk-home"\nOPENAI_BASE_URL = "http://127.0.0.1:9/v1"\n')
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    monkeypatch.setenv("OPENAI_BASE_URL", "")
    assert load_secrets([project, home]) == ["OPENAI_BASE_URL"]
    assert os.environ["OPENAI_API_KEY"] == "sk-env" and os.environ["OPENAI_BASE_URL"] == "http://127.0.0.1:9/v1"
    monkeypatch.setenv("OPENAI_API_KEY", "")
    assert load_secrets([project, home]) == ["OPENAI_API_KEY"] and os.environ["OPENAI_API_KEY"] == "sk-project"


def test_broken_or_missing_files_are_skipped(tmp_path, monkeypatch):
    bad = tmp_path / "bad.toml"
    bad.write_text("OPENAI_API_KEY = \n")
    monkeypatch.setenv("OPENAI_API_KEY", "")
    assert load_secrets([bad, tmp_path / "none.toml"]) == []


def test_cli_uses_the_key_from_secrets_toml(cli, tmp_path, monkeypatch):
    secret = "sk-from-secrets-toml-123"
    (tmp_path / ".streamlit").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENAI_API_KEY", "")  # restored after the test, whatever the CLI sets
    monkeypatch.setenv("OPENAI_BASE_URL", "")
    prompt = os.path.join(os.path.dirname(__file__), "..", "..", "prompts", "support_zero_shot.yaml")
    with OpenAIServer() as server:  # the key's home is the base URL the secrets file configures
        (tmp_path / ".streamlit" / "secrets.toml").write_text(
            f'OPENAI_API_KEY = "{secret}"\nOPENAI_BASE_URL = "{server.base_url}"\n')
        r = cli("eval", prompt, "--data", DATA_EN, "--model", "openai:t", "--limit", "1", "--json")
        assert r.code == 0, r.err
        assert server.headers_seen[0]["authorization"] == f"Bearer {secret}"
    assert secret not in r.out + r.err


def test_secrets_toml_is_read_without_tomllib_through_tomli(tmp_path, monkeypatch):
    """Python 3.10 has no tomllib: the secrets file is read with tomli instead of being ignored."""
    import sys

    monkeypatch.setitem(sys.modules, "tomllib", None)  # `import tomllib` raises ImportError, as on 3.10
    file = tmp_path / "secrets.toml"
    file.write_text('OPENAI_API_KEY = "sk-read-by-tomli"\n')
    monkeypatch.setenv("OPENAI_API_KEY", "")
    assert load_secrets([file]) == ["OPENAI_API_KEY"] and os.environ["OPENAI_API_KEY"] == "sk-read-by-tomli"

"""Shared fixtures: every test gets its own DuckDB file and no API key; servers are real, on 127.0.0.1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.openai_server import OpenAIServer, answers_from_jsonl

ROOT = Path(__file__).resolve().parent.parent
DATA_EN = ROOT / "datasets" / "support_en.jsonl"
DATA_ZH = ROOT / "datasets" / "support_zh.jsonl"


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """A fresh database per test, no key, no hub access."""
    monkeypatch.setenv("WORKBENCH_DB", str(tmp_path / "wb.duckdb"))
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("WORKBENCH_PASSWORD", raising=False)  # the app's login gate stays off unless a test sets it
    monkeypatch.delenv("WORKBENCH_ANNOTATE_ONLY", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    return tmp_path


@pytest.fixture
def db(tmp_path) -> str:
    return str(tmp_path / "wb.duckdb")


@pytest.fixture
def openai_server():
    """Answers bundled English and Chinese questions with their reference, anything else with an echo."""
    en, zh = answers_from_jsonl(str(DATA_EN)), answers_from_jsonl(str(DATA_ZH))

    def reply(messages):
        text = en(messages)
        return zh(messages) if text.startswith("You said: ") else text

    with OpenAIServer(reply=reply) as server:
        yield server


class CLIResult:
    def __init__(self, code: int, out: str, err: str):
        self.code, self.out, self.err = code, out, err

    def json(self):
        return json.loads(self.out)


@pytest.fixture
def cli(capsys):
    """Run the CLI in-process: cli('eval', ...) -> CLIResult(code, out, err)."""
    from workbench.cli.main import main

    def run(*args: str) -> CLIResult:
        capsys.readouterr()
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return CLIResult(code, captured.out, captured.err)

    return run


def run_process(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run `python -m workbench ARGS` as a separate process (exit codes, tracebacks, startup cost)."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "workbench", *map(str, args)], capture_output=True, text=True,
                          env=full_env, cwd=ROOT, timeout=timeout)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """(folder, card, seconds) of a real tiny model fine-tuned from scratch once per session (tests/tiny_model.py)."""
    from tests.tiny_model import train_tiny

    return train_tiny(tmp_path_factory.mktemp("tiny-model"))


def default_sigint() -> None:
    """preexec_fn for a child a test interrupts: SIGINT at its default, even when this run was started with it
    ignored (a background job of a shell without job control, nohup); Python then keeps ignoring it."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)

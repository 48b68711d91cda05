"""A --model value without a provider prefix gets a suggestion in the one-line error."""

from __future__ import annotations

from tests.conftest import DATA_EN, ROOT
from workbench.cli.model_hint import did_you_mean

PROMPT = ROOT / "prompts" / "support_zero_shot.yaml"


def test_did_you_mean():
    assert did_you_mean("gpt-4o") == "openai:gpt-4o"
    assert did_you_mean("o3-mini") == "openai:o3-mini"
    assert did_you_mean(str(ROOT / "models" / "support-tiny")) == f"hf:{ROOT / 'models' / 'support-tiny'}"
    assert did_you_mean("llama3@http://127.0.0.1:11434/v1") == "openai:llama3@http://127.0.0.1:11434/v1"
    assert did_you_mean("llama3").startswith("openai:llama3@BASE_URL")
    assert did_you_mean("openai:gpt-4o") is None and did_you_mean("hf:models/x") is None


def test_eval_suggests_the_spec(cli):
    res = cli("eval", PROMPT, "--data", DATA_EN, "--model", "gpt-4o", "--limit", "1")
    assert res.code == 2
    assert res.err.strip().endswith("; did you mean --model openai:gpt-4o?"), res.err
    assert res.err.count("\n") == 1  # still one line

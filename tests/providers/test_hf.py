"""The hf: provider on a real tiny model: chat template, greedy/sampled generation, batching, errors, eval."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys

import pytest

from tests.tiny_model import ROOT, ZERO_SHOT, small_dataset
from workbench.cli.main import flag_for
from workbench.errors import UserError
from workbench.providers import make_provider

QUESTIONS = ["I forgot my password", "where is my package??", "Cancel my order please",
             "Can I use a gift card at checkout?", "how do i reset my password on the app",
             "My order #48213 has not arrived yet, where is it? It was supposed to come on Monday."]


def conv(question: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": "You are the customer-service assistant of Northwind Shop."},
            {"role": "user", "content": question}]


@pytest.fixture
def provider(tiny_model):
    return make_provider(f"hf:{tiny_model[0]}?device=cpu")


def test_generates_through_the_chat_template(provider):
    result = asyncio.run(provider.complete(conv("I forgot my password"), {"temperature": 0, "max_tokens": 64}))
    assert isinstance(result.text, str) and result.text
    assert result.finish_reason in ("stop", "length")
    assert result.tokens_in > 10 and 1 <= result.tokens_out <= 64
    assert result.latency_ms > 0
    text = provider.render(conv("hi"), {})[0]
    assert text.endswith("<|im_start|>user\n hi<|im_end|>\n<|im_start|>assistant\n")


def test_batched_and_one_by_one_greedy_outputs_are_identical(provider):
    params = {"temperature": 0, "max_tokens": 48}
    batched = provider.generate([conv(q) for q in QUESTIONS], params)
    single = [provider.generate([conv(q)], params)[0] for q in QUESTIONS]
    assert [r.text for r in batched] == [r.text for r in single]
    assert [r.tokens_out for r in batched] == [r.tokens_out for r in single]
    assert [r.tokens_in for r in batched] == [r.tokens_in for r in single]
    assert all(r.raw["batch_size"] == len(QUESTIONS) for r in batched)


def test_complete_batch_runs_off_the_event_loop(provider):
    async def go():
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                await asyncio.sleep(0.001)
                ticks += 1

        task = asyncio.create_task(ticker())
        results = await provider.complete_batch([conv(q) for q in QUESTIONS], {"max_tokens": 32})
        task.cancel()
        return results, ticks

    results, ticks = asyncio.run(go())
    assert len(results) == len(QUESTIONS) and ticks > 0


def test_max_tokens_and_stop_strings(provider):
    short = provider.generate([conv(QUESTIONS[0])], {"max_tokens": 3})[0]
    assert short.tokens_out == 3 and short.finish_reason == "length"
    full = provider.generate([conv(QUESTIONS[0])], {"max_tokens": 64})[0]
    assert len(full.text) >= 12, full.text
    stop = full.text[8:11]
    cut = provider.generate([conv(QUESTIONS[0])], {"max_tokens": 64, "stop": [stop, "never seen"]})[0]
    assert cut.finish_reason == "stop"
    assert cut.text == full.text[: full.text.index(stop)].strip()
    assert cut.tokens_out <= full.tokens_out


def test_sampling_is_honoured_and_seeded(provider):
    params = {"temperature": 1.5, "top_p": 1.0, "max_tokens": 24, "seed": 7}
    a = provider.generate([conv(q) for q in QUESTIONS], params)
    b = provider.generate([conv(q) for q in QUESTIONS], params)
    greedy = provider.generate([conv(q) for q in QUESTIONS], {"max_tokens": 24})
    assert [r.text for r in a] == [r.text for r in b]
    assert [r.text for r in a] != [r.text for r in greedy]


def test_model_is_loaded_once_per_process(tiny_model):
    a = make_provider(f"hf:{tiny_model[0]}")
    b = make_provider(f"hf:{tiny_model[0]}?batch_size=2")
    assert a.model is b.model and b.batch_size == 2 and a.batch_size == 8


def test_prompt_too_long_for_the_context_is_a_row_error(provider):
    long_q = "password " * 600
    results = provider.generate([conv(long_q), conv(QUESTIONS[0])], {"max_tokens": 16})
    assert results[0].kind == "bad_request" and "context" in results[0].message
    assert results[1].text


def test_without_chat_template_a_transcript_or_the_prompts_own(tiny_model, tmp_path):
    folder = tmp_path / "plain"
    shutil.copytree(tiny_model[0], folder)
    (folder / "chat_template.jinja").unlink()
    p = make_provider(f"hf:{folder}")
    text, stops = p.render(conv("hi"), {})
    assert text.endswith("User: hi\n\nAssistant:") and "\nUser:" in stops
    own = "{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}\n{% endfor %}>>"
    assert p.render(conv("hi"), {"chat_template": own})[0].endswith("[user] hi\n>>")
    assert p.generate([conv("hi")], {"max_tokens": 4})[0].tokens_out >= 1


@pytest.mark.parametrize("spec,expect", [
    ("hf:/no/such/folder", "model folder not found"),
    ("hf:{data}", "no config.json"),
    ("hf:{model}?colour=red", "unknown option 'colour' for hf: models (accepted: batch_size, device, dtype)"),
    ("hf:{model}?batch_sise=4", "unknown option 'batch_sise'"),
    ("hf:{model}?timeout=4", "unknown option 'timeout'"),
    ("hf:{model}?batch_size=four", "bad value 'four' for option 'batch_size'"),
    ("hf:{model}?dtype=int3", "unknown dtype"),
    ("hf:{model}?batch_size=0", "batch_size must be at least 1"),
    ("hf:{model}?device=quantum", "unknown device"),
])
def test_bad_specs_are_user_errors(spec, expect, tiny_model):
    with pytest.raises(UserError) as e:
        make_provider(spec.format(data=ROOT / "datasets", model=tiny_model[0]))
    assert e.value.setting == "model" and e.value.shown(flag_for).startswith("--model: ") and expect in str(e.value)


def test_cuda_asked_for_without_cuda_is_a_user_error(tiny_model):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(UserError, match="CUDA is not available"):
        make_provider(f"hf:{tiny_model[0]}?device=cuda")


def test_importing_the_module_loads_no_torch():
    code = "import sys, workbench.providers.hf; print('torch' in sys.modules, 'transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True).stdout
    assert out.split() == ["False", "False"]


def test_eval_end_to_end_stores_outputs(tiny_model, tmp_path, cli, db):
    data = small_dataset(tmp_path / "d.jsonl")
    r = cli("eval", ZERO_SHOT, "--data", data, "--model", f"hf:{tiny_model[0]}", "--limit", "10", "--json")
    assert r.code == 0, r.err
    (run,) = r.json()["runs"]
    assert run["outputs"] == 10 and run["errors"] == 0 and run["model"] == f"hf:{tiny_model[0]}"
    assert 0 <= run["metrics"]["rougeL"]["mean"] <= 1
    from workbench import store

    with store.connect(db) as con:
        rows = con.execute("SELECT text, tokens_in, tokens_out, finish_reason FROM outputs WHERE run_id = ?",
                           [run["run_id"]]).fetchall()
    assert len(rows) == 10 and all(t is not None and tin > 0 and tout > 0 for t, tin, tout, _ in rows)


def test_eval_with_a_missing_model_is_exit_2_and_stores_nothing(tmp_path, cli, db):
    data = small_dataset(tmp_path / "d.jsonl")
    r = cli("eval", ZERO_SHOT, "--data", data, "--model", f"hf:{tmp_path / 'nope'}")
    assert r.code == 2 and "model folder not found" in r.err and len(r.err.strip().splitlines()) == 1
    r = cli("runs", "--json")
    assert json.loads(r.out) == []

"""LoRA adapters: training on a frozen base, the adapter card, `hf:` loading, --merge, and the one-line refusals."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.tiny_model import ZERO_SHOT, small_dataset
from workbench.cli.main import flag_for

ANSWER = "Open Orders and choose Track package."


def chats(path: Path, n: int = 16) -> Path:
    """Conversations whose answer the base model has never seen: something for an adapter to learn."""
    rows = [{"messages": [{"role": "system", "content": "You are Northwind's assistant."},
                          {"role": "user", "content": f"Where is order #{k}?"},
                          {"role": "assistant", "content": ANSWER}]} for k in range(n)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def base(tiny_model, tmp_path_factory) -> Path:
    """A copy of the session's tiny model, so that a test may change it without touching the others."""
    target = tmp_path_factory.mktemp("lora-base") / "base"
    shutil.copytree(tiny_model[0], target)
    return target


@pytest.fixture(scope="module")
def adapter(base, tmp_path_factory):
    from workbench.finetune import finetune
    from workbench.finetune.lora import LoraOptions
    from workbench.finetune.train import FinetuneConfig

    folder = tmp_path_factory.mktemp("lora")
    cfg = FinetuneConfig(data=str(chats(folder / "chats.jsonl")), out=str(folder / "adapter"), base=str(base),
                         optimizer="adamw", lr=2e-2, epochs=6, batch_size=4, eval_split=0.25, progress=False,
                         lora=LoraOptions(r=8, alpha=16, dropout=0.0), merge=True)
    return finetune(cfg).card, folder / "adapter"


@pytest.mark.slow
def test_adapter_trains_and_its_card_names_the_base(adapter, base):
    from workbench.providers.hf import weights_hash

    card, folder = adapter
    for name in ("adapter_config.json", "adapter_model.safetensors", "tokenizer.json", "model_card.json",
                 "README.md", "loss_curve.png"):
        assert (folder / name).is_file(), name
    assert not (folder / "config.json").exists()  # an adapter, not a whole model
    a = json.loads((folder / "model_card.json").read_text())["adapter"]
    assert a["base_path"] == str(base) and a["base_hash"] == weights_hash(base)
    assert a["r"] == 8 and a["alpha"] == 16 and a["targets"] == sorted(a["targets"])
    assert {"q_proj", "v_proj", "down_proj"} <= set(a["targets"]) and "lm_head" not in a["targets"]
    assert 0 < a["trainable_parameters"] < a["total_parameters"]
    assert a["trainable_share"] == pytest.approx(a["trainable_parameters"] / a["total_parameters"], abs=1e-6)
    steps = card["loss"]["train_per_step"]
    first, last = steps[0]["loss"], sum(s["loss"] for s in steps[-3:]) / 3
    assert last < 0.5 * first, (first, last)
    assert "LoRA adapter" in (folder / "README.md").read_text()


@pytest.mark.slow
def test_adapter_leaves_the_base_weights_alone(adapter, base):
    from safetensors.torch import load_file

    from workbench.providers.hf import weights_hash

    card, _ = adapter
    assert weights_hash(base) == card["adapter"]["base_hash"]
    names = load_file(str(adapter[1] / "adapter_model.safetensors")).keys()
    assert names and all("lora_" in n for n in names)


@pytest.mark.slow
def test_hf_loads_the_adapter_and_answers_like_the_merged_model(adapter):
    from workbench.providers import make_provider

    _, folder = adapter
    prompts = [[{"role": "system", "content": "You are Northwind's assistant."},
                {"role": "user", "content": f"Where is order #{k}?"}] for k in (3, 99, 1234)]
    prompts.append([{"role": "user", "content": "How do I reset my password?"}])
    with_adapter = make_provider(f"hf:{folder}?batch_size=4").generate(prompts, {"max_tokens": 24})
    merged = make_provider(f"hf:{folder / 'merged'}").generate(prompts, {"max_tokens": 24})
    assert [r.text for r in with_adapter] == [r.text for r in merged]
    assert with_adapter[0].raw["batch_size"] == 4
    base_card = json.loads((folder / "model_card.json").read_text())["adapter"]
    plain = make_provider(f"hf:{base_card['base_path']}").generate(prompts[:1], {"max_tokens": 24})
    assert with_adapter[0].text != plain[0].text  # the adapter is applied, not just the base
    assert with_adapter[0].text.startswith("Open Orders")  # and it learned the new answer's start
    assert (folder / "merged" / "config.json").is_file()
    assert "adapter" not in json.loads((folder / "merged" / "model_card.json").read_text())


@pytest.mark.slow
def test_adapter_on_a_changed_base_is_refused(adapter, base, tmp_path):
    from workbench.errors import UserError
    from workbench.providers.hf import load_checkpoint

    _, folder = adapter
    moved = tmp_path / "adapter"
    shutil.copytree(folder, moved, ignore=shutil.ignore_patterns("merged"))
    card = json.loads((moved / "model_card.json").read_text())
    card["adapter"]["base_hash"] = "0" * 16
    (moved / "model_card.json").write_text(json.dumps(card))
    with pytest.raises(UserError, match="has changed since the adapter was trained"):
        load_checkpoint(str(moved))
    card["adapter"]["base_path"] = card["adapter"]["base_path_resolved"] = str(tmp_path / "gone")
    (moved / "model_card.json").write_text(json.dumps(card))
    with pytest.raises(UserError, match="is not there any more"):
        load_checkpoint(str(moved))


def test_models_page_lists_adapters_with_their_base(adapter, base):
    from workbench.finetune.lora import list_adapters

    _, folder = adapter
    (found,) = list_adapters(folder.parent)
    assert found["name"] == "adapter" and found["base"] == str(base)
    assert found["spec"] == f"hf:{folder.as_posix()}" and found["merged"] == f"hf:{(folder / 'merged').as_posix()}"


@pytest.mark.parametrize("case", ["unknown_target", "norm_target", "base_tiny", "no_lora_merge", "rank"])
def test_bad_lora_options_are_one_line_exit_2(case, tiny_model, tmp_path, cli):
    data = small_dataset(tmp_path / "d.jsonl")
    base, extra = str(tiny_model[0]), ["--lora"]
    if case == "unknown_target":
        extra += ["--lora-targets", "q_proj,attn_c"]
        expect = "--lora-targets: LlamaForCausalLM has no module named 'attn_c' (adaptable: down_proj, gate_proj"
    elif case == "norm_target":
        extra += ["--lora-targets", "input_layernorm"]
        expect = "'input_layernorm' is a LlamaRMSNorm in LlamaForCausalLM, which LoRA cannot adapt"
    elif case == "base_tiny":
        base, expect = "tiny", "--lora: LoRA adapts a trained model: give --base PATH"
    elif case == "no_lora_merge":
        extra, expect = ["--merge"], "--merge: --merge merges a LoRA adapter: add --lora"
    else:
        extra += ["--lora-r", "0"]
        expect = "--lora-r: must be at least 1, got 0"
    r = cli("finetune", "--data", data, "--prompt", ZERO_SHOT, "--base", base, "--out", tmp_path / "m", *extra)
    assert r.code == 2, r.err
    assert expect in r.err and len(r.err.strip().splitlines()) == 1, r.err
    assert not (tmp_path / "m").exists()


def test_4bit_without_bitsandbytes_and_cuda_is_one_line(tiny_model, tmp_path, cli):
    import importlib.util

    import torch

    if torch.cuda.is_available() and importlib.util.find_spec("bitsandbytes"):
        pytest.skip("this machine can load in 4-bit")
    data = small_dataset(tmp_path / "d.jsonl")
    r = cli("finetune", "--data", data, "--prompt", ZERO_SHOT, "--base", tiny_model[0], "--out", tmp_path / "m",
            "--lora", "--load-in-4bit")
    assert r.code == 2, r.err
    line = r.err.strip()
    assert len(line.splitlines()) == 1 and "--load-in-4bit: 4-bit QLoRA needs bitsandbytes and a CUDA GPU" in line
    if not torch.cuda.is_available():
        assert "no CUDA device is available" in line
    if not importlib.util.find_spec("bitsandbytes"):
        assert "bitsandbytes is not installed" in line
    r = cli("finetune", "--data", data, "--prompt", ZERO_SHOT, "--base", tiny_model[0], "--out", tmp_path / "m",
            "--load-in-4bit")
    assert r.code == 2 and r.err.strip().endswith("--load-in-4bit: 4-bit loading is for QLoRA: add --lora")


def test_an_adapter_is_not_a_base_to_train(adapter, tmp_path, cli):
    _, folder = adapter
    r = cli("finetune", "--data", chats(tmp_path / "c.jsonl"), "--base", folder, "--out", tmp_path / "m")
    assert r.code == 2 and len(r.err.strip().splitlines()) == 1
    assert "is a LoRA adapter, not a whole model" in r.err


def test_models_page_shows_the_adapter_and_its_base(adapter, base, monkeypatch):
    from streamlit.testing.v1 import AppTest

    _, folder = adapter
    monkeypatch.setenv("WORKBENCH_MODELS_DIR", str(folder.parent))
    at = AppTest.from_file(str(Path(__file__).resolve().parents[2] / "workbench" / "app" / "views" / "models.py"),
                           default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    labels = [e.label for e in at.expander]
    assert any("LoRA adapter on" in label and base.name in label for label in labels), labels
    assert any("merged" in c.value for c in at.caption)


def test_auto_targets_refuse_a_model_without_linear_layers():
    import torch

    from workbench.errors import UserError
    from workbench.finetune.lora import resolve_targets

    class ConvOnly(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = torch.nn.Embedding(10, 4)
            self.conv = torch.nn.Conv1d(4, 4, 3)

        def get_output_embeddings(self):
            return None

    with pytest.raises(UserError) as e:
        resolve_targets(ConvOnly(), "auto")
    assert e.value.shown(flag_for) == ("--lora-targets: ConvOnly has no linear layers LoRA can adapt; name the modules with "
                            "--lora-targets")

"""LoRA adapters (the `peft` library): wrap a base model, save the adapter, load it back, merge it.

An adapter folder holds `adapter_config.json`, `adapter_model.safetensors`, the tokenizer (with its chat
template) and the model card. The card names the base folder and a hash of its weights, so `hf:ADAPTER`
finds the base by itself and refuses a base that has changed since the adapter was trained on it.

QLoRA (`--load-in-4bit`) loads the base in 4-bit NF4 through bitsandbytes, which needs a CUDA GPU; on a
machine without both it is refused in one line before anything loads.

peft, torch and transformers are imported inside the functions that need them.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from workbench.errors import UserError
from workbench.providers.hf import is_adapter, load_adapter, read_adapter_card, weights_hash

MERGED = "merged"  # `--merge` writes the merged model into this sub-folder of the adapter's folder


@dataclass
class LoraOptions:
    r: int = 16
    alpha: float = 32.0
    dropout: float = 0.05
    targets: str = "auto"  # "auto": every linear layer except the output head; or comma-separated module names
    load_in_4bit: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_options(opts: LoraOptions) -> None:
    if opts.r < 1:
        raise UserError(f"must be at least 1, got {opts.r}", setting="lora_r")
    if not opts.alpha > 0:
        raise UserError(f"must be positive, got {opts.alpha:g}", setting="lora_alpha")
    if not 0 <= opts.dropout < 1:
        raise UserError(f"must be in [0, 1), got {opts.dropout:g}", setting="lora_dropout")
    if not opts.targets.strip():
        raise UserError("give 'auto' or comma-separated module names such as q_proj,v_proj", setting="lora_targets")


def check_4bit() -> None:
    """QLoRA needs bitsandbytes and a CUDA device; say which is missing, in one line."""
    missing = []
    if importlib.util.find_spec("bitsandbytes") is None:
        missing.append("bitsandbytes is not installed (pip install bitsandbytes)")
    import torch

    if not torch.cuda.is_available():
        missing.append("no CUDA device is available")
    if missing:
        raise UserError("4-bit QLoRA needs bitsandbytes and a CUDA GPU: " + "; ".join(missing), setting="load_in_4bit")


def load_base_4bit(path: str):
    """(model, tokenizer) with the weights quantized to 4-bit NF4, ready for k-bit training (GPU only).
    Written to bitsandbytes' and peft's documented API; not run on the CPU-only machines this is built on."""
    import torch
    from peft import prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig

    if not (Path(path).expanduser() / "config.json").is_file():
        raise UserError(f"not a transformers model folder (no config.json): {path}", setting="base")
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    if not tokenizer.chat_template:
        raise UserError("the tokenizer has no chat template; fine-tuning needs one", path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    quant = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                               bnb_4bit_compute_dtype=torch.bfloat16 if torch.cuda.is_bf16_supported()
                               else torch.float16)
    model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True, quantization_config=quant,
                                                 device_map={"": 0})
    return prepare_model_for_kbit_training(model), tokenizer


def adaptable_layers(model) -> dict[str, str]:
    """Leaf module name -> layer type, for every layer LoRA can adapt, leaving out the output head."""
    import torch

    kinds: tuple[type, ...] = (torch.nn.Linear, torch.nn.Embedding)
    try:
        from transformers.pytorch_utils import Conv1D  # GPT-2's linear layers

        kinds += (Conv1D,)
    except ImportError:
        pass
    head = model.get_output_embeddings()
    out: dict[str, str] = {}
    for name, module in model.named_modules():
        if name and isinstance(module, kinds) and module is not head:
            out.setdefault(name.rsplit(".", 1)[-1], type(module).__name__)
    return out


def resolve_targets(model, targets: str) -> list[str]:
    """The module names to adapt: `auto` picks the linear layers; named ones must exist and be adaptable."""
    layers = adaptable_layers(model)
    linear = sorted(n for n, kind in layers.items() if kind != "Embedding")
    arch = type(model).__name__
    if targets.strip() == "auto":
        if not linear:
            raise UserError(f"{arch} has no linear layers LoRA can adapt; name the modules with --lora-targets",
                            setting="lora_targets")
        return linear
    names = [t.strip() for t in targets.split(",") if t.strip()]
    all_leaves = {n.rsplit(".", 1)[-1]: type(m).__name__ for n, m in model.named_modules() if n}
    for name in names:
        if name in layers:
            continue
        if name in all_leaves:
            raise UserError(f"{name!r} is a {all_leaves[name]} in {arch}, which LoRA cannot adapt "
                            f"(adaptable: {', '.join(linear) or 'none'})", setting="lora_targets")
        raise UserError(f"{arch} has no module named {name!r} (adaptable: {', '.join(linear) or 'none'})",
                        setting="lora_targets")
    return names


def wrap(model, opts: LoraOptions, targets: list[str]):
    """The base model with fresh LoRA matrices on `targets`; only those are trainable."""
    from peft import get_peft_model

    with quiet_peft():
        return get_peft_model(model, lora_config(opts, targets))


@contextlib.contextmanager
def quiet_peft():
    """peft 0.21 asks transformers 5 `is_gradient_checkpointing`, a name it has since renamed: a harmless warning."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        yield


def lora_config(opts: LoraOptions, targets: list[str]):
    from peft import LoraConfig

    return LoraConfig(r=opts.r, lora_alpha=opts.alpha, lora_dropout=opts.dropout, target_modules=targets,
                      bias="none", task_type="CAUSAL_LM")


def trainable_counts(model) -> tuple[int, int]:
    """(trainable, total) parameters."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return trainable, total


def adapter_section(opts: LoraOptions, targets: list[str], base: str, model) -> dict[str, Any]:
    """What the card says about the adapter: its base (path and weights hash) and its share of the model."""
    trainable, total = trainable_counts(model)
    return {"method": "lora", "base_path": base, "base_path_resolved": str(Path(base).expanduser().resolve()),
            "base_hash": weights_hash(base), "r": opts.r, "alpha": opts.alpha, "dropout": opts.dropout,
            "targets": targets, "load_in_4bit": opts.load_in_4bit, "trainable_parameters": trainable,
            "total_parameters": total, "trainable_share": round(trainable / total, 6) if total else 0.0}


def merge(adapter: str | Path, out: str | Path | None = None) -> Path:
    """Write base + adapter as one ordinary model folder (default ADAPTER/merged) that `hf:` loads like any."""
    from workbench.files import write_file

    adapter = Path(adapter)
    model, tokenizer = load_adapter(adapter, "cpu", "float32", where=str(adapter), setting=None)
    target = Path(out) if out else adapter / MERGED
    merged = model.merge_and_unload()
    target.mkdir(parents=True, exist_ok=True)
    merged.save_pretrained(target)
    tokenizer.save_pretrained(target)
    card = json.loads((adapter / "model_card.json").read_text(encoding="utf-8"))
    card["merged_from_adapter"] = str(adapter)
    card.pop("adapter", None)
    card["base"] = f"{card['base']} + LoRA adapter {adapter} (merged)"
    write_file(target / "model_card.json", json.dumps(card, indent=2, ensure_ascii=False) + "\n")
    return target


def list_adapters(directory: str | Path) -> list[dict[str, Any]]:
    """Adapter folders under `directory` with their base, for the app's Models page."""
    d = Path(directory)
    if not d.is_dir():
        return []
    out = []
    for p in sorted(d.iterdir()):
        if not is_adapter(p):
            continue
        try:
            section = read_adapter_card(p, where=str(p), setting=None)
        except UserError:
            section = {}
        out.append({"name": p.name, "spec": f"hf:{p.as_posix()}", "base": section.get("base_path"),
                    "base_hash": section.get("base_hash"), "r": section.get("r"),
                    "trainable_share": section.get("trainable_share"),
                    "merged": f"hf:{(p / MERGED).as_posix()}" if (p / MERGED / "config.json").is_file() else None})
    return out

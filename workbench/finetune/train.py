"""Supervised fine-tuning with the Hugging Face Trainer.

Cross-entropy on assistant tokens only (labels -100 elsewhere, see data.encode), an optimizer of
the user's choice (AdamW and SGD from torch, LAMB from pytorch-optimizer), held-out loss after every
epoch, a progress bar, and at the end the model, tokenizer (with its chat template), a loss-curve PNG
and a model card saved in one folder that `hf:FOLDER` loads.

With `lora` set, the base stays frozen and a LoRA adapter (workbench.finetune.lora) is trained on
the same examples, masking and optimizer; the folder then holds the adapter, not a whole model.
`method="dpo"` trains on preference pairs instead (workbench.finetune.dpo).

Launched under `accelerate launch` the Trainer spreads the work over the GPUs it is given; only the
main process writes files. On a GPU it trains in bf16 (fp16 where bf16 is unsupported);
`gradient_checkpointing` trades compute for activation memory.
"""

from __future__ import annotations

import math
import platform
import resource
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from workbench.errors import UserError
from workbench.finetune import card as card_lib
from workbench.finetune import lora as lora_lib
from workbench.finetune.data import Examples, encode, load_examples, merge_examples, texts_for_tokenizer
from workbench.finetune.tiny import TinySpec, build_model, build_tokenizer, parameter_count
from workbench.versions import version

OPTIMIZERS = ("adamw", "sgd", "lamb")
METHODS = ("sft", "dpo")
# A from-scratch model wants a far larger step than a pretrained one it would otherwise wreck.
# An adapter starts at zero and is small: it takes a larger step than the full model (LoRA paper, LLaMA-Factory).
DEFAULT_LR = {"tiny": {"adamw": 3e-3, "lamb": 1e-2, "sgd": 0.3}, "pretrained": {"adamw": 2e-5, "lamb": 1e-3, "sgd": 1e-2},
              "lora": {"adamw": 2e-4, "lamb": 2e-3, "sgd": 2e-2},
              # DPO moves a model that already answers: trl's default 1e-6 for AdamW on the whole model; an
              # adapter again takes larger steps. LAMB and SGD keep the ratios of the supervised defaults.
              "dpo": {"adamw": 1e-6, "lamb": 5e-5, "sgd": 5e-4}, "dpo_lora": {"adamw": 5e-5, "lamb": 2.5e-3, "sgd": 2.5e-2}}


@dataclass
class FinetuneConfig:
    data: str
    out: str
    base: str = "tiny"
    prompts: list[str] = field(default_factory=list)
    reference_field: str = "reference"
    optimizer: str = "adamw"
    lr: float | None = None  # None: DEFAULT_LR for the base kind and optimizer
    epochs: float = 3.0
    batch_size: int = 8
    eval_split: str | float = 0.1
    weight_decay: float = 0.0
    warmup: float = 0.05  # fraction of steps
    seed: int = 0
    device: str = "auto"
    max_steps: int = -1  # >0 caps the run (tests, quick tries)
    tiny: TinySpec = field(default_factory=TinySpec)
    progress: bool = True
    name: str | None = None  # for the card and the plot; default: the folder's name
    lora: lora_lib.LoraOptions | None = None  # train a LoRA adapter instead of the whole model
    merge: bool = False  # with lora: also write base + adapter merged into OUT/merged
    gradient_checkpointing: bool = False
    method: str = "sft"  # or "dpo": preference pairs, see workbench.finetune.dpo
    beta: float = 0.1  # dpo: how far the policy may move from the reference
    session: str | None = None  # dpo: the pairwise session the pairs were exported from (for the card)
    db: str | None = None  # where that session is stored, and the knowledge bases of `knowledge:` prompts
    # more (data, prompt files) pairs trained together with `data` and `prompts`, e.g. a second language
    more_sources: list[tuple[str, list[str]]] = field(default_factory=list)
    # a curriculum: OpenAI chat JSONL trained on for `first_epochs` before the rest (e.g. copy_data's repeat
    # conversations, on which a from-scratch model learns to copy before it sees answers it can memorise)
    first: str | None = None
    first_epochs: float = 1.0
    first_lr: float | None = None  # the first phase's learning rate (None: the main phase's)
    # batches of examples of similar length (less padding, faster); the first phase always samples at random,
    # see train_first
    group_by_length: bool = True
    # OpenAI chat JSONL files dealt out over the epochs, epoch k training on fresh[k % len(fresh)] besides the
    # rest: conversations that must never repeat, or the model learns them by heart instead of the skill they
    # teach (copy_data's synthetic FAQ entries, which should only be answerable by copying)
    fresh: list[str] = field(default_factory=list)


@dataclass
class FinetuneResult:
    out: Path
    card: dict[str, Any]


def check_config(cfg: FinetuneConfig) -> None:
    if cfg.optimizer not in OPTIMIZERS:
        raise UserError(f"unknown optimizer {cfg.optimizer!r} (expected one of {', '.join(OPTIMIZERS)})", setting="optimizer")
    if cfg.lr is not None and not (cfg.lr > 0 and math.isfinite(cfg.lr)):
        raise UserError(f"learning rate must be a positive number, got {cfg.lr}", setting="learning_rate")
    if not cfg.epochs > 0:
        raise UserError(f"must be positive, got {cfg.epochs:g}", setting="epochs")
    if cfg.batch_size < 1:
        raise UserError(f"must be at least 1, got {cfg.batch_size}", setting="batch_size")
    if cfg.device not in ("auto", "cpu", "cuda", "mps"):
        raise UserError(f"unknown device {cfg.device!r} (auto, cpu, cuda or mps)", setting="device")
    out = Path(cfg.out)
    if out.exists() and not out.is_dir():
        raise UserError("exists and is not a folder", cfg.out)
    if cfg.method not in METHODS:
        raise UserError(f"unknown method {cfg.method!r} (expected one of {', '.join(METHODS)})", setting="method")
    check_lora(cfg)


def check_lora(cfg: FinetuneConfig) -> None:
    if cfg.lora is None:
        if cfg.merge:
            raise UserError("--merge merges a LoRA adapter: add --lora", setting="merge")
        return
    lora_lib.check_options(cfg.lora)
    if cfg.base == "tiny":
        raise UserError("LoRA adapts a trained model: give --base PATH (e.g. models/support-tiny), not tiny", setting="lora")
    if cfg.lora.load_in_4bit:
        lora_lib.check_4bit()


def optimizer_spec(name: str, lr: float, weight_decay: float = 0.0) -> tuple[type, dict[str, Any]]:
    """(class, kwargs) for the Trainer. LAMB comes from pytorch-optimizer, a maintained implementation."""
    import torch

    if name == "adamw":
        return torch.optim.AdamW, {"lr": lr, "weight_decay": weight_decay, "betas": (0.9, 0.999)}
    if name == "sgd":
        return torch.optim.SGD, {"lr": lr, "momentum": 0.9, "weight_decay": weight_decay}
    if name == "lamb":
        from pytorch_optimizer import Lamb

        return Lamb, {"lr": lr, "weight_decay": weight_decay, "betas": (0.9, 0.999)}
    raise UserError(f"unknown optimizer {name!r} (expected one of {', '.join(OPTIMIZERS)})", setting="optimizer")


def build_optimizer(name: str, model, lr: float, weight_decay: float = 0.0):
    cls, kwargs = optimizer_spec(name, lr, weight_decay)
    return cls([p for p in model.parameters() if p.requires_grad], **kwargs)


def load_base(base: str, texts: list[str], spec: TinySpec, seed: int, load_in_4bit: bool = False):
    """(model, tokenizer, description) for `tiny` or a local checkpoint folder."""
    if load_in_4bit:
        model, tokenizer = lora_lib.load_base_4bit(base)
        return model, tokenizer, base
    if base == "tiny":
        tokenizer = build_tokenizer(texts, spec.vocab_size, spec.split_cjk)
        return build_model(tokenizer, spec, seed), tokenizer, "tiny (trained from scratch on this data)"
    from workbench.providers.hf import load_checkpoint

    model, tokenizer = load_checkpoint(base, device="cpu", dtype="float32", setting="base", for_training=True,
                                       require_chat_template=True)
    return model, tokenizer, base


def train_sft(cfg: FinetuneConfig) -> FinetuneResult:
    """Supervised fine-tuning (full or LoRA) and save. Raises UserError for bad input before any training starts."""
    check_config(cfg)
    started = time.perf_counter()
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # the library's loading/saving bars; the training bar is ours

    examples, first, fresh = all_examples(cfg)
    # The vocabulary comes from the main data alone: thousands of lines of random words (copy_data's warm-up)
    # would spend the merges on them and split common words ("within" -> w it h in); and with each random word
    # one token, the copy warm-up's loss stayed near 5 for 1,500 steps, where with word pieces it fell (2026-12-03).
    vocabulary_from = examples.train + (fresh[0] if fresh else [])
    model, tokenizer, base_desc = load_base(cfg.base, texts_for_tokenizer(vocabulary_from), cfg.tiny, cfg.seed,
                                            bool(cfg.lora and cfg.lora.load_in_4bit))
    max_length = _context(model, tokenizer)
    targets: list[str] = []
    if cfg.lora:
        targets = lora_lib.resolve_targets(model, cfg.lora.targets)
        model = lora_lib.wrap(model, cfg.lora, targets)
    train = [encode(tokenizer, ex, max_length) for ex in examples.train]
    evals = [encode(tokenizer, ex, max_length) for ex in examples.eval]
    if fresh:
        train = EpochSlices(train, [[encode(tokenizer, ex, max_length) for ex in part] for part in fresh])
    lr = default_lr(cfg)
    with tempfile.TemporaryDirectory(prefix="workbench-trainer-") as scratch:  # the Trainer wants a folder
        train_started = time.perf_counter()
        first_phase = train_first(cfg, model, tokenizer, first, max_length, lr, scratch) if first else None
        trainer = _make_trainer(cfg, model, tokenizer, train, evals, lr, scratch)
        if fresh:
            trainer.add_callback(train.callback())
        trainer.train()
        train_seconds = time.perf_counter() - train_started
    out = Path(cfg.out)
    if not trainer.is_world_process_zero():
        return FinetuneResult(out, {})
    out.mkdir(parents=True, exist_ok=True)
    model = trainer.model
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    tokenizer.padding_side = "left"  # what batched generation needs
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    history = card_lib.loss_history(trainer.state.log_history)
    card = card_lib.build_card(
        base=base_desc, from_scratch=cfg.base == "tiny", data=" + ".join([cfg.data, *(d for d, _ in cfg.more_sources)]),
        examples=examples,
        n_train_examples=len(train), n_eval_examples=len(evals),
        tokens_trained=sum(sum(lab != -100 for lab in r["labels"]) for r in train),
        optimizer=cfg.optimizer, hyper={"lr": lr, "epochs": cfg.epochs, "batch_size": cfg.batch_size,
                                        "weight_decay": cfg.weight_decay, "warmup": cfg.warmup, "seed": cfg.seed,
                                        "max_steps": cfg.max_steps, "eval_split": cfg.eval_split,
                                        "lr_schedule": "linear", "max_length": max_length,
                                        "sampling": trainer.args.train_sampling_strategy},
        tiny=cfg.tiny.as_dict() if cfg.base == "tiny" else None, parameters=parameter_count(model),
        history=history, steps=trainer.state.global_step, train_seconds=train_seconds,
        wall_seconds=time.perf_counter() - started, device=_device_desc(trainer),
        peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        host={"python": platform.python_version(), "torch": version("torch"),
              "transformers": version("transformers")},
    )
    if cfg.lora:
        card["adapter"] = lora_lib.adapter_section(cfg.lora, targets, cfg.base, model)
    if first_phase:
        card["first_phase"] = first_phase
    if fresh:
        card["fresh"] = {"files": len(fresh), "examples_per_epoch": len(train) - len(train.fixed),
                         "epochs_dealt": train.dealt}
    finish(cfg, out, card, history, lr)
    return FinetuneResult(out, card)


def all_examples(cfg: FinetuneConfig) -> tuple[Examples, list, list[list]]:
    """(the data and more_sources, the first phase's conversations, each fresh file's conversations)."""
    from workbench.authoring.templates import load_prompt

    examples = load_examples(cfg.data, [load_prompt(p) for p in cfg.prompts], cfg.reference_field, cfg.eval_split,
                             cfg.seed, cfg.db)
    for data, more in cfg.more_sources:
        # Conversations without prompts (e.g. workbench.finetune.copy_data's) are made for training only:
        # no held-out rows in them, so all of them train.
        split = cfg.eval_split if more else 0.0
        examples = merge_examples(examples, load_examples(data, [load_prompt(p) for p in more], cfg.reference_field,
                                                          split, cfg.seed, cfg.db))
    first = load_examples(cfg.first, [], cfg.reference_field, 0.0, cfg.seed, cfg.db).train if cfg.first else []
    fresh = [load_examples(f, [], cfg.reference_field, 0.0, cfg.seed, cfg.db).train for f in cfg.fresh]
    return examples, first, fresh


def train_first(cfg: FinetuneConfig, model, tokenizer, examples: list, max_length: int, lr: float,
                scratch: str) -> dict[str, Any]:
    """The curriculum's first phase: `cfg.first`'s conversations for `cfg.first_epochs`, on the model the main
    phase then goes on training. Returns what the card records of it."""
    train = [encode(tokenizer, ex, max_length) for ex in examples]
    # Random batches: with length-grouped ones the repeat warm-up's loss stayed near 4.5 for 450-1,200 steps
    # and no copying formed; with random ones it fell to 1.1 by step 600 (2-layer tiny, 2026-12-03; see
    # workbench/finetune/default_model.py).
    phase = replace(cfg, epochs=cfg.first_epochs, group_by_length=False)
    lr = cfg.first_lr or lr
    trainer = _make_trainer(phase, model, tokenizer, train, [], lr, scratch)
    trainer.train()
    losses = [h["loss"] for h in card_lib.loss_history(trainer.state.log_history)["train_per_step"]]
    tail = losses[-20:] or [float("nan")]
    return {"data": cfg.first, "examples": len(train), "epochs": cfg.first_epochs, "steps": trainer.state.global_step,
            "sampling": trainer.args.train_sampling_strategy, "lr": lr,
            "loss_first_step": losses[0] if losses else None, "loss_last_20_steps": round(sum(tail) / len(tail), 4)}


class EpochSlices:
    """The training set of a run with `fresh` data: the fixed examples, and in epoch k the k-th slice (cyclically).
    Each epoch has len(fixed) + the shortest slice's length examples. A length-grouped sampler measures the
    lengths once, on the first slice: the later ones, made alike, are grouped by those."""

    def __init__(self, fixed: list, slices: list[list]):
        self.fixed, self.slices, self.epoch, self.dealt = fixed, slices, 0, 0
        self.per_epoch = min(len(s) for s in slices)

    def __len__(self) -> int:
        return len(self.fixed) + self.per_epoch

    def __getitem__(self, i: int):
        if not 0 <= i < len(self):
            raise IndexError(i)
        if i < len(self.fixed):
            return self.fixed[i]
        return self.slices[self.epoch % len(self.slices)][i - len(self.fixed)]

    def callback(self):
        """A Trainer callback that moves to the next slice as each epoch begins."""
        from transformers import TrainerCallback

        slices = self

        class NextSlice(TrainerCallback):
            def on_epoch_begin(self, args, state, control, **kwargs):
                slices.epoch, slices.dealt = slices.dealt, slices.dealt + 1

        return NextSlice()


def default_lr(cfg: FinetuneConfig) -> float:
    if cfg.lr is not None:
        return cfg.lr
    if cfg.method == "dpo":
        kind = "dpo_lora" if cfg.lora else "dpo"
    else:
        kind = "tiny" if cfg.base == "tiny" else "lora" if cfg.lora else "pretrained"
    return DEFAULT_LR[kind][cfg.optimizer]


def finish(cfg: FinetuneConfig, out: Path, card: dict[str, Any], history: dict, lr: float) -> None:
    """Plot, card, and with --merge the merged model beside the adapter."""
    name = cfg.name or out.name
    if cfg.merge:
        card["adapter"]["merged_into"] = str(out / lora_lib.MERGED)
    card_lib.plot_losses(history, out / "loss_curve.png", title=f"{name}: {cfg.method}, {cfg.optimizer}, lr {lr:g}")
    card_lib.write_card(card, out, name)
    if cfg.merge:
        lora_lib.merge(out)


def _context(model, tokenizer) -> int:
    n = getattr(model.config, "max_position_embeddings", None) or getattr(model.config, "n_positions", None)
    limit = tokenizer.model_max_length if tokenizer.model_max_length and tokenizer.model_max_length < 1e9 else None
    return int(min(x for x in (n, limit, 4096) if x))


def _hide_data_folder() -> None:
    """A `datasets/` folder in the working directory (this repo has one) is a namespace package that
    transformers mistakes for Hugging Face `datasets` when the current folder is on sys.path (pytest,
    python -m); the Trainer then fails on `datasets.Dataset`. Only a namespace package is hidden: a real
    install always wins over one on import."""
    import importlib.util

    if "datasets" in sys.modules:
        return
    try:
        spec = importlib.util.find_spec("datasets")
    except (ImportError, ValueError):
        return
    if spec is not None and spec.origin is None and spec.submodule_search_locations is not None:
        sys.modules["datasets"] = None  # type: ignore[assignment]  # find_spec now answers None


def _make_trainer(cfg: FinetuneConfig, model, tokenizer, train, evals, lr, scratch: str):
    _hide_data_folder()
    import torch
    from transformers import (
        DataCollatorForSeq2Seq,
        PrinterCallback,
        ProgressCallback,
        Trainer,
        TrainingArguments,
    )

    cuda = torch.cuda.is_available() and cfg.device in ("auto", "cuda")
    if cfg.device == "cuda" and not torch.cuda.is_available():
        raise UserError("CUDA is not available on this machine", setting="device")
    tokenizer.padding_side = "right"  # training: pad after the text so positions start at 0
    if cfg.gradient_checkpointing and cfg.lora:
        model.enable_input_require_grads()  # frozen embeddings: checkpointed blocks need an input with a grad
    args = TrainingArguments(
        output_dir=scratch,
        per_device_train_batch_size=cfg.batch_size,
        per_device_eval_batch_size=cfg.batch_size,
        num_train_epochs=cfg.epochs,
        max_steps=cfg.max_steps,
        learning_rate=lr,
        weight_decay=cfg.weight_decay,
        warmup_steps=cfg.warmup,
        lr_scheduler_type="linear",
        logging_strategy="steps",
        logging_steps=1,
        eval_strategy="epoch" if evals else "no",
        save_strategy="no",
        report_to="none",
        seed=cfg.seed,
        use_cpu=cfg.device == "cpu" or (cfg.device == "auto" and not cuda and not _mps()),
        bf16=cuda and torch.cuda.is_bf16_supported(),
        fp16=cuda and not torch.cuda.is_bf16_supported(),
        **checkpointing_arg(TrainingArguments, cfg.gradient_checkpointing),
        dataloader_num_workers=0,
        disable_tqdm=False,
        remove_unused_columns=False,
        train_sampling_strategy="group_by_length" if cfg.group_by_length else "random",
    )
    trainer = Trainer(
        model=model, args=args, train_dataset=train, eval_dataset=evals or None, processing_class=tokenizer,
        data_collator=DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=-100),
        optimizer_cls_and_kwargs=optimizer_spec(cfg.optimizer, lr, cfg.weight_decay),
    )
    trainer.remove_callback(ProgressCallback)
    trainer.remove_callback(PrinterCallback)
    if cfg.progress:
        trainer.add_callback(_progress_callback())
    return trainer


def checkpointing_arg(args_cls, on: bool) -> dict[str, bool]:
    """transformers 5 renamed gradient_checkpointing to activation_checkpointing (the old name warns)."""
    import dataclasses

    names = {f.name for f in dataclasses.fields(args_cls)}
    return {"activation_checkpointing" if "activation_checkpointing" in names else "gradient_checkpointing": on}


def _progress_callback():
    from tqdm.auto import tqdm
    from transformers import TrainerCallback

    class LossBar(TrainerCallback):
        """One bar for the whole run, with the latest train and held-out loss beside it."""

        bar = None
        shown: dict[str, str] = {}

        def on_train_begin(self, args, state, control, **kwargs):
            if state.is_world_process_zero:
                self.bar = tqdm(total=state.max_steps, desc="fine-tuning", unit="step", file=sys.stderr,
                                dynamic_ncols=True)

        def on_step_end(self, args, state, control, **kwargs):
            if self.bar is not None:
                self.bar.update(state.global_step - self.bar.n)

        def on_log(self, args, state, control, logs=None, **kwargs):
            if self.bar is not None and logs:
                if "loss" in logs:
                    self.shown["loss"] = f"{logs['loss']:.3f}"
                if "eval_loss" in logs:
                    self.shown["eval"] = f"{logs['eval_loss']:.3f}"
                self.shown["epoch"] = f"{state.epoch or 0:.1f}"
                self.bar.set_postfix(self.shown, refresh=False)

        def on_train_end(self, args, state, control, **kwargs):
            if self.bar is not None:
                self.bar.close()

    return LossBar()


def _mps() -> bool:
    import torch

    return bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())


def _device_desc(trainer) -> str:
    import torch

    dev = trainer.args.device
    if dev.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(dev)}) x{trainer.args.world_size}"
    return f"{dev.type} ({torch.get_num_threads()} threads)"


def summary_line(result: FinetuneResult) -> str:
    c = result.card
    last = c["loss"]["eval_per_epoch"][-1]["eval_loss"] if c["loss"]["eval_per_epoch"] else None
    first = c["loss"]["train_per_step"][0]["loss"] if c["loss"]["train_per_step"] else None
    final = c["loss"]["train_per_step"][-1]["loss"] if c["loss"]["train_per_step"] else None
    parts = [f"saved {result.out}", f"{c['steps']} steps in {c['wall_seconds']:.0f} s on {c['device']}"]
    if first is not None:
        parts.append(f"train loss {first:.3f} -> {final:.3f}")
    if last is not None:
        parts.append(f"held-out loss {last:.3f}")
    if c.get("adapter"):
        a = c["adapter"]
        parts.append(f"LoRA adapter: {a['trainable_parameters']:,} trainable parameters ({a['trainable_share']:.2%})")
    if c.get("dpo", {}).get("margins_per_step"):
        m = c["dpo"]["margins_per_step"]
        parts.append(f"reward margin {m[0]['margin']:.3f} -> {m[-1]['margin']:.3f}")
    return "; ".join(parts)


__all__ = ["FinetuneConfig", "FinetuneResult", "OPTIMIZERS", "METHODS", "Examples", "train_sft", "build_optimizer",
           "optimizer_spec", "check_config", "summary_line", "default_lr"]

"""Preference training (DPO) on pairs: `workbench finetune --method dpo --data pairs.jsonl`.

The pairs file is JSONL, one ``{"prompt", "chosen", "rejected"}`` per line: what
`workbench annotate export --format dpo` writes (prompt = the chat messages, chosen/rejected = answer
texts), or any file where the prompt is a string (taken as one user message) and the answers are strings
or assistant messages. Every pair goes through the tokenizer's chat template, as in supervised training.

trl's DPOTrainer does the work (checked against trl 1.16: `DPOConfig`, `DPOTrainer(model, ref_model,
args, train_dataset, eval_dataset, processing_class, peft_config)`). The reference model is what trl
documents: with LoRA, the same base with the adapter switched off (no second copy in memory); for a full
fine-tune, a frozen copy of the base loaded from its folder. The optimizer is the user's choice, as
for supervised training. The card records the reward margin (chosen minus rejected, in units of beta
times log-probability ratio) per step and, given --session, the votes the pairs came from.
"""

from __future__ import annotations

import json
import random
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

from workbench.errors import DatasetError, UserError
from workbench.finetune import card as card_lib
from workbench.finetune import lora as lora_lib
from workbench.finetune.data import ROLES, fingerprint, parse_eval_split

FIELDS = ("prompt", "chosen", "rejected")


def load_pairs(path: str) -> list[dict[str, Any]]:
    """Pairs in trl's conversational form; a bad line is one error naming file:line and the field."""
    p = Path(path)
    if not p.is_file():
        raise UserError("file not found", path)
    pairs = []
    with p.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            where = f"{path}:{n}"
            try:
                row = json.loads(line)
            except ValueError as e:
                raise DatasetError(f"not valid JSON ({e.msg})", where) from None
            if not isinstance(row, dict):
                raise DatasetError('expected an object with "prompt", "chosen" and "rejected"', where)
            missing = [k for k in FIELDS if k not in row]
            if missing:
                raise DatasetError(f"no {', '.join(repr(k) for k in missing)} field (a DPO pair needs "
                                   f"{', '.join(FIELDS)})", where)
            pairs.append({"prompt": _prompt(row["prompt"], where), "chosen": _answer(row["chosen"], "chosen", where),
                          "rejected": _answer(row["rejected"], "rejected", where)})
    if not pairs:
        raise DatasetError("file is empty: no pairs to train on", path)
    return pairs


def _prompt(value: Any, where: str) -> list[dict[str, str]]:
    if isinstance(value, str) and value.strip():
        return [{"role": "user", "content": value}]
    if isinstance(value, list) and value:
        msgs = []
        for k, m in enumerate(value, 1):
            if not isinstance(m, dict) or m.get("role") not in ROLES or not isinstance(m.get("content"), str):
                raise DatasetError(f"prompt message {k} needs a role ({', '.join(ROLES)}) and a string content", where)
            msgs.append({"role": m["role"], "content": m["content"]})
        return msgs
    raise DatasetError("'prompt' must be a non-empty string or a list of chat messages", where)


def _answer(value: Any, field: str, where: str) -> list[dict[str, str]]:
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict):
        value = value[0].get("content") if value[0].get("role") == "assistant" else None
    if not isinstance(value, str) or not value.strip():
        raise DatasetError(f"{field!r} must be a non-empty answer text", where)
    return [{"role": "assistant", "content": value}]


def session_votes(db: str | None, session: str) -> dict[str, Any]:
    """Which pairwise session the pairs came from and how its votes fell (for the card)."""
    from workbench import store
    from workbench.rating import annotation

    with store.connect(db) as con:
        sid = store.resolve_session(con, session)
        info = store.get_session(con, sid)
        if info["scale"] != "pairwise":
            raise UserError(f"session {sid} rates single outputs, not pairs", setting="session")
        ratings = annotation.session_ratings(con, sid)
    votes = {str(k): int(v) for k, v in ratings["value"].value_counts().items()} if len(ratings) else {}
    majority = 0
    for _item, g in ratings.groupby("item_idx") if len(ratings) else []:
        counts = g["value"].value_counts()
        if max(int(counts.get("A", 0)), int(counts.get("B", 0))) * 2 > len(g):
            majority += 1
    return {"id": sid, "name": info.get("name"), "runs": list(info["runs"]), "items": int(info["n_items"]),
            "votes": int(len(ratings)), "votes_by_value": votes, "items_with_majority": majority}


def split_pairs(pairs: list[dict], eval_split: str | float, seed: int) -> tuple[list[dict], list[dict]]:
    frac = parse_eval_split(eval_split)
    if isinstance(frac, str):
        raise UserError("DPO pairs have no split field: give a fraction such as 0.1", setting="eval_split")
    order = list(range(len(pairs)))
    random.Random(seed).shuffle(order)
    n_eval = min(round(len(pairs) * frac), len(pairs) - 1) if frac > 0 and len(pairs) > 1 else 0
    if frac > 0 and len(pairs) > 1:
        n_eval = max(n_eval, 1)
    return [pairs[i] for i in sorted(order[n_eval:])], [pairs[i] for i in sorted(order[:n_eval])]


def train_dpo(cfg):
    """Train on preference pairs and save (an adapter with cfg.lora, else the whole model) with its card."""
    from workbench.finetune.train import FinetuneResult, _context, _device_desc, default_lr, load_base

    started = time.perf_counter()
    if cfg.base == "tiny":
        raise UserError("DPO improves a model that already answers: give --base PATH (e.g. models/support-tiny)",
                        setting="base")
    pairs = load_pairs(cfg.data)
    train, evals = split_pairs(pairs, cfg.eval_split, cfg.seed)
    session = session_votes(cfg.db, cfg.session) if cfg.session else None
    model, tokenizer, base_desc = load_base(cfg.base, [], cfg.tiny, cfg.seed, bool(cfg.lora and cfg.lora.load_in_4bit))
    targets = lora_lib.resolve_targets(model, cfg.lora.targets) if cfg.lora else []
    lr = default_lr(cfg)
    with tempfile.TemporaryDirectory(prefix="workbench-dpo-") as scratch:
        trainer = _make_trainer(cfg, model, tokenizer, train, evals, lr, targets, _context(model, tokenizer), scratch)
        train_started = time.perf_counter()
        with lora_lib.quiet_peft():
            trainer.train()
        train_seconds = time.perf_counter() - train_started
    out = Path(cfg.out)
    if not trainer.is_world_process_zero():
        return FinetuneResult(out, {})
    out.mkdir(parents=True, exist_ok=True)
    model = trainer.model
    tokenizer.padding_side = "left"
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    history = card_lib.loss_history(trainer.state.log_history)
    card = {
        "base": base_desc, "trained_from_scratch": False, "method": "dpo",
        "objective": f"DPO (sigmoid loss, beta {cfg.beta:g}) against the base as reference model "
                     f"({'adapter switched off' if cfg.lora else 'a frozen copy'})",
        "parameters": sum(p.numel() for p in model.parameters()),
        "data": {"path": cfg.data, "hash": fingerprint(pairs), "pairs": len(pairs), "train_pairs": len(train),
                 "eval_pairs": len(evals), "session": session},
        "optimizer": cfg.optimizer,
        "hyperparameters": {"lr": lr, "beta": cfg.beta, "epochs": cfg.epochs, "batch_size": cfg.batch_size,
                            "weight_decay": cfg.weight_decay, "warmup": cfg.warmup, "seed": cfg.seed,
                            "max_steps": cfg.max_steps, "eval_split": cfg.eval_split, "lr_schedule": "linear"},
        "steps": trainer.state.global_step, "loss": history, "dpo": reward_history(trainer.state.log_history),
        "train_seconds": round(train_seconds, 2), "wall_seconds": round(time.perf_counter() - started, 2),
        "device": _device_desc(trainer),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    if cfg.lora:
        card["adapter"] = lora_lib.adapter_section(cfg.lora, targets, cfg.base, model)
    name = cfg.name or out.name
    card_lib.plot_losses(history, out / "loss_curve.png", title=f"{name}: dpo, {cfg.optimizer}, lr {lr:g}")
    card_lib.write_dpo_card(card, out, name)
    if cfg.merge:
        lora_lib.merge(out)
    return FinetuneResult(out, card)


def reward_history(log_history: list[dict[str, Any]]) -> dict[str, list[dict[str, float]]]:
    """Per logged step: reward margin (chosen minus rejected) and the share of pairs ranked right."""
    steps = [{"step": h["step"], "margin": h["rewards/margins"], "accuracy": h.get("rewards/accuracies")}
             for h in log_history if "rewards/margins" in h and "step" in h]
    evals = [{"step": h["step"], "margin": h["eval_rewards/margins"], "accuracy": h.get("eval_rewards/accuracies")}
             for h in log_history if "eval_rewards/margins" in h]
    return {"margins_per_step": steps, "eval": evals}


def _make_trainer(cfg, model, tokenizer, train, evals, lr, targets, max_length, scratch):
    import torch
    from datasets import Dataset, disable_progress_bars
    from transformers import PrinterCallback, ProgressCallback
    from trl import DPOConfig, DPOTrainer

    from workbench.finetune.train import _mps, _progress_callback, checkpointing_arg, optimizer_spec

    cuda = torch.cuda.is_available() and cfg.device in ("auto", "cuda")
    if cfg.device == "cuda" and not torch.cuda.is_available():
        raise UserError("CUDA is not available on this machine", setting="device")
    tokenizer.padding_side = "left"  # what trl's collator expects
    args = DPOConfig(
        output_dir=scratch, per_device_train_batch_size=cfg.batch_size, per_device_eval_batch_size=cfg.batch_size,
        num_train_epochs=cfg.epochs, max_steps=cfg.max_steps, learning_rate=lr, weight_decay=cfg.weight_decay,
        warmup_steps=cfg.warmup, lr_scheduler_type="linear", beta=cfg.beta, max_length=max_length,
        logging_strategy="steps", logging_steps=1, eval_strategy="epoch" if evals else "no", save_strategy="no",
        report_to="none", seed=cfg.seed, use_cpu=cfg.device == "cpu" or (cfg.device == "auto" and not cuda and not _mps()),
        bf16=cuda and torch.cuda.is_bf16_supported(), fp16=cuda and not torch.cuda.is_bf16_supported(),
        dataloader_num_workers=0, disable_tqdm=True, **checkpointing_arg(DPOConfig, cfg.gradient_checkpointing),
    )
    disable_progress_bars()  # per-map bars of the datasets library; the training bar is ours
    with lora_lib.quiet_peft():
        trainer = DPOTrainer(
            model=model, args=args, train_dataset=Dataset.from_list(train),
            eval_dataset=Dataset.from_list(evals) if evals else None, processing_class=tokenizer,
            peft_config=lora_lib.lora_config(cfg.lora, targets) if cfg.lora else None,
        )
    # DPOTrainer takes no optimizer class; the Trainer it extends reads this attribute when it builds one.
    trainer.optimizer_cls_and_kwargs = optimizer_spec(cfg.optimizer, lr, cfg.weight_decay)
    trainer.remove_callback(ProgressCallback)
    trainer.remove_callback(PrinterCallback)
    if cfg.progress:
        trainer.add_callback(_progress_callback())
    return trainer

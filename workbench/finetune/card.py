"""Model card (model_card.json + README.md) and loss-curve image written beside a fine-tuned model."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from workbench.files import open_for_write, write_file


def loss_history(log_history: list[dict[str, Any]]) -> dict[str, list[dict[str, float]]]:
    """Split the Trainer's log into train loss per step and held-out loss per epoch."""
    train = [{"step": h["step"], "epoch": round(h.get("epoch", 0.0), 4), "loss": h["loss"]}
             for h in log_history if "loss" in h and "step" in h]
    evals = [{"step": h["step"], "epoch": round(h.get("epoch", 0.0), 4), "eval_loss": h["eval_loss"]}
             for h in log_history if "eval_loss" in h]
    per_epoch: dict[int, list[float]] = {}
    for t in train:
        per_epoch.setdefault(max(0, int(-(-t["epoch"] // 1)) - 1), []).append(t["loss"])  # step in epoch k+1
    train_epochs = [{"epoch": k + 1, "loss": sum(v) / len(v)} for k, v in sorted(per_epoch.items())]
    return {"train_per_step": train, "train_per_epoch": train_epochs, "eval_per_epoch": evals}


def build_card(*, base: str, from_scratch: bool, data: str, examples, n_train_examples: int, n_eval_examples: int,
               tokens_trained: int, optimizer: str, hyper: dict[str, Any], tiny: dict | None, parameters: int,
               history: dict, steps: int, train_seconds: float, wall_seconds: float, device: str,
               peak_rss_mb: float, host: dict[str, str]) -> dict[str, Any]:
    return {
        "base": base,
        "trained_from_scratch": from_scratch,
        "architecture": tiny,
        "parameters": parameters,
        "data": {"path": data, "hash": examples.data_hash, "dataset_hash": examples.dataset_hash,
                 "source": examples.source, "prompts": examples.prompts,
                 "rows": examples.rows_total, "rows_excluded_test_split": examples.rows_excluded,
                 "train_examples": n_train_examples, "eval_examples": n_eval_examples,
                 "assistant_tokens_per_epoch": tokens_trained},
        "objective": "cross-entropy on assistant tokens only (prompt tokens labelled -100)",
        "optimizer": optimizer,
        "hyperparameters": hyper,
        "steps": steps,
        "loss": history,
        "train_seconds": round(train_seconds, 2),
        "wall_seconds": round(wall_seconds, 2),
        "device": device,
        "peak_rss_mb": round(peak_rss_mb, 1),
        "software": host,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def write_card(card: dict[str, Any], out: Path, name: str) -> None:
    write_file(out / "model_card.json", json.dumps(card, indent=2, ensure_ascii=False) + "\n")
    write_file(out / "README.md", markdown(card, name))


def markdown(card: dict[str, Any], name: str) -> str:
    d, h, loss = card["data"], card["hyperparameters"], card["loss"]
    if card["trained_from_scratch"]:
        a = card["architecture"] or {}
        origin = (f"**Trained from scratch** on the data below: a {a.get('layers')}-layer Llama-architecture decoder "
                  f"(hidden size {a.get('hidden_size')}, {card['parameters']:,} parameters) and a byte-level BPE "
                  "tokenizer learned from the same data. It was not pretrained on anything else: it knows the answers "
                  "and wording of its training data, not English in general.")
    else:
        origin = f"Fine-tuned from `{card['base']}` ({card['parameters']:,} parameters)."
    prompts = ", ".join(f"`{p['path']}`" for p in d["prompts"]) or "none (OpenAI chat messages)"
    first = loss["train_per_step"][0]["loss"] if loss["train_per_step"] else None
    last = loss["train_per_step"][-1]["loss"] if loss["train_per_step"] else None
    lines = [
        f"# {name}",
        "",
        origin,
        "",
        "Load it with `--model hf:PATH` where PATH is this folder.",
        "",
        "## Data",
        f"- file: `{d['path']}` (hash `{d['hash']}`), {d['rows']} rows, {d['rows_excluded_test_split']} with split "
        "`test` left out of training",
        f"- rendered through: {prompts}",
        f"- {d['train_examples']} training and {d['eval_examples']} held-out examples; "
        f"{d['assistant_tokens_per_epoch']:,} assistant tokens per epoch",
        "",
        "## Training",
        f"- objective: {card['objective']}",
        f"- optimizer: {card['optimizer']}, learning rate {h['lr']:g} ({h['lr_schedule']} schedule, warmup {h['warmup']:g}),"
        f" weight decay {h['weight_decay']:g}",
        f"- epochs {h['epochs']:g}, batch size {h['batch_size']}, {card['steps']} steps, seed {h['seed']}",
        f"- device: {card['device']}; wall time {card['wall_seconds']:.1f} s (training {card['train_seconds']:.1f} s); "
        f"peak RSS {card['peak_rss_mb']:.0f} MB",
        "",
        "## Loss",
    ]
    if first is not None:
        lines.append(f"- train loss: first step {first:.4f}, last step {last:.4f}")
    lines += ["", "| epoch | train loss (mean) | held-out loss |", "|---|---|---|"]
    evals = {round(e["epoch"]): e["eval_loss"] for e in loss["eval_per_epoch"]}
    for t in loss["train_per_epoch"]:
        ev = evals.get(t["epoch"])
        lines.append(f"| {t['epoch']} | {t['loss']:.4f} | {'-' if ev is None else f'{ev:.4f}'} |")
    lines += ["", "![loss curve](loss_curve.png)", "", f"Created {card['created']}.", ""]
    return "\n".join(lines)


def plot_losses(history: dict, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    train = history["train_per_step"]
    if train:
        ax.plot([t["step"] for t in train], [t["loss"] for t in train], label="train (per step)", lw=1)
    evals = history["eval_per_epoch"]
    if evals:
        ax.plot([e["step"] for e in evals], [e["eval_loss"] for e in evals], "o-", label="held-out (per epoch)")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy (assistant tokens)")
    ax.set_yscale("log")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    with open_for_write(path, binary=True) as f:
        fig.savefig(f, format="png")
    plt.close(fig)

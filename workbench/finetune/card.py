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
                 "source": examples.source, "prompts": examples.prompts, "languages": examples.languages,
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
                  f"tokenizer{' (each Chinese character a token of its own)' if a.get('split_cjk') else ''} "
                  "learned from the same data. It was not pretrained on anything else: it knows the answers "
                  "and wording of its training data, not its languages in general.")
    elif card.get("adapter"):
        origin = adapter_origin(card)
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
        f"- languages: {', '.join(d.get('languages') or ['unknown'])}",
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
    lines += ["", "![loss curve](loss_curve.png)", ""]
    if card.get("held_out_scores"):
        lines += held_out_lines(card["held_out_scores"])
    lines += [f"Created {card['created']}.", ""]
    return "\n".join(lines)


def held_out_lines(scores: list[dict[str, Any]]) -> list[str]:
    """The scores measured on held-out rows after training (the default model records them)."""
    lines = ["## Held-out scores", "", "| language | prompt | rows | exact | ROUGE-L | chrF | BLEU |",
             "|---|---|---|---|---|---|---|"]
    for s in scores:
        lines.append(f"| {s['lang']} | {s['prompt']} | {s['rows']} | {s['exact']:.2f} | {s['rougeL']:.2f} | "
                     f"{s['chrf']:.2f} | {s.get('bleu', float('nan')):.3f} |")
    return [*lines, ""]


def adapter_origin(card: dict[str, Any]) -> str:
    a = card["adapter"]
    text = (f"**LoRA adapter** on `{a['base_path']}` (weights hash `{a['base_hash']}`): rank {a['r']}, alpha "
            f"{a['alpha']:g}, dropout {a['dropout']:g} on {', '.join(f'`{t}`' for t in a['targets'])}; "
            f"{a['trainable_parameters']:,} trainable of {a['total_parameters']:,} parameters "
            f"({a['trainable_share']:.2%}). `hf:` finds the base from this card"
            f"{' (base loaded in 4-bit NF4)' if a.get('load_in_4bit') else ''}.")
    if a.get("merged_into"):
        text += f" Base and adapter merged into one model: `{a['merged_into']}`."
    return text


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


def write_dpo_card(card: dict[str, Any], out: Path, name: str) -> None:
    write_file(out / "model_card.json", json.dumps(card, indent=2, ensure_ascii=False) + "\n")
    write_file(out / "README.md", dpo_markdown(card, name))


def dpo_markdown(card: dict[str, Any], name: str) -> str:
    d, h, margins = card["data"], card["hyperparameters"], card["dpo"]["margins_per_step"]
    origin = adapter_origin(card) if card.get("adapter") else f"Fine-tuned from `{card['base']}` (whole model)."
    lines = [f"# {name}", "", "Preference-trained (DPO). " + origin, "",
             "Load it with `--model hf:PATH` where PATH is this folder.", "", "## Data",
             f"- pairs: `{d['path']}` (hash `{d['hash']}`), {d['pairs']} pairs: {d['train_pairs']} trained on, "
             f"{d['eval_pairs']} held out"]
    s = d.get("session")
    if s:
        by = ", ".join(f"{k} {v}" for k, v in sorted(s["votes_by_value"].items()))
        named = f" ({s['name']})" if s.get("name") else ""
        lines.append(f"- from pairwise session `{s['id']}`{named}: {s['items']} items, {s['votes']} votes ({by}), {s['items_with_majority']} with a majority")
    lines += ["", "## Training", f"- objective: {card['objective']}",
              f"- optimizer: {card['optimizer']}, learning rate {h['lr']:g}, beta {h['beta']:g}, epochs {h['epochs']:g}, "
              f"batch size {h['batch_size']}, {card['steps']} steps, seed {h['seed']}",
              f"- device: {card['device']}; wall time {card['wall_seconds']:.1f} s; peak RSS {card['peak_rss_mb']:.0f} MB"]
    if margins:
        lines.append(f"- reward margin (chosen - rejected): first step {margins[0]['margin']:.4f}, "
                     f"last step {margins[-1]['margin']:.4f}")
    lines += ["", "![loss curve](loss_curve.png)", ""]
    return "\n".join(lines)


LANGUAGE_NAMES = {"en": "English", "zh": "Chinese"}


def trained_languages(spec: str) -> list[str] | None:
    """The languages an `hf:FOLDER` model's card says its training data was in; None when unknown (not a
    local model, no card, or a card written before cards recorded languages)."""
    if not spec.startswith("hf:"):
        return None
    card = Path(spec[3:].split("?", 1)[0]) / "model_card.json"
    try:
        langs = json.loads(card.read_text(encoding="utf-8")).get("data", {}).get("languages")
    except (OSError, ValueError, AttributeError):
        return None
    return langs if isinstance(langs, list) and langs else None


def language_warnings(specs: list[str], lang: str) -> list[str]:
    """One line per local model that was not trained on the dataset's language (`lang`: en, zh or auto for
    both): a model trained from scratch on English has never seen a Chinese character, and the reverse."""
    wanted = ["en", "zh"] if lang == "auto" else [lang]
    out = []
    for spec in dict.fromkeys(specs):
        langs = trained_languages(spec)
        missing = [x for x in wanted if langs is not None and x not in langs]
        if missing:
            names = ", ".join(LANGUAGE_NAMES.get(x, x) for x in langs)
            out.append(f"{spec} was trained on {names} only, and this dataset is "
                       f"{' and '.join(LANGUAGE_NAMES.get(x, x) for x in missing)}: expect answers that miss; choose a "
                       "model trained on that language (or fine-tune one: workbench finetune)")
    return out

"""Held-out scores of the default local models, per language and bundled prompt (zero-shot, few-shot, knowledge).

The `test` rows of datasets/support_en.jsonl and support_zh.jsonl are paraphrases the models never saw in
training. Each language's rows are answered by that language's default model (models/support-tiny,
models/support-tiny-zh) through the bundled prompts of the language (the knowledge prompts retrieve from the
FAQ bases faq_en / faq_zh, built in a temporary database as `workbench kb add` builds them) and scored, every
metric on 0-1: exact (share answered word for word), ROUGE-L, chrF, BLEU (zh tokenizer for Chinese); rows that
errored (e.g. a prompt longer than the model's context) are counted, not scored. `--write` stores each table in
its model's card (model_card.json `held_out_scores` and README.md), where the README's figures come from. Not a
speed benchmark: it lives here because it is a measurement run on demand, not a test.

    .venv/bin/python bench/default_model_scores.py [--lang en|zh] [--model hf:PATH] [--knowledge] [--write]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from workbench import api  # noqa: E402
from workbench.demo import split_rows  # noqa: E402
from workbench.finetune import card as card_lib  # noqa: E402
from workbench.finetune import default_model  # noqa: E402

METRICS = "exact,rougeL,chrf,bleu"


def measure(spec: str, lang: str, bundled: default_model.DefaultModel | None = None) -> list[dict]:
    """The held-out rows of `lang`'s dataset through its zero-shot, few-shot and knowledge prompts on `spec`
    (through `bundled`'s prompts and knowledge prompt when given, e.g. a knowledge model's)."""
    bundled = bundled or default_model.MODELS[lang]
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "scores.duckdb")
        default_model.add_bases(db)
        dataset = split_rows(api.load_dataset(ROOT / bundled.data), "test")
        prompts = [ROOT / p for p in dict.fromkeys((*bundled.prompts, bundled.knowledge))]
        for s in api.evaluate(prompts, dataset, [spec], METRICS, db=db).summaries():
            means = {m.metric: m.mean for m in s.metrics}
            out.append({"lang": dataset.lang, "prompt": s.run["prompt_name"], "rows": s.n_outputs,
                        "errors": s.n_errors, **{k: round(means.get(k, float("nan")), 4) for k in METRICS.split(",")}})
    return out


def show(spec: str, scores: list[dict]) -> None:
    print(f"{spec}\n{'lang':4} {'prompt':28} {'rows':>4} {'exact':>6} {'rougeL':>7} {'chrF':>6} {'BLEU':>6}")
    for s in scores:
        print(f"{s['lang']:4} {s['prompt']:28} {s['rows']:>4} {s['exact']:>6.2f} {s['rougeL']:>7.2f} "
              f"{s['chrf']:>6.2f} {s['bleu']:>6.3f}" + (f"  ({s['errors']} errors)" if s["errors"] else ""))
    print()  # the same table in Markdown, for the README's *The default local model*
    print("\n".join(card_lib.held_out_lines(scores)[2:]))


def write(folder: Path, scores: list[dict]) -> None:
    card = json.loads((folder / "model_card.json").read_text(encoding="utf-8"))
    card["held_out_scores"] = scores
    card_lib.write_card(card, folder, folder.name)
    print(f"wrote the scores into {folder / 'model_card.json'} and README.md", file=sys.stderr)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lang", choices=list(default_model.MODELS), help="one language (default: each in turn)")
    ap.add_argument("--model", help="model spec (default: the bundled local model of each language); needs --lang")
    ap.add_argument("--knowledge", action="store_true",
                    help="the knowledge models instead (KNOWLEDGE_MODELS, through the knowledge prompt)")
    ap.add_argument("--write", action="store_true", help="store the scores in each default model's card")
    args = ap.parse_args()
    if args.model and (not args.lang or args.write):
        ap.error("--model needs --lang and cannot be written into a default model's card")
    models = default_model.KNOWLEDGE_MODELS if args.knowledge else default_model.MODELS
    if args.lang and args.lang not in models:
        ap.error(f"no knowledge model for {args.lang}")
    for lang in [args.lang] if args.lang else list(models):
        folder = default_model.model_dir(models[lang])
        spec = args.model or f"hf:{folder.as_posix()}"
        scores = measure(spec, lang, models[lang])
        show(spec, scores)
        if args.write:
            write(folder, scores)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Held-out scores of the default local model, per language and bundled prompt (zero-shot, few-shot, knowledge).

The `test` rows of datasets/support_en.jsonl and support_zh.jsonl are paraphrases the model never saw in
training. Each is answered through the bundled prompts of its language (the knowledge prompts retrieve
from the FAQ bases faq_en / faq_zh, built in a temporary database as `workbench kb add` builds them) and
scored, every metric on 0-1: exact (share answered word for word), ROUGE-L, chrF, BLEU (zh tokenizer for
Chinese); rows that errored (e.g. a prompt longer than the model's context) are counted, not scored. `--write` stores the table in the model's card (model_card.json `held_out_scores` and README.md),
where the README's figures come from. Not a speed benchmark: it lives here because it is a measurement
run on demand, not a test.

    .venv/bin/python bench/default_model_scores.py [--model hf:PATH] [--write]
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


def measure(spec: str) -> list[dict]:
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "scores.duckdb")
        default_model.add_bases(db)
        for data, prompts in default_model.SOURCES:
            dataset = split_rows(api.load_dataset(ROOT / data), "test")
            evaluation = api.evaluate([ROOT / p for p in prompts], dataset, [spec], METRICS, db=db)
            for s in evaluation.summaries():
                means = {m.metric: m.mean for m in s.metrics}
                out.append({"lang": dataset.lang, "prompt": s.run["prompt_name"], "rows": s.n_outputs,
                            "errors": s.n_errors, **{k: round(means.get(k, float("nan")), 4) for k in METRICS.split(",")}})
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", help="model spec (default: the bundled local model)")
    ap.add_argument("--write", action="store_true", help="store the scores in the default model's card")
    args = ap.parse_args()
    spec = args.model or default_model.default_model_spec()
    scores = measure(spec)
    print(f"{'lang':4} {'prompt':28} {'rows':>4} {'exact':>6} {'rougeL':>7} {'chrF':>6} {'BLEU':>6}")
    for s in scores:
        print(f"{s['lang']:4} {s['prompt']:28} {s['rows']:>4} {s['exact']:>6.2f} {s['rougeL']:>7.2f} "
              f"{s['chrf']:>6.2f} {s['bleu']:>6.3f}" + (f"  ({s['errors']} errors)" if s["errors"] else ""))
    print()  # the same table in Markdown, for the README's *The default local model*
    print("\n".join(card_lib.held_out_lines(scores)[2:]))
    if args.write:
        folder = default_model.default_model_dir()
        card = json.loads((folder / "model_card.json").read_text(encoding="utf-8"))
        card["held_out_scores"] = scores
        card_lib.write_card(card, folder, folder.name)
        print(f"wrote the scores into {folder / 'model_card.json'} and README.md", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

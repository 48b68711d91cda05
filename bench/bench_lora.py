"""LoRA vs full fine-tuning of the bundled model on CPU, and DPO on 500 pairs.

Both methods start from models/support-tiny and train for the same number of steps on the `train` rows
of datasets/support_en.jsonl rendered through the zero-shot prompt; each then answers the 34 held-out
`test` rows (paraphrases) greedily, scored with the project's metrics (sentence BLEU, ROUGE-L and exact
match, all on 0-1, averaged over rows). The untouched base is scored too, as the baseline. Each training
runs in its own process so that its peak RSS is its own. Then DPO with a LoRA adapter on 500 pairs
(chosen: the row's reference; rejected: another intent's answer) for one epoch: wall time and peak RSS.

    .venv/bin/python bench/bench_lora.py [--steps N] [--pairs N]

About 3-6 minutes on 2 idle CPU cores. Nothing is asserted: the figures are printed side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BASE = ROOT / "models" / "support-tiny"
DATA = ROOT / "datasets" / "support_en.jsonl"
PROMPT = ROOT / "prompts" / "support_zero_shot.yaml"


def held_out_scores(spec: str) -> dict[str, float]:
    from workbench import metrics as metric_lib
    from workbench.authoring.datasets import load_dataset
    from workbench.authoring.templates import load_prompt
    from workbench.providers import make_provider

    ds, prompt = load_dataset(str(DATA)), load_prompt(PROMPT)
    rows = [i for i, r in enumerate(ds.rows) if r.get("split") == "test"]
    provider = make_provider(f"{spec}?batch_size=16")
    done = []
    for k in range(0, len(rows), 16):
        chunk = rows[k:k + 16]
        done += provider.generate([prompt.render(ds.rows[i]) for i in chunk], {**prompt.params, "max_tokens": 64})
    ms = metric_lib.parse_metrics("bleu,rougeL,exact")
    scores = [metric_lib.score(d.text, ds.references(i), ms, "en") for d, i in zip(done, rows)]
    return {m: sum(s[m] for s in scores) / len(scores) for m in ("bleu", "rougeL", "exact")} | {"rows": len(rows)}


def train_one(method: str, out: str, steps: int, pairs: str | None) -> dict:
    """Runs in a child process: train, then print one JSON line of figures."""
    from workbench.finetune import finetune
    from workbench.finetune.lora import LoraOptions
    from workbench.finetune.train import FinetuneConfig

    lora = LoraOptions() if method in ("lora", "dpo") else None
    if method == "dpo":
        cfg = FinetuneConfig(data=pairs, out=out, base=str(BASE), method="dpo", lora=lora, lr=5e-4, epochs=1,
                             batch_size=16, eval_split=0, progress=False)
    else:
        cfg = FinetuneConfig(data=str(DATA), out=out, base=str(BASE), prompts=[str(PROMPT)], lora=lora,
                             lr=2e-3 if lora else 2e-4, max_steps=steps, batch_size=8, eval_split="test",
                             progress=False)
    start = time.perf_counter()
    card = finetune(cfg).card
    wall = time.perf_counter() - start
    trainable = card["adapter"]["trainable_parameters"] if lora else card["parameters"]
    figures = {"method": method, "wall_s": wall, "steps": card["steps"], "trainable": trainable,
               "total": card["parameters"], "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
               "size_mb": sum(f.stat().st_size for f in Path(out).iterdir() if f.is_file()) / 1e6}
    if method != "dpo":
        figures["scores"] = held_out_scores(f"hf:{out}")
    else:
        m = card["dpo"]["margins_per_step"]
        figures["margin"] = [m[0]["margin"], m[-1]["margin"]]
    return figures


def make_pairs(path: Path, n: int) -> None:
    rows = [json.loads(x) for x in DATA.read_text(encoding="utf-8").splitlines() if x.strip()]
    train = [r for r in rows if r.get("split") != "test"]
    rng = random.Random(0)
    with path.open("w", encoding="utf-8") as f:
        for k in range(n):
            row = train[k % len(train)]
            other = rng.choice([r for r in train if r["intent"] != row["intent"]])
            f.write(json.dumps({"prompt": row["question"], "chosen": row["reference"],
                                "rejected": other["reference"]}) + "\n")


def child(method: str, out: Path, steps: int, pairs: Path | None) -> dict:
    cmd = [sys.executable, __file__, "--child", method, "--out", str(out), "--steps", str(steps)]
    if pairs:
        cmd += ["--pairs-file", str(pairs)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, check=False)
    if done.returncode:
        raise SystemExit(f"{method} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=40, help="optimizer steps for each of LoRA and full (default 40)")
    ap.add_argument("--pairs", type=int, default=500, help="DPO pairs (default 500)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    ap.add_argument("--pairs-file", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(train_one(args.child, args.out, args.steps, args.pairs_file)))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        base = held_out_scores(f"hf:{BASE}")
        full = child("full", Path(tmp) / "full", args.steps, None)
        lora = child("lora", Path(tmp) / "lora", args.steps, None)
        pairs = Path(tmp) / "pairs.jsonl"
        make_pairs(pairs, args.pairs)
        dpo = child("dpo", Path(tmp) / "dpo", args.steps, pairs)
    print(f"base {BASE.relative_to(ROOT)}; {args.steps} steps of batch 8 each; held-out: {base['rows']} test rows, "
          f"zero-shot prompt, greedy; {os.cpu_count()} CPUs")
    print(f"{'':22}{'base':>10}{'full':>12}{'LoRA r16':>12}")
    print(f"{'wall time (s)':22}{'-':>10}{full['wall_s']:>12.1f}{lora['wall_s']:>12.1f}")
    print(f"{'peak RSS (MB)':22}{'-':>10}{full['peak_rss_mb']:>12.0f}{lora['peak_rss_mb']:>12.0f}")
    print(f"{'trainable parameters':22}{'-':>10}{full['trainable']:>12,}{lora['trainable']:>12,}")
    print(f"{'saved size (MB)':22}{'-':>10}{full['size_mb']:>12.2f}{lora['size_mb']:>12.2f}")
    for m, scale in (("bleu", 1), ("rougeL", 1), ("exact", 1)):
        print(f"{'held-out ' + m:22}{base[m] * scale:>10.3f}{full['scores'][m]:>12.3f}{lora['scores'][m]:>12.3f}")
    print(f"DPO + LoRA, {args.pairs} pairs, 1 epoch ({dpo['steps']} steps of 16): wall {dpo['wall_s']:.1f} s, "
          f"peak RSS {dpo['peak_rss_mb']:.0f} MB, reward margin {dpo['margin'][0]:.3f} -> {dpo['margin'][1]:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

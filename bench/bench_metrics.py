"""Metric throughput: BLEU + chrF + ROUGE-1/2/L over English pairs, workbench vs the libraries.

    python bench/bench_metrics.py [--pairs 10000] [--workers 2]

The pairs are distinct: a reference from datasets/support_en.jsonl (~30 words) and a prediction made
from it by dropping, repeating and swapping words and adding words of another reference, each pair
numbered so no text repeats. Measured in the same run:
1. the naive loop: sacrebleu's sentence BLEU and chrF and rouge-score's RougeScorer called per pair in
   one process (what a script would do);
2. workbench: `BatchScorer` with --workers processes (the runner's scoring path), same metrics.
Prints rows/s of both, the ratio to the goal (4,000 rows/s) and to the naive loop, and checks that
every value is identical (==, not approximately) to the library's.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

GOAL = 4000.0
METRICS = "bleu,chrf,rouge1,rouge2,rougeL"


def make_pairs(n: int, seed: int = 0) -> list[tuple[str, str]]:
    rows = [json.loads(line) for line in (ROOT / "datasets" / "support_en.jsonl").read_text().splitlines() if line]
    refs = [r["reference"] for r in rows]
    rng = random.Random(seed)
    pairs = []
    for i in range(n):
        ref_words = rng.choice(refs).split()
        other = rng.choice(refs).split()
        pred = []
        for w in ref_words:
            x = rng.random()
            if x < 0.15:
                continue
            pred.append(w)
            if x > 0.93:
                pred.append(rng.choice(other))
        if len(pred) > 3 and rng.random() < 0.3:
            j = rng.randrange(len(pred) - 1)
            pred[j], pred[j + 1] = pred[j + 1], pred[j]
        pairs.append((" ".join(pred) + f" Ticket {i}.", " ".join(ref_words) + f" Case {i}."))
    return pairs


def naive(pairs):
    """The libraries as a script would call them, one pair at a time, in this process."""
    import sacrebleu
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"])
    out = []
    for pred, ref in pairs:
        r = scorer.score(ref, pred)
        out.append({
            "bleu": sacrebleu.sentence_bleu(pred, [ref]).score / 100,
            "chrf": sacrebleu.sentence_chrf(pred, [ref]).score / 100,
            "rouge1": r["rouge1"].fmeasure, "rouge2": r["rouge2"].fmeasure, "rougeL": r["rougeL"].fmeasure,
        })
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=10000)
    ap.add_argument("--workers", type=int, default=2, help="scoring processes (the machine has 2 cores)")
    args = ap.parse_args()

    from workbench.metrics import parse_metrics
    from workbench.metrics.batch import BatchScorer

    pairs = make_pairs(args.pairs)
    print(f"{len(pairs)} distinct English pairs, prediction {sum(len(p.split()) for p, _ in pairs) / len(pairs):.0f} "
          f"words, reference {sum(len(r.split()) for _, r in pairs) / len(pairs):.0f} words on average; "
          f"{os.cpu_count()} CPUs, {args.workers} workers")

    t = time.perf_counter()
    want = naive(pairs)
    naive_s = time.perf_counter() - t

    items = [(p, [r], None, None) for p, r in pairs]
    ms = parse_metrics(METRICS)
    scorer = BatchScorer(ms, "en", pool=True, workers=args.workers)
    scorer.score_now(items[:50])  # the workers have started and imported sacrebleu
    t = time.perf_counter()
    got = scorer.score_now(items)
    ours_s = time.perf_counter() - t
    scorer.close()

    mismatches = sum(1 for a, b in zip(got, want) for k in b if a[k] != b[k])
    naive_rate, ours_rate = len(pairs) / naive_s, len(pairs) / ours_s
    print(f"naive library loop (1 process): {naive_rate:8,.0f} rows/s  ({naive_s:.2f} s)")
    print(f"workbench BatchScorer ({args.workers} proc):  {ours_rate:8,.0f} rows/s  ({ours_s:.2f} s)")
    print(f"ratio to goal {GOAL:,.0f} rows/s: {ours_rate / GOAL:.2f}   speed-up over the naive loop: "
          f"{ours_rate / naive_rate:.2f}x")
    print(f"values identical to sacrebleu / rouge-score: {len(pairs) * 5 - mismatches} of {len(pairs) * 5}"
          + ("" if not mismatches else f"  ({mismatches} DIFFER)"))
    if mismatches:
        raise SystemExit(1)


if __name__ == "__main__":
    main()

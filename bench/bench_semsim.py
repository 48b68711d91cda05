"""`semsim` throughput: pairs per second on 10,000 English pairs, and its overhead over the model itself.

    python bench/bench_semsim.py [--pairs 10000] [--batch 0]

Pairs: the bundled English support answers, each prediction and reference made distinct by a ticket number
(so the metric's de-duplication of repeated texts does not flatter it), half of them a row's own reference
(similar) and half another row's (unrelated). Measured in one process, after the model is loaded (its
load time is printed apart):
- semsim through MetricSet.score_batch, all pairs at once (or --batch N at a time, as a run scores them
  while outputs arrive): wall and CPU seconds, pairs/s;
- the baseline, in the same run: sentence-transformers' own `encode` of the same texts and
  `util.pairwise_cos_sim`, which is all the work semsim has to do; the ratio semsim / baseline is its overhead.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def pairs(n: int, seed: int = 0) -> list[tuple[str, str]]:
    refs = [json.loads(line)["reference"] for line in (ROOT / "datasets" / "support_en.jsonl")
            .read_text(encoding="utf-8").splitlines() if line.strip()]
    rng = random.Random(seed)
    out = []
    for i in range(n):
        a = rng.randrange(len(refs))
        b = a if i % 2 == 0 else rng.randrange(len(refs))
        out.append((f"{refs[a]} (ticket {i})", f"{refs[b]} (ticket {n + i})"))
    return out


def timed(fn):
    t, c = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - t, time.process_time() - c


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pairs", type=int, default=10_000)
    p.add_argument("--batch", type=int, default=0, help="pairs per score_batch call (0: all at once)")
    args = p.parse_args()
    import torch
    from sentence_transformers import util

    from workbench import metrics
    from workbench.metrics import embeddings

    data = pairs(args.pairs)
    _, load_s, _ = timed(lambda: embeddings.model("bench"))
    ms = metrics.parse_metrics("semsim")
    ms.score_batch(["warm up"], [["warm up"]], "en")
    step = args.batch or len(data)

    def semsim():
        out = []
        for i in range(0, len(data), step):
            part = data[i:i + step]
            out += ms.score_batch([a for a, _ in part], [[b] for _, b in part], "en")
        return out

    def baseline():
        model = embeddings.model("bench")
        a = model.encode([a for a, _ in data], batch_size=embeddings.BATCH, convert_to_tensor=True,
                         normalize_embeddings=True, show_progress_bar=False)
        b = model.encode([b for _, b in data], batch_size=embeddings.BATCH, convert_to_tensor=True,
                         normalize_embeddings=True, show_progress_bar=False)
        return util.pairwise_cos_sim(a, b).tolist()

    base, base_wall, base_cpu = timed(baseline)
    scores, wall, cpu = timed(semsim)
    mean_same = sum(s["semsim"] for s in scores[0::2]) / len(scores[0::2])
    mean_other = sum(s["semsim"] for s in scores[1::2]) / len(scores[1::2])
    agree = max(abs(s["semsim"] - max(0.0, min(1.0, b))) for s, b in zip(scores, base))
    device = "cuda" if torch.cuda.is_available() else f"cpu ({torch.get_num_threads()} threads)"
    print(f"semsim on {len(data):,} English pairs ({device}; model load {load_s:.1f} s, not counted)")
    print(f"  semsim (score_batch of {step:,}): {wall:.2f} s wall, {cpu:.2f} s CPU -> {len(data) / wall:,.0f} pairs/s")
    print(f"  baseline (sentence-transformers encode + pairwise_cos_sim): {base_wall:.2f} s wall, {base_cpu:.2f} s CPU"
          f" -> {len(data) / base_wall:,.0f} pairs/s")
    print(f"  semsim / baseline: wall {wall / base_wall:.2f}, CPU {cpu / max(base_cpu, 1e-9):.2f}; "
          f"largest difference from the baseline's cosine {agree:.1e}")
    print(f"  mean semsim: own reference {mean_same:.3f}, another row's {mean_other:.3f}")


if __name__ == "__main__":
    main()

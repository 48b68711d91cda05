"""Batched vs one-at-a-time generation on the demo model (hf:models/support-tiny).

Figure (issue 4): generated tokens per second with the runner's batches (batch_size rows, left-padded,
one generate call) against one row per call, over the same rows with greedy decoding, printed as the
ratio batched/single and that ratio over its goal of 4x (>= 1.0 meets it). Both passes produce the
same text (checked). Uses CUDA when it is there, else the CPU.

    .venv/bin/python bench/bench_generation.py [--rows 68] [--batch-size 16] [--device auto]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from workbench.authoring.templates import load_prompt  # noqa: E402
from workbench.finetune.default_model import ensure_default_model  # noqa: E402
from workbench.providers import make_provider  # noqa: E402

GOAL = 4.0


def conversations(n: int) -> tuple[list, dict]:
    rows = [json.loads(x) for x in (ROOT / "datasets" / "support_en.jsonl").read_text().splitlines() if x]
    prompts = [load_prompt(ROOT / "prompts" / "support_zero_shot.yaml"),
               load_prompt(ROOT / "prompts" / "support_few_shot.yaml")]
    convs = [p.render(r) for r in rows for p in prompts]
    return convs[:n], prompts[0].params


def timed(provider, convs, params, batch: int) -> tuple[float, int, list[str]]:
    start = time.perf_counter()
    texts, tokens = [], 0
    for i in range(0, len(convs), batch):
        for r in provider.generate(convs[i:i + batch], params):
            texts.append(r.text)
            tokens += r.tokens_out
    return time.perf_counter() - start, tokens, texts


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=68)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--device", default="auto")
    args = ap.parse_args()
    folder = ensure_default_model()
    provider = make_provider(f"hf:{folder}?device={args.device}")
    convs, params = conversations(args.rows)
    params = {**params, "temperature": 0}
    timed(provider, convs[:4], params, 4)  # warm-up: first-call allocations, kernels
    t_single, tok_single, single = timed(provider, convs, params, 1)
    t_batch, tok_batch, batched = timed(provider, convs, params, args.batch_size)
    same = sum(a == b for a, b in zip(single, batched))
    rate_single, rate_batch = tok_single / t_single, tok_batch / t_batch
    ratio = rate_batch / rate_single
    print(f"model {folder} on {provider.device} ({provider.dtype}); {len(convs)} rows, greedy, "
          f"max_tokens {params.get('max_tokens')}")
    print(f"one at a time      : {t_single:7.2f} s  {tok_single:6d} tokens  {rate_single:9.1f} tokens/s")
    print(f"batches of {args.batch_size:<7d} : {t_batch:7.2f} s  {tok_batch:6d} tokens  {rate_batch:9.1f} tokens/s")
    print(f"identical outputs  : {same}/{len(convs)}")
    print(f"batched / single   : {ratio:.2f}x   (goal >= {GOAL:g}x: ratio to goal {ratio / GOAL:.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

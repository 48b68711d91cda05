"""Fine-tune wall time and peak RSS of the demo model (the recipe in workbench/finetune/default_model.py).

Figures (issue 4): wall time of the whole `ensure_default_model` training (tokenizer, model, Trainer
epochs, saving) printed as a ratio to its bound of 180 s on 2 CPU cores (<= 1.0 meets it), the
process CPU time (which, divided by the cores it had, tells what an uncontended 2-core machine
would take), peak resident memory, and the held-out loss it reached. Trains into a temporary folder;
the shipped model is left alone. Uses CUDA when it is there.

The 180 s bound was set for the English recipe (288 steps). The Chinese one (`--lang zh`: two layers, and the
knowledge prompt's FAQ passages in a third of its training contexts, 320 longer steps) took 345 s of CPU time in
one thread on 2026-12-03 (600 s wall at a load average of about 5) and is expected to exceed it: a ratio above 1
there is that trade, not a regression.

    .venv/bin/python bench/bench_finetune.py [--lang en|zh] [--epochs N]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from workbench.finetune import default_model  # noqa: E402

BOUND_S = 180.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--epochs", type=float, help="override the recipe's epochs (for a quick look)")
    ap.add_argument("--lang", choices=list(default_model.MODELS), default="en", help="which default model (default en)")
    args = ap.parse_args()
    if args.epochs:
        default_model.RECIPE["epochs"] = args.epochs
    with tempfile.TemporaryDirectory() as tmp:
        start, cpu0 = time.perf_counter(), os.times()
        out = Path(tmp) / default_model.MODELS[args.lang].folder.name
        result = default_model.train_default_model(out, progress=sys.stderr.isatty(), lang=args.lang)
        wall, cpu1 = time.perf_counter() - start, os.times()
        size = sum(f.stat().st_size for f in out.iterdir())
    cpu = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
    card = result.card
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    evals = card["loss"]["eval_per_epoch"]
    print(f"recipe: {default_model.RECIPE} tiny {default_model.MODELS[args.lang].tiny}")
    print(f"device             : {card['device']}; {card['parameters']:,} parameters; {card['steps']} steps; "
          f"{size / 1e6:.1f} MB on disk")
    print(f"wall time          : {wall:7.1f} s   (bound {BOUND_S:g} s on 2 CPU cores: ratio {wall / BOUND_S:.2f})")
    print(f"CPU time           : {cpu:7.1f} s   ({cpu / 2:.1f} s if spread over 2 uncontended cores)")
    print(f"peak RSS           : {rss:7.0f} MB")
    print(f"train loss         : {card['loss']['train_per_step'][0]['loss']:.3f} -> "
          f"{card['loss']['train_per_step'][-1]['loss']:.3f}; held-out loss "
          f"{evals[0]['eval_loss']:.3f} -> {evals[-1]['eval_loss']:.3f}" if evals else "")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""`workbench score` as a whole process: 20,000 English pairs with BLEU, chrF and ROUGE-1/2/L.

    python bench/bench_score_cli.py [--pairs 20000] [--repeat 3] [--metrics bleu,chrf,rouge1,rouge2,rougeL]

What a user runs, start-up, file reading and the summary included (the pairs of bench/bench_metrics.py,
written to a JSONL file first). Prints rows/s of each run and the best one's ratio to the goal (4,000 rows/s
on the 2-core development machine); with --before PATH, an older checkout timed the same way, interleaved.
Each run's CPU time (user + system of the command and its scoring workers) is printed too: on a shared
machine wall time swings with the others' load, CPU time much less.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

GOAL = 4000.0


def main() -> None:
    from bench.bench_metrics import make_pairs

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=20000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--metrics", default="bleu,chrf,rouge1,rouge2,rougeL")
    ap.add_argument("--root", type=Path, default=ROOT, help="the checkout to time (default: this one)")
    ap.add_argument("--before", type=Path, help="an older checkout to time too, interleaved (ratio after/before)")
    args = ap.parse_args()

    roots = {"after": args.root.resolve(), **({"before": args.before.resolve()} if args.before else {})}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "pairs.jsonl"
        path.write_text("".join(json.dumps({"prediction": p, "reference": r}) + "\n"
                                for p, r in make_pairs(args.pairs)), encoding="utf-8")
        cmd = [sys.executable, "-m", "workbench", "score", str(path), "--metrics", args.metrics]
        print(f"{args.pairs} English pairs, metrics {args.metrics}, {os.cpu_count()} CPUs, "
              + ", ".join(f"{k} {v}" for k, v in roots.items()))
        rates: dict[str, list[float]] = {k: [] for k in roots}
        cpus: dict[str, list[float]] = {k: [] for k in roots}
        for _ in range(args.repeat):
            for name, root in roots.items():  # interleaved: both checkouts see the same load
                env = {**os.environ,
                       "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))}
                before = _children_cpu()
                t = time.perf_counter()
                p = subprocess.run(cmd, capture_output=True, text=True, cwd=root, env=env)
                seconds = time.perf_counter() - t
                if p.returncode != 0:
                    raise SystemExit(p.stderr[-2000:])
                rates[name].append(args.pairs / seconds)
                cpus[name].append(_children_cpu() - before)
                print(f"  {name}: workbench score {seconds:6.2f} s  {rates[name][-1]:8,.0f} rows/s  "
                      f"CPU {cpus[name][-1]:6.2f} s")
    best = max(rates["after"])
    print(f"best {best:,.0f} rows/s; ratio to goal {GOAL:,.0f} rows/s: {best / GOAL:.2f}"
          + (f"; before {max(rates['before']):,.0f} rows/s, after/before {best / max(rates['before']):.2f}"
             if args.before else ""))
    print(f"CPU (user + system, with the workers): least {min(cpus['after']):.2f} s"
          + (f"; before {min(cpus['before']):.2f} s, after/before {min(cpus['after']) / min(cpus['before']):.2f}"
             if args.before else ""))


def _children_cpu() -> float:
    """User + system seconds of the finished child processes (and theirs) so far."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


if __name__ == "__main__":
    main()

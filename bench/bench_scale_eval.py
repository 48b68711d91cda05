"""Flat memory at scale: `workbench eval` of 1,000 and of 100,000 rows, as whole processes.

    python bench/bench_scale_eval.py [--small 1000] [--big 100000] [--latency 0.005] [-j 64] [--metrics ...]

It starts the loopback OpenAI-protocol server (tests/openai_server.py) in a process of its own, writes
datasets of distinct customer-service questions, and runs ``workbench eval prompts/support_few_shot.yaml``
over each under ``/usr/bin/time -f %M``: the peak RSS of the eval process (and of the largest scoring
worker it waited for) as the kernel counted it. Measured from outside on purpose: ``ru_maxrss`` of a
child forked from a big Python parent starts at the parent's size (the pages are inherited across exec),
so a bench process cannot read its child's peak itself.

Goals (issue 20): peak RSS grows by at most 100 MB from --small to --big rows, and the wall time per row
of the big run stays within 10% of the small run's (both printed as ratios to their goals). The default
latency is 5 ms (not the 50 ms of bench_eval.py) so that 100,000 rows take minutes, not half an hour,
on a 2-core machine; the run is then bound by this process's CPU, which is what the per-row goal tests.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_eval import PROMPT, ROOT, start_server, write_dataset  # noqa: E402

TIME = "/usr/bin/time"


def run_eval(data: Path, base_url: str, db: Path, concurrency: int, metrics: str | None) -> dict:
    """Wall seconds, peak RSS (MB) and CPU seconds of one `workbench eval` process, with its --json summary."""
    cmd = [sys.executable, "-m", "workbench", "eval", str(PROMPT), "--data", str(data), "--model",
           f"openai:test@{base_url}", "--db", str(db), "-j", str(concurrency), "--json", "--no-cache"]
    if metrics:
        cmd += ["--metrics", metrics]
    start = time.perf_counter()
    p = subprocess.run([TIME, "-f", "TIME %M %U %S", *cmd], capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - start
    found = re.findall(r"^TIME (\d+) ([\d.]+) ([\d.]+)$", p.stderr, re.M)
    if p.returncode or not found:
        raise SystemExit(f"eval failed ({p.returncode}):\n{p.stderr[-3000:]}")
    kb, user, system = found[-1]
    summary = json.loads(p.stdout)
    run = summary["runs"][0]
    return {"wall": wall, "rss": int(kb) / 1024, "cpu": float(user) + float(system), "outputs": run["outputs"],
            "errors": run["errors"], "elapsed": summary["elapsed_s"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", type=int, default=1000)
    ap.add_argument("--big", type=int, default=100_000)
    ap.add_argument("--latency", type=float, default=0.005)
    ap.add_argument("-j", "--concurrency", type=int, default=64)
    ap.add_argument("--metrics", help="--metrics of the evals (default: the prompt's, BLEU/chrF/ROUGE included)")
    ap.add_argument("--trials", type=int, default=1, help="small runs (the best is kept); the big one runs once")
    args = ap.parse_args()
    if not os.path.exists(TIME):
        raise SystemExit(f"{TIME} is needed (Debian: apt-get install time)")
    server, base_url = start_server(args.latency)
    try:
        with tempfile.TemporaryDirectory(prefix="wb-scale-") as tmp:
            tmp = Path(tmp)
            results = {}
            for n in (args.small, args.big):
                data = tmp / f"rows{n}.jsonl"
                write_dataset(data, n)
                tries = [run_eval(data, base_url, tmp / f"r{n}-{t}.duckdb", args.concurrency, args.metrics)
                         for t in range(args.trials if n == args.small else 1)]
                best = min(tries, key=lambda r: r["wall"])
                best["rss"] = max(r["rss"] for r in tries)
                assert best["outputs"] == n and best["errors"] == 0, best
                results[n] = best
                print(f"{n:>7,} rows: {best['wall']:7.1f} s ({best['wall'] / n * 1000:.3f} ms/row, "
                      f"{best['cpu'] / n * 1000:.3f} CPU ms/row), peak RSS {best['rss']:.0f} MB", flush=True)
            small, big = results[args.small], results[args.big]
            growth = big["rss"] - small["rss"]
            per_row = (big["wall"] / args.big) / (small["wall"] / args.small)
            cpu_per_row = (big["cpu"] / args.big) / (small["cpu"] / args.small)
            print(f"server latency {args.latency * 1000:.0f} ms, -j {args.concurrency}; python "
                  f"{sys.version.split()[0]}, {os.cpu_count()} CPUs")
            print(f"peak RSS growth {args.small:,} -> {args.big:,} rows: {growth:+.0f} MB "
                  f"(goal <= 100 MB, ratio {max(growth, 0) / 100:.2f})")
            print(f"wall time per row, big / small: {per_row:.3f} (goal <= 1.10, ratio {per_row / 1.10:.2f}); "
                  f"CPU time per row, big / small: {cpu_per_row:.3f}")
    finally:
        server.kill()
        server.wait()


if __name__ == "__main__":
    main()

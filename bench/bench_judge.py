"""Judging 1,000 outputs vs 1,000 plain requests, both through the batch engine at -j 64 against the loopback
OpenAI-protocol server with 50 ms latency per request.

Figure (issue 16): wall time of `judge:correctness` over a stored run of N outputs (rubric rendered per output,
judge run created, replies read into scores with reasoning and stored) divided by the wall time of an eval of
the same N rows with no metrics (plain requests, stored). Goal: <= 1.15. The response cache is off for both, so
every request goes to the server. CPU seconds of this process are printed beside each (time.process_time),
since wall time on a shared machine is noisy; the two are measured alternately --repeats times (a fresh answer
run judged each time) and the best of each is compared.

    .venv/bin/python bench/bench_judge.py [--rows 1000] [-j 64] [--latency 0.05] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import workbench  # noqa: E402
from tests.openai_server import OpenAIServer, judge_reply  # noqa: E402
from workbench import store  # noqa: E402

GOAL = 1.15


def dataset(folder: Path, n: int) -> Path:
    base = [json.loads(x) for x in (ROOT / "datasets" / "support_en.jsonl").read_text().splitlines() if x]
    path = folder / "rows.jsonl"
    with path.open("w") as f:
        for i in range(n):
            row = base[i % len(base)]
            f.write(json.dumps({"question": f"{row['question']} (#{i})", "reference": row["reference"]}) + "\n")
    return path


def fixed_judge(fields, messages):
    return json.dumps({"reasoning": "Covers the reference's steps; wording differs.", "score": 4})


def timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1000)
    ap.add_argument("-j", "--concurrency", type=int, default=64)
    ap.add_argument("--latency", type=float, default=0.05)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    prompt = ROOT / "prompts" / "support_zero_shot.yaml"
    with tempfile.TemporaryDirectory() as tmp, \
            OpenAIServer(reply=judge_reply(fixed_judge), latency=args.latency, record=False) as server:
        db, data = str(Path(tmp) / "bench.duckdb"), dataset(Path(tmp), args.rows)
        opts = {"concurrency": args.concurrency, "cache": False, "db": db}
        model, judge = f"openai:answers@{server.base_url}", f"openai:judge@{server.base_url}"
        workbench.evaluate(prompt, data, model, metrics="exact", limit=20, **opts)  # warm-up: imports, first file
        plain, judged = [], []
        for _ in range(args.repeats):
            ev, wall, cpu = timed(lambda: workbench.evaluate(prompt, data, model, metrics=[], **opts))
            plain.append((wall, cpu))
            results, wall, cpu = timed(lambda ev=ev: workbench.api.judge(ev.runs[0], "correctness", judge, **opts))
            judged.append((wall, cpu))
        with store.connect(db) as con:
            scored = int(store.load_judgements(con, ev.runs)["score"].notna().sum())
        (plain_wall, plain_cpu), (judge_wall, judge_cpu) = min(plain), min(judged)
        plain_cpu, judge_cpu = min(c for _, c in plain), min(c for _, c in judged)
    ratio = judge_wall / plain_wall
    print(f"{args.rows} outputs, -j {args.concurrency}, server latency {args.latency * 1000:.0f} ms, cache off; "
          f"best of {args.repeats}")
    print(f"plain requests : {plain_wall:6.2f} s wall  {plain_cpu:6.2f} s CPU  "
          f"({args.rows / plain_wall:7.1f} requests/s)")
    print(f"judging        : {judge_wall:6.2f} s wall  {judge_cpu:6.2f} s CPU  "
          f"({args.rows / judge_wall:7.1f} judgements/s; {scored} scores stored, {results[0].errors} errors)")
    print(f"judge / plain  : {ratio:.3f}x wall, {judge_cpu / plain_cpu:.3f}x CPU   "
          f"(goal <= {GOAL:g}x: ratio to goal {ratio / GOAL:.2f}, <= 1.0 meets it)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Classic-bot throughput: Rasa and ChatterBot through the workbench at -j 1 and -j 8, against a bare loop.

    python bench/bench_bots.py [--rows 120] [--chatterbot-rows 40] [--url http://127.0.0.1:5005] [--skip-rasa]

Rasa: the bundled assistant, served by `make rasa-serve` on a free port (or the server at --url). The
baseline is a single-request loop: one POST to /webhooks/rest/webhook after another (urllib, a fresh
sender each), nothing stored. ChatterBot: a bot trained on datasets/support_en.jsonl (train split, in a
temporary cache); the baseline is a loop of `get_response` calls on that bot.
The workbench figure is the runner's execute over the same distinct questions (prompt
support_zero_shot, metric exact, no cache, stored in a temporary DuckDB file), the provider built
beforehand (its start-up is not a question). Each figure is questions/s (best of --trials) and its ratio
to the loop.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PROMPT = ROOT / "prompts" / "support_zero_shot.yaml"
SOURCE = ROOT / "datasets" / "support_en.jsonl"


def questions(n: int) -> list[dict]:
    base = [json.loads(line) for line in SOURCE.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = []
    for i in range(n):
        row = dict(base[i % len(base)], id=f"bench-{i}")
        row["question"] = f"{row['question']} (ticket {i})"
        rows.append(row)
    return rows


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def through_workbench(spec: str, rows: list[dict], concurrency: int, work: Path) -> float:
    """questions/s of the runner over `rows` at `concurrency`, the provider made beforehand."""
    from workbench.authoring.datasets import load_dataset
    from workbench.authoring.templates import load_prompt
    from workbench.engine import runner
    from workbench.metrics import parse_metrics
    from workbench.providers import make_provider

    data = work / f"q{len(rows)}.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    plan = runner.plan_eval([load_prompt(PROMPT)], load_dataset(data), [spec], parse_metrics("exact"), use_cache=False)
    provider = make_provider(spec, concurrency=concurrency)
    db = str(work / f"bench-{uuid.uuid4().hex[:6]}.duckdb")
    start = time.perf_counter()
    asyncio.run(runner.execute(plan, db, concurrency=concurrency, providers={spec: provider}))
    return len(rows) / (time.perf_counter() - start)


def rasa_loop(url: str, rows: list[dict]) -> float:
    start = time.perf_counter()
    for row in rows:
        body = json.dumps({"sender": uuid.uuid4().hex, "message": row["question"]}).encode()
        req = urllib.request.Request(f"{url}/webhooks/rest/webhook", body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as r:
            json.loads(r.read())
    return len(rows) / (time.perf_counter() - start)


def chatterbot_loop(spec: str, rows: list[dict]) -> float:
    from workbench.providers import make_provider

    bot = make_provider(spec)._bot
    start = time.perf_counter()
    for row in rows:
        bot.get_response(row["question"])
    return len(rows) / (time.perf_counter() - start)


def report(name: str, loop: float, figures: dict[int, float]) -> None:
    print(f"{name}: single-request loop {loop:.1f} q/s")
    for j, qps in figures.items():
        print(f"  workbench -j {j}: {qps:.1f} q/s = {qps / loop:.2f}x the loop")


def bench_rasa(args, work: Path) -> None:
    url, port = args.url, None
    if not url:
        port = free_port()
        done = subprocess.run(["make", "-s", "rasa-serve", f"RASA_PORT={port}"], cwd=ROOT, text=True,
                              capture_output=True, timeout=1800)
        if done.returncode != 0:
            sys.exit(f"make rasa-serve failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
        url = f"http://127.0.0.1:{port}"
    try:
        rows = questions(args.rows)
        rasa_loop(url, rows[:5])  # warm-up: the first messages load the model's graph
        loop = best(args, lambda: rasa_loop(url, rows))
        report(f"Rasa ({len(rows)} questions)", loop,
               {j: best(args, lambda j=j: through_workbench(f"rasa:{url}", rows, j, work)) for j in (1, 8)})
    finally:
        if port:
            subprocess.run(["make", "-s", "rasa-stop", f"RASA_PORT={port}"], cwd=ROOT, timeout=60)


def bench_chatterbot(args, work: Path) -> None:
    import os

    os.environ["WORKBENCH_CACHE_DIR"] = str(work / "cache")
    spec = f"chatterbot:{SOURCE}"
    rows = questions(args.chatterbot_rows)
    loop = best(args, lambda: chatterbot_loop(spec, rows))  # the first call trains the bot (not timed)
    report(f"ChatterBot ({len(rows)} questions)", loop,
           {j: best(args, lambda j=j: through_workbench(spec, rows, j, work)) for j in (1, 8)})


def best(args, measure) -> float:
    """The best of --trials measurements: the machine is shared, the best is the least disturbed."""
    return max(measure() for _ in range(args.trials))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=120, help="questions sent to Rasa")
    ap.add_argument("--chatterbot-rows", type=int, default=40, help="questions asked of ChatterBot (~0.5 s each)")
    ap.add_argument("--url", help="a Rasa server already running (default: make rasa-serve on a free port)")
    ap.add_argument("--trials", type=int, default=1, help="best of N for each figure")
    ap.add_argument("--skip-rasa", action="store_true")
    ap.add_argument("--skip-chatterbot", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_rasa:
            bench_rasa(args, Path(tmp))
        if not args.skip_chatterbot:
            bench_chatterbot(args, Path(tmp))


if __name__ == "__main__":
    main()

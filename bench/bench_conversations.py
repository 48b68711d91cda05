"""Conversation runs against single-turn rows, as whole `workbench eval` processes.

    python bench/bench_conversations.py [--conversations 1000] [--turns 4] [--latency 0.05] [-j 64] [--trials 1]

Starts the OpenAI-protocol test server (tests/openai_server.py) on 127.0.0.1 with a fixed latency, writes
N conversations of T assistant turns and N x T single-turn rows, then times (default metrics, storage on,
--no-cache, the same -j):
1. the single-turn rows (prompts/support_zero_shot.yaml);
2. the conversations with `--history gold` (prompts/support_conversation.yaml): goal <= 1.15 x (1);
3. the conversations with `--history own`: goal <= 1.15 x the ideal bound, T sequential turns x latency x N / j
   plus the single-turn overhead (the wall time of (1) minus its own ideal N x T x latency / j).
Each timing is the best of --trials (the machine is shared; the best is the least disturbed).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_eval import start_server, write_dataset  # noqa: E402

GOAL = 1.15


def write_conversations(path: Path, n: int, turns: int) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n):
            said = []
            for t in range(turns):
                said += [f"Ticket {i}: question {t} about that order", f"Answer {t} for ticket {i}."]
            f.write(json.dumps({"id": f"conv-{i}", "customer": f"customer {i}", "turns": said}) + "\n")


def timed(cmd: list[str], trials: int) -> float:
    best = float("inf")
    for _ in range(trials):
        start = time.perf_counter()
        r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
        took = time.perf_counter() - start
        if r.returncode != 0:
            raise SystemExit(f"failed: {' '.join(cmd)}\n{r.stderr[-2000:]}")
        errors = sum(run["errors"] for run in json.loads(r.stdout)["runs"])
        if errors:
            raise SystemExit(f"{errors} errors in {' '.join(cmd)}")
        best = min(best, took)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--conversations", type=int, default=1000)
    ap.add_argument("--turns", type=int, default=4)
    ap.add_argument("--latency", type=float, default=0.05)
    ap.add_argument("-j", "--concurrency", type=int, default=64)
    ap.add_argument("--trials", type=int, default=1)
    args = ap.parse_args()
    n, turns, j = args.conversations, args.turns, args.concurrency
    server, base_url = start_server(args.latency)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            rows, convs = Path(tmp) / "rows.jsonl", Path(tmp) / "conversations.jsonl"
            write_dataset(rows, n * turns)
            write_conversations(convs, n, turns)

            def cmd(prompt: str, data: Path, name: str, *extra: str) -> list[str]:
                return [sys.executable, "-m", "workbench", "eval", str(ROOT / "prompts" / prompt), "--data", str(data),
                        "--model", f"openai:bench@{base_url}", "--db", str(Path(tmp) / f"{name}.duckdb"), "-j", str(j),
                        "--no-cache", "--json", *extra]

            single = timed(cmd("support_zero_shot.yaml", rows, "single"), args.trials)
            gold = timed(cmd("support_conversation.yaml", convs, "gold", "--history", "gold"), args.trials)
            own = timed(cmd("support_conversation.yaml", convs, "own", "--history", "own"), args.trials)
    finally:
        server.kill()
    ideal = n * turns * args.latency / j  # the same for single rows and own history: T x latency x N / j
    own_bound = turns * args.latency * n / j + (single - ideal)
    print(f"{n} conversations x {turns} assistant turns, latency {args.latency * 1000:g} ms, -j {j}, best of "
          f"{args.trials}")
    print(f"single-turn rows ({n * turns}) : {single:7.2f} s   (ideal {ideal:.2f} s)")
    print(f"gold history             : {gold:7.2f} s   ratio to single rows {gold / single:.3f}  (goal <= {GOAL})")
    print(f"own history              : {own:7.2f} s   ratio to ideal bound {own_bound:.2f} s: {own / own_bound:.3f}  "
          f"(goal <= {GOAL})")


if __name__ == "__main__":
    main()

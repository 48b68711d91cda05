"""Start-up cost of the CLI as whole processes: `workbench --help` and a 1-row eval against a loopback
OpenAI-protocol server. Goals (issue 2): --help <= 0.3 s, 1-row eval <= 1.2 s. Prints each as a ratio to its
goal (<= 1.0 meets it), best of N runs, with a bare `python -c pass` measured in the same run for scale.

    .venv/bin/python bench/bench_startup.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.openai_server import OpenAIServer, answers_from_jsonl  # noqa: E402

WORKBENCH = [sys.executable, "-m", "workbench"]


def best_of(cmd: list[str], repeat: int, env: dict) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, env=env, cwd=ROOT)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    env = {**os.environ}
    env.pop("OPENAI_API_KEY", None)
    with tempfile.TemporaryDirectory() as tmp, OpenAIServer(
            reply=answers_from_jsonl(str(ROOT / "datasets/support_en.jsonl")), record=False) as server:
        env["WORKBENCH_DB"] = str(Path(tmp) / "bench.duckdb")
        bare = best_of([sys.executable, "-c", "pass"], args.repeat, env)
        help_s = best_of([*WORKBENCH, "--help"], args.repeat, env)
        eval_cmd = [*WORKBENCH, "eval", "prompts/support_few_shot.yaml", "--data", "datasets/support_en.jsonl",
                    "--model", f"openai:test@{server.base_url}", "--limit", "1", "--json"]
        eval_s = best_of(eval_cmd, args.repeat, env)
    print(f"python -c pass          {bare:6.3f} s  (interpreter start, for scale)")
    print(f"workbench --help        {help_s:6.3f} s  ratio to 0.3 s goal: {help_s / 0.3:.2f}")
    print(f"1-row eval (loopback)   {eval_s:6.3f} s  ratio to 1.2 s goal: {eval_s / 1.2:.2f}")


if __name__ == "__main__":
    main()

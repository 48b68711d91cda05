"""Start-up cost of the CLI as whole processes: `workbench --help`, and a 1-row eval against a loopback
OpenAI-protocol server into a NEW database file (creating it and its schema is part of what a user waits for)
and into an EXISTING one. Goals (issues 2 and 20): --help <= 0.3 s, 1-row eval <= 1.0 s into a new file and
<= 0.8 s into an existing one. Prints each as a ratio to its goal (<= 1.0 meets it), best of N runs, with a
bare `python -c pass` measured in the same run for scale, and the CPU seconds of the best run. `import openai` alone is timed too: no eval through the SDK can start faster,
and each eval's time beyond it is printed.

    .venv/bin/python bench/bench_startup.py [--repeat 7] [--before /path/to/an/older/checkout]

With --before, the same commands also run from that checkout (interleaved, so both see the same machine
load) and each line gets the ratio after / before.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.openai_server import OpenAIServer, answers_from_jsonl  # noqa: E402

WORKBENCH = [sys.executable, "-m", "workbench"]


def timed(cmd: list[str], root: Path, env: dict) -> tuple[float, float]:
    """Wall and CPU seconds of one run of `cmd` from checkout `root`."""
    env = {**env, "PYTHONPATH": os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, env=env, cwd=root)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--before", type=Path, help="an older checkout to time the same way (e.g. a git worktree)")
    args = ap.parse_args()
    roots = {"after": ROOT, **({"before": args.before.resolve()} if args.before else {})}
    env = {**os.environ}
    env.pop("OPENAI_API_KEY", None)
    # As a user's Python runs: with bytecode caches (some shells here set PYTHONDONTWRITEBYTECODE, which makes
    # every start compile each module again: +0.1 s for --help alone). The first, uncounted round writes them.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    best: dict[tuple[str, str], tuple[float, float]] = {}
    with tempfile.TemporaryDirectory() as tmp, OpenAIServer(
            reply=answers_from_jsonl(str(ROOT / "datasets/support_en.jsonl")), record=False) as server:
        def eval_cmd(db: Path) -> list[str]:
            return [*WORKBENCH, "eval", "prompts/support_few_shot.yaml", "--data", "datasets/support_en.jsonl",
                    "--model", f"openai:test@{server.base_url}", "--limit", "1", "--json", "--db", str(db)]

        for i in range(args.repeat + 1):
            for name, root in roots.items():  # interleaved: both checkouts see the same load
                cases = {"pass": [sys.executable, "-c", "pass"], "openai": [sys.executable, "-c", "import openai"],
                         "help": [*WORKBENCH, "--help"],
                         "new": eval_cmd(Path(tmp) / f"{name}-new-{i}.duckdb"),
                         "existing": eval_cmd(Path(tmp) / f"{name}-existing.duckdb")}
                for case, cmd in cases.items():
                    got = timed(cmd, root, env)
                    if i == 0:
                        continue  # the first round writes bytecode caches, and creates the existing file
                    key = (name, case)
                    best[key] = min(best.get(key, got), got)
    goals = {"help": 0.3, "new": 1.0, "existing": 0.8}
    labels = {"pass": "python -c pass", "openai": "python -c 'import openai'", "help": "workbench --help",
              "new": "1-row eval, new file",
              "existing": "1-row eval, existing file"}
    for case, label in labels.items():
        wall, cpu = best[("after", case)]
        line = f"{label:26s} {wall:6.3f} s (CPU {cpu:5.3f} s)"
        if case in goals:
            line += f"  ratio to the {goals[case]} s goal: {wall / goals[case]:.2f}"
        if ("before", case) in best:
            b_wall, b_cpu = best[("before", case)]
            line += f"  | before {b_wall:6.3f} s (CPU {b_cpu:5.3f}), after/before {wall / b_wall:.2f}"
        print(line)
    # The SDK's import is a floor no eval through it can go under (openai 3.x builds ~650 pydantic models at import).
    sdk_wall, sdk_cpu = best[("after", "openai")]
    for case in ("new", "existing"):
        wall, cpu = best[("after", case)]
        print(f"{labels[case]} beyond importing the SDK: {wall - sdk_wall:.3f} s (CPU {cpu - sdk_cpu:.3f} s)")


if __name__ == "__main__":
    main()

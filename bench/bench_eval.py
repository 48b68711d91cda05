"""Batch-engine benchmark: `workbench eval` against the floor, as whole processes.

    python bench/bench_eval.py [--rows 1000] [--latency 0.05] [--concurrency 16 64] [--cached-rows 10000]

It starts its own OpenAI-protocol server (tests/openai_server.py) on 127.0.0.1 in a separate process
with a fixed latency, writes a dataset of distinct customer-service questions, then times:

1. the floor: a bare loop of ``AsyncOpenAI.chat.completions.create`` calls under an asyncio
   semaphore, no storage, no scoring (``python bench/bench_eval.py floor ...``, a process of its own),
   on the SDK's aiohttp transport (``DefaultAioHttpClient``, what workbench uses when openai[aiohttp] is
   installed; the goal's floor) and on its default httpx client (for reference);
2. ``workbench eval prompts/support_few_shot.yaml`` over the same rows, default metrics, storage on,
   ``--no-cache``, at the same concurrency.

It prints wall times, the ratio workbench / floor (goal <= 1.15) next to the ideal bound
N x latency / concurrency, the peak RSS of the 1000-row eval (goal <= 200 MB) and the rows/s of a
fully cached re-run of --cached-rows rows after start-up (goal >= 20,000): the runner's execute of
those rows minus its execute of 1 row of the same file, which pays the start-up (imports, first
connection, creating the run); also the whole process minus a cached 1-row process. With --before
PATH (e.g. a git worktree of an older commit) the cached re-run is also timed from that checkout and
each figure gets its ratio after/before.
Each timing is the best of --trials runs (the machine is shared; the best is the least disturbed).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROMPT = ROOT / "prompts" / "support_few_shot.yaml"
SOURCE = ROOT / "datasets" / "support_en.jsonl"


def write_dataset(path: Path, n: int) -> None:
    base = [json.loads(line) for line in SOURCE.read_text(encoding="utf-8").splitlines() if line.strip()]
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n):
            row = dict(base[i % len(base)])
            row["id"] = f"bench-{i}"
            row["question"] = f"{row['question']} (ticket {i})"
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(latency: float) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "openai_server.py"), "--port", str(port),
                             "--latency", str(latency)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline()
    if "serving" not in line:
        proc.kill()
        raise SystemExit(f"server did not start: {line!r}")
    return proc, f"http://127.0.0.1:{port}/v1"


def run_with_rss(cmd: list[str], env: dict[str, str] | None = None, root: Path = ROOT) -> tuple[float, float, str, float]:
    """Wall seconds, peak RSS (MB) and CPU seconds of the process (with the children it waited for), stdout."""
    script = ("import resource, subprocess, sys, time, json\n"
              "t = time.perf_counter()\n"
              "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
              "w = time.perf_counter() - t\n"
              "u = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
              "sys.stderr.write(p.stderr)\n"
              "print(json.dumps({'wall': w, 'rss': u.ru_maxrss / 1024, 'cpu': u.ru_utime + u.ru_stime,"
              " 'rc': p.returncode, 'out': p.stdout}))\n")
    path = os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))  # that checkout's workbench
    p = subprocess.run([sys.executable, "-c", script, *cmd], capture_output=True, text=True, cwd=root,
                       env={**os.environ, "PYTHONPATH": path, **(env or {})})
    res = json.loads(p.stdout.strip().splitlines()[-1])
    if res["rc"]:
        raise SystemExit(f"{' '.join(cmd)} failed ({res['rc']}):\n{p.stderr[-3000:]}")
    return res["wall"], res["rss"], res["out"], res["cpu"]


def workbench_cmd(data: Path, base_url: str, db: Path, concurrency: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "workbench", "eval", str(PROMPT), "--data", str(data),
            "--model", f"openai:test@{base_url}", "--db", str(db), "-j", str(concurrency), "--json", *extra]


def write_messages(data: Path, path: Path) -> None:
    """The floor sends exactly what workbench sends: the bundled prompt rendered on every row."""
    sys.path.insert(0, str(ROOT))
    from workbench.authoring.templates import load_prompt

    prompt = load_prompt(PROMPT)
    with open(data, encoding="utf-8") as src, open(path, "w", encoding="utf-8") as out:
        for line in src:
            if line.strip():
                out.write(json.dumps(prompt.render(json.loads(line)), ensure_ascii=False) + "\n")


def floor_cmd(messages: Path, base_url: str, concurrency: int, transport: str = "aiohttp") -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "floor", "--messages", str(messages), "--base-url", base_url,
            "-j", str(concurrency), "--transport", transport]


# -- the floor: what any client must spend ------------------------------------------------------
def floor_main(args: argparse.Namespace) -> None:
    from openai import AsyncOpenAI, DefaultAioHttpClient

    with open(args.messages, encoding="utf-8") as f:
        requests = [json.loads(line) for line in f if line.strip()]

    async def main() -> int:
        http = DefaultAioHttpClient() if args.transport == "aiohttp" else None
        client = AsyncOpenAI(api_key="unused", base_url=args.base_url, http_client=http)
        sem = asyncio.Semaphore(args.concurrency)

        async def one(messages) -> str:
            async with sem:
                resp = await client.chat.completions.create(model="test", messages=messages, temperature=0,
                                                            max_tokens=128)
                return resp.choices[0].message.content

        out = await asyncio.gather(*(one(m) for m in requests))
        await client.close()
        return len(out)

    n = asyncio.run(main())
    print(json.dumps({"rows": n}))


def bench_main(args: argparse.Namespace) -> None:
    server, base_url = start_server(args.latency)
    try:
        with tempfile.TemporaryDirectory(prefix="wb-bench-") as tmp:
            tmp = Path(tmp)
            data = tmp / f"rows{args.rows}.jsonl"
            write_dataset(data, args.rows)
            messages = tmp / "messages.jsonl"
            write_messages(data, messages)
            print(f"server {base_url}, latency {args.latency * 1000:.0f} ms, {args.rows} rows, "
                  f"best of {args.trials}; python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
            # warm the page cache and the server once
            run_with_rss(floor_cmd(messages, base_url, 64))
            peak_rss = 0.0
            for c in args.concurrency:
                floors, wbs, httpx_floors = [], [], []
                for trial in range(args.trials):  # interleaved, so all see the same machine load
                    floors.append(run_with_rss(floor_cmd(messages, base_url, c)))
                    httpx_floors.append(run_with_rss(floor_cmd(messages, base_url, c, "httpx")))
                    wbs.append(run_with_rss(workbench_cmd(data, base_url, tmp / f"c{c}-{trial}.duckdb", c,
                                                          "--no-cache")))
                    run = json.loads(wbs[-1][2])["runs"][0]
                    assert run["outputs"] == args.rows and run["errors"] == 0, run
                floor, wb = min(floors), min(wbs)
                ideal = args.rows * args.latency / c
                peak_rss = max(peak_rss, max(w[1] for w in wbs))
                httpx_floor = min(httpx_floors)
                print(f"c={c:<3d} floor (aiohttp) {floor[0]:6.2f} s   workbench eval {wb[0]:6.2f} s   "
                      f"ratio {wb[0] / floor[0]:.3f} (goal <= 1.15)   ideal {ideal:.2f} s   "
                      f"floor (httpx) {httpx_floor[0]:.2f} s   CPU s: floor {min(f[3] for f in floors):.2f}, "
                      f"httpx floor {min(f[3] for f in httpx_floors):.2f}, workbench {min(w[3] for w in wbs):.2f} "
                      f"(incl. scoring workers)")
            print(f"peak RSS of the {args.rows}-row eval: {peak_rss:.0f} MB (goal <= 200 MB, ratio "
                  f"{peak_rss / 200:.2f})")
            if args.cached_rows:
                big = tmp / f"rows{args.cached_rows}.jsonl"
                write_dataset(big, args.cached_rows)
                after = cached_rerun(ROOT, big, base_url, tmp / "cached.duckdb", args)
                before = cached_rerun(args.before, big, base_url, tmp / "before.duckdb", args) if args.before else None
                print_cached(args.cached_rows, after, before)
    finally:
        server.kill()
        server.wait()


def cached_rerun(root: Path, big: Path, base_url: str, db: Path, args: argparse.Namespace) -> dict:
    """A cached re-run of `big` from checkout `root`: its first (uncached) run, then the best of --trials re-runs of
    every row and of 1 row, as whole processes."""
    first = run_with_rss(workbench_cmd(big, base_url, db, 64), root=root)
    again, one = [], []
    for _ in range(args.trials):
        again.append(run_with_rss(workbench_cmd(big, base_url, db, 64), root=root))
        one.append(run_with_rss(workbench_cmd(big, base_url, db, 64, "--limit", "1"), root=root))
    again, one = min(again), min(one)
    summary = json.loads(again[2])
    run = summary["runs"][0]
    assert run["outputs"] == args.cached_rows and run["cached"] == args.cached_rows, run
    n = args.cached_rows
    one_elapsed = json.loads(one[2])["elapsed_s"]
    return {"first": first[0], "again": again[0], "one": one[0], "one_elapsed": one_elapsed,
            "marginal": (n - 1) / max(summary["elapsed_s"] - one_elapsed, 1e-9),
            "engine": n / summary["elapsed_s"], "whole": n / max(again[0] - one[0], 1e-9),
            "cpu": (n - 1) / max(again[3] - one[3], 1e-9)}


def print_cached(n: int, after: dict, before: dict | None) -> None:
    def vs(key: str) -> str:
        return f"; before {before[key]:,.0f}, after/before {after[key] / before[key]:.2f}" if before else ""

    print(f"cached re-run of {n} rows ({after['first']:.1f} s uncached first): {after['again']:.2f} s whole process")
    print(f"  after start-up (the goal's figure): the runner's execute of {n} rows minus its execute of 1 row "
          f"({after['one_elapsed']:.2f} s of imports, first connection, run creation): {after['marginal']:,.0f} rows/s "
          f"(goal >= 20,000, ratio {after['marginal'] / 20000:.2f}{vs('marginal')})")
    print(f"  whole process minus a cached 1-row eval ({after['one']:.2f} s; so also loading, validating and "
          f"rendering {n} rows): {after['whole']:,.0f} rows/s (ratio {after['whole'] / 20000:.2f}{vs('whole')})")
    print(f"  the same in CPU seconds of the processes (less disturbed by other load): {after['cpu']:,.0f} rows per "
          f"CPU-second{vs('cpu')}")
    print(f"  execute including its start-up (lazy imports, connections): {after['engine']:,.0f} rows/s "
          f"(ratio {after['engine'] / 20000:.2f}{vs('engine')})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="mode")
    fl = sub.add_parser("floor", help="(internal) the bare AsyncOpenAI loop, timed as a process by the bench")
    fl.add_argument("--messages", required=True, help="JSONL, one list of chat messages a line")
    fl.add_argument("--base-url", required=True)
    fl.add_argument("-j", "--concurrency", type=int, default=16)
    fl.add_argument("--transport", choices=["aiohttp", "httpx"], default="aiohttp")
    ap.add_argument("--rows", type=int, default=1000)
    ap.add_argument("--latency", type=float, default=0.05)
    ap.add_argument("--concurrency", type=int, nargs="+", default=[16, 64])
    ap.add_argument("--cached-rows", type=int, default=10000, help="0 skips the cached re-run")
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--before", type=Path, help="an older checkout whose cached re-run is timed too (ratios after/before)")
    args = ap.parse_args()
    if args.mode == "floor":
        floor_main(args)
    else:
        bench_main(args)


if __name__ == "__main__":
    main()

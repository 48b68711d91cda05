"""A million outputs in one database file (issue 20): ingest, the queries the app and CLI run, the file's size.

Fills a new file through the store's own write path (store.write_results with whole Arrow columns, ten
runs per batch) with 50 runs x 20,000 outputs -- 10 prompts x 5 models over one 20,000-row dataset, five runs
with 2 repeats of 10,000 rows, ~1.5% errors, BLEU, chrF and ROUGE-1/2/L per successful output (~4.9 million
scores), every output text distinct -- then times, 20 times each on the open connection:

- the per-variant summary with 95% CIs of 4 runs, as the Compare page reads it (analysis.summarize per run,
  token totals, the runs' metrics);
- one 50-item side-by-side page of those 4 runs sorted by worst BLEU, and by disagreement (compare_grid);
- the run list (store.list_runs, what `workbench runs` prints);
- a text search over the 4 runs' inputs, references and outputs, first page of 50 (the Compare page's search).

Goals: ingest <= 10 s, each query <= 100 ms at the 95th percentile of 20, the file <= 1 GB; each printed as
a ratio to its goal (<= 1.0 meets it). Data generation is not timed; CPU seconds are printed beside the wall
clock because a shared machine stretches the latter.

    .venv/bin/python bench/bench_store_1m.py [--runs 50] [--rows 20000] [--keep PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from workbench import store  # noqa: E402
from workbench.authoring.datasets import Dataset  # noqa: E402
from workbench.evaluation import analysis  # noqa: E402
from workbench.evaluation import compare_grid as grid  # noqa: E402

METRICS = ("bleu", "chrf", "rouge1", "rouge2", "rougeL")
PROMPTS, MODELS = 10, 5
SYLLABLES = "ka lo mi ne su ta ri po ve da fu ge hi jo ba ze ru wi co ly".split()
SYSTEM = ("You are the support assistant of an online shop. Answer in two or three sentences, politely, "
          "and only with facts from the policy. Variant {v}.")


def words(rng: np.random.Generator, n: int) -> np.ndarray:
    """n made-up words of 2-4 syllables (a vocabulary, like a real one, of a few thousand words)."""
    k = rng.integers(2, 5, n)
    s = rng.choice(SYLLABLES, (n, 4))
    return np.array(["".join(s[i, :k[i]]) for i in range(n)])


def sentences(rng: np.random.Generator, vocab: np.ndarray, n: int, length: int) -> list[str]:
    idx = rng.zipf(1.3, (n, length)) % len(vocab)
    return [" ".join(row) for row in vocab[idx]]


def make_data(runs: int, rows: int, seed: int = 0):
    """The dataset, then per run: (prompt, model, repeats, outputs table without run_id, scores table)."""
    rng = np.random.default_rng(seed)
    vocab = words(rng, 5000)
    questions = sentences(rng, vocab, rows, 14)
    references = sentences(rng, vocab, rows, 30)
    data = [{"id": i, "question": q, "reference": r} for i, (q, r) in enumerate(zip(questions, references))]
    messages = [[json.dumps([{"role": "system", "content": SYSTEM.format(v=p)}, {"role": "user", "content": q}])
                 for q in questions] for p in range(PROMPTS)]
    out = []
    for n in range(runs):
        repeats = 2 if n % 10 == 9 else 1  # five runs with repeats, same number of outputs
        row_idx = np.tile(np.arange(rows // repeats, dtype=np.int32), repeats)
        repeat_idx = np.repeat(np.arange(repeats, dtype=np.int32), rows // repeats)
        m = len(row_idx)
        error = rng.random(m) < 0.015
        texts = sentences(rng, vocab, m, 28)
        ok = ~error
        outputs = pa.table({
            "row_idx": row_idx, "repeat_idx": repeat_idx,
            "messages": [messages[n % PROMPTS][i] for i in row_idx],
            "text": pa.array(texts, mask=error), "error": pa.array(["timeout: request timed out"] * m, mask=ok),
            "error_kind": pa.array(["timeout"] * m, mask=ok), "finish_reason": pa.array(["stop"] * m, mask=error),
            "latency_ms": rng.uniform(200, 900, m), "tokens_in": np.full(m, 60, np.int32),
            "tokens_out": rng.integers(20, 60, m).astype(np.int32), "cached": np.zeros(m, bool)})
        good = np.flatnonzero(ok)
        quality = rng.beta(2, 3, len(good))  # one per output, the metrics move together
        scores = pa.table({
            "row_idx": np.repeat(row_idx[good], len(METRICS)), "repeat_idx": np.repeat(repeat_idx[good], len(METRICS)),
            "metric": np.tile(np.array(METRICS), len(good)),
            "value": np.clip(np.repeat(quality, len(METRICS)) + rng.normal(0, 0.08, len(good) * len(METRICS)), 0, 1)})
        out.append((n % PROMPTS, n // PROMPTS, repeats, outputs, scores))
    return Dataset("support_1m", "support_1m.jsonl", data, ["id", "question", "reference"]), out


def ingest(db: str, dataset: Dataset, runs: list, batch: int = 10) -> tuple[float, float, list[str]]:
    """(wall s, CPU s, run ids): everything from opening the new file to closing it (its checkpoint). Outputs
    go in `batch` runs per write_results call (200,000 outputs): a transaction that appends whole row groups
    is written straight to the file, where small ones go through the WAL and are written again."""
    prompt = "name: p{v}\nmessages:\n- role: system\n  content: 'Variant {v}.'\n- role: user\n  content: '{{{{ question }}}}'\n"
    wall, cpu = time.perf_counter(), time.process_time()
    ids = []
    with store.connect(db) as con:
        h = store.save_dataset(con, dataset)
        for v in range(PROMPTS):
            store.save_prompt_version(con, f"p{v}", None, f"{v:016x}", prompt.format(v=v))
        for start in range(0, len(runs), batch):
            outputs, scores = [], []
            for p, m, repeats, out, sc in runs[start:start + batch]:
                run_id = store.create_run(con, prompt_hash=f"{p:016x}", prompt_name=f"p{p}",
                                          model_spec=f"openai:model-{m}", params={}, dataset_hash=h,
                                          n_rows=len(dataset.rows) // repeats, repeats=repeats,
                                          metrics=[{"name": x} for x in METRICS], lang="en",
                                          signatures={x: f"{x}|bench" for x in METRICS})
                outputs.append(out.append_column("run_id", pa.array([run_id] * len(out))))
                scores.append(sc.append_column("run_id", pa.array([run_id] * len(sc))))
                ids.append(run_id)
            store.write_results(con, pa.concat_tables(outputs), pa.concat_tables(scores))
            for run_id in ids[start:]:
                store.set_status(con, run_id, "done")
    return time.perf_counter() - wall, time.process_time() - cpu, ids


def timed(fn, n: int = 20) -> tuple[float, float, float]:
    """(p95 wall s, median wall s, median CPU s) of n calls."""
    walls, cpus = [], []
    for _ in range(n):
        w, c = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    walls.sort()
    return walls[min(n - 1, int(round(0.95 * (n - 1))))], statistics.median(walls), statistics.median(cpus)


def queries(db: str, ids: list[str], search: str) -> dict[str, tuple[float, float, float]]:
    four = ids[:4]
    out = {}
    with store.connect(db) as con:
        def summary():
            [analysis.summarize(con, r) for r in four]
            store.token_stats(con, four)
            store.run_metrics(con, four)

        g = grid.load_grid(con, four, "bleu")
        out["summary of 4 runs, 95% CIs"] = timed(summary)
        out["grid set-up (runs, dataset)"] = timed(lambda: grid.load_grid(con, four, "bleu"))
        out["50 items, worst BLEU first"] = timed(lambda: grid.query(con, g, "worst", page_size=50))
        out["50 items, disagreement first"] = timed(lambda: grid.query(con, g, "disagreement", page_size=50))
        out["50 items, worst BLEU, page 100"] = timed(lambda: grid.query(con, g, "worst", page=99, page_size=50))
        out["run list"] = timed(lambda: store.list_runs(con))
        page = grid.query(con, g, "row", search=search, page_size=50)
        out[f"search {search!r} ({page.total:,} items)"] = timed(
            lambda: grid.query(con, g, "row", search=search, page_size=50))
    def open_close():
        with store.connect(db):
            pass

    out["open + close the file"] = timed(open_close, 5)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--rows", type=int, default=20_000)
    ap.add_argument("--keep", help="write the database here and keep it (default: a temporary file)")
    args = ap.parse_args()
    t = time.perf_counter()
    dataset, runs = make_data(args.runs, args.rows)
    n_out = sum(len(r[3]) for r in runs)
    n_scores = sum(len(r[4]) for r in runs)
    print(f"data: {n_out:,} outputs, {n_scores:,} scores generated in {time.perf_counter() - t:.1f} s (not timed)")
    with tempfile.TemporaryDirectory() as tmp:
        db = args.keep or str(Path(tmp) / "1m.duckdb")
        wall, cpu, ids = ingest(db, dataset, runs)
        size = os.path.getsize(db) + (os.path.getsize(db + ".wal") if os.path.exists(db + ".wal") else 0)
        print(f"ingest                         {wall:6.2f} s (CPU {cpu:.2f} s)   ratio to goal 10 s: {wall / 10:.2f}")
        print(f"file size                      {size / 1e6:6.0f} MB              ratio to goal 1 GB: {size / 1e9:.2f}")
        word = dataset.rows[7]["question"].split()[2]
        for name, (p95, median, cpu_median) in queries(db, ids, word).items():
            print(f"{name:34s} p95 {p95 * 1000:5.0f} ms (median {median * 1000:4.0f} ms, CPU {cpu_median * 1000:4.0f} ms)"
                  f"   ratio to goal 100 ms: {p95 / 0.1:.2f}")
    print(f"machine load average now: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()

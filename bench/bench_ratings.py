"""Human rating at team scale: how long a click takes, what a second annotator process costs, and how long
the analyses take on a large session. Each figure is printed as a ratio to its bound (<= 1.0 meets it) or
to a baseline measured in the same run.

Bounds: a rating click (open, record, close) <= 100 ms and the next item <= 150 ms, so the page keeps up
with a keyboard; two writer processes keep >= 50% of one process's throughput each... in total (ratio
total/alone >= 0.5); a leaderboard of 10 variants from 3000 votes with 500 bootstrap resamples <= 10 s;
a paired comparison of two 2000-row runs on 6 metrics <= 3 s; a trust report over 1500 rated outputs <= 2 s.

    .venv/bin/python bench/bench_ratings.py
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from workbench import store  # noqa: E402
from workbench.evaluation import stats  # noqa: E402
from workbench.rating import annotation as an  # noqa: E402
from workbench.rating import leaderboard, trust  # noqa: E402

WRITER = """
import sys, time
sys.path.insert(0, {root!r})
from workbench import store
from workbench.rating import annotation as an
db, sid, name, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
with store.connect(db) as con:
    items = store.assigned_items(con, sid, name)[:n]
start = time.perf_counter()
for i in items:
    with store.connect(db, wait=120) as con:
        an.record_rating(con, sid, i, name, "3")
print(time.perf_counter() - start)
"""


def fake_runs(db: str, n_runs: int, n_rows: int, seed: int = 0) -> list[str]:
    """Runs with synthetic outputs and scores written straight through the store (no model, no metrics)."""
    from workbench.authoring.datasets import Dataset

    rng = np.random.default_rng(seed)
    rows = [{"question": f"question {i}", "reference": f"answer {i}"} for i in range(n_rows)]
    ds = Dataset("bench", None, rows, ["question", "reference"], "reference", "en", "utf-8", [])
    ids = []
    with store.connect(db) as con:
        h = store.save_dataset(con, ds)
        for r in range(n_runs):
            run = store.create_run(con, prompt_hash=f"p{r}", prompt_name=f"prompt{r}", model_spec=f"openai:m{r}",
                                   params={}, dataset_hash=h, n_rows=n_rows, repeats=1, metrics=[{"name": "bleu"}], lang="en",
                                   signatures={})
            msgs = json.dumps([{"role": "user", "content": "q"}])
            outputs = [{"run_id": run, "row_idx": i, "repeat_idx": 0, "messages": msgs, "text": f"out {r} {i}",
                        "cached": False} for i in range(n_rows)]
            scores = [{"run_id": run, "row_idx": i, "repeat_idx": 0, "metric": m, "value": float(v)}
                      for m in ("exact", "contains", "bleu", "chrf", "rougeL", "length")
                      for i, v in enumerate(rng.random(n_rows) + 0.01 * r)]
            store.write_results(con, outputs, scores)
            ids.append(run)
    return ids


def timed(fn, repeat: int = 1) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "bench.duckdb")
        runs = fake_runs(db, 2, 400)
        with store.connect(db) as con:
            sid = an.create_session(con, an.SessionSpec(runs, k=2, seed=1, annotators=["ann", "bob"]))
            open_close = []
        for _ in range(30):
            start = time.perf_counter()
            with store.connect(db):
                pass
            open_close.append(time.perf_counter() - start)
        clicks, nexts = [], []
        for _ in range(60):
            start = time.perf_counter()
            with store.connect(db) as con:
                item = an.next_item(con, sid, "ann")
            nexts.append(time.perf_counter() - start)
            start = time.perf_counter()
            with store.connect(db) as con:
                an.record_rating(con, sid, item.item_idx, "ann", "4")
            clicks.append(time.perf_counter() - start)
        base, click, nxt = statistics.median(open_close), statistics.median(clicks), statistics.median(nexts)
        print(f"open+close connection      {base * 1000:7.1f} ms  (baseline)")
        print(f"rating click               {click * 1000:7.1f} ms  ratio to 100 ms bound: {click / 0.1:.2f}  "
              f"({click / base:.1f}x a bare open+close)")
        print(f"next item                  {nxt * 1000:7.1f} ms  ratio to 150 ms bound: {nxt / 0.15:.2f}")

        script = Path(tmp) / "writer.py"
        script.write_text(WRITER.format(root=str(ROOT)))
        n = 150
        alone = float(subprocess.run([sys.executable, script, db, sid, "bob", str(n)], capture_output=True, text=True,
                                     check=True).stdout)
        with store.connect(db) as con:  # fresh items for the race: a new session, two annotators
            sid2 = an.create_session(con, an.SessionSpec(runs, k=2, seed=2, annotators=["ann", "bob"]))
        start = time.perf_counter()
        procs = [subprocess.Popen([sys.executable, script, db, sid2, who, str(n)], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for who in ("ann", "bob")]
        for p in procs:
            out, err = p.communicate()
            if p.returncode:
                print(f"writer failed ({p.returncode}): {err[-500:]}")
        both = time.perf_counter() - start
        with store.connect(db) as con:
            stored = store.session_rating_count(con, sid2, "likert")
        ratio = (2 * n / both) / (n / alone)
        print(f"one writer process         {n / alone:7.1f} ratings/s  (baseline)")
        print(f"two writer processes       {2 * n / both:7.1f} ratings/s in total, ratio to one alone: {ratio:.2f} "
              f"(bound >= 0.5); stored {stored}/{2 * n}")

        big = str(Path(tmp) / "big.duckdb")
        many = fake_runs(big, 10, 300, seed=3)
        rng = np.random.default_rng(0)
        strength = dict(zip(many, np.linspace(1, -1, 10)))
        with store.connect(big) as con:
            pair_sid = an.create_session(con, an.SessionSpec(many, pairwise=True, seed=1, annotators=["sim"]))
            items = store.item_outputs(con, pair_sid).head(3000)
            p_a = [1 / (1 + np.exp(strength[b] - strength[a])) for a, b in zip(items["run_a"], items["run_b"])]
            store.upsert_ratings(con, [{"session_id": pair_sid, "item_idx": int(i), "annotator": "sim",
                                        "kind": "pairwise", "value": "A" if rng.random() < p else "B",
                                        "comment": None, "tags": None} for i, p in zip(items["item_idx"], p_a)])
            t_board = timed(lambda: leaderboard.build(con, [pair_sid], n_boot=500))
            single_sid = an.create_session(con, an.SessionSpec(many[:5], seed=1, annotators=["sim"]))
            s_items = store.item_outputs(con, single_sid)
            store.upsert_ratings(con, [{"session_id": single_sid, "item_idx": int(i), "annotator": "sim",
                                        "kind": "likert", "value": str(rng.integers(1, 6)), "comment": None,
                                        "tags": None} for i in s_items["item_idx"]])
            t_trust = timed(lambda: trust.report(con, [single_sid]), repeat=3)
        pair_db = str(Path(tmp) / "pair.duckdb")
        a, b = fake_runs(pair_db, 2, 2000, seed=5)
        with store.connect(pair_db) as con:
            t_stats = timed(lambda: stats.compare(con, a, b), repeat=3)
        print(f"leaderboard 10 variants    {t_board:7.2f} s  (3000 votes, 500 resamples) ratio to 10 s bound: "
              f"{t_board / 10:.2f}")
        print(f"paired stats 2x2000 rows   {t_stats:7.2f} s  (6 metrics, 2000 resamples) ratio to 3 s bound: "
              f"{t_stats / 3:.2f}")
        print(f"trust report 1500 outputs  {t_trust:7.2f} s  ratio to 2 s bound: {t_trust / 2:.2f}")


if __name__ == "__main__":
    main()

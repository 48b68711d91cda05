"""`workbench score` as a whole process: on a big mixed English/Chinese file it scores in worker processes
started before the file is read, in NumPy batches per chunk, and every value must be the one-row-at-a-time
value whatever the workers; its start-up stays off the store (pandas, DuckDB) and the eval machinery."""

from __future__ import annotations

import json
import random
import subprocess
import sys

from workbench import metrics
from workbench.cli.score_cmd import EARLY_WORKERS_BYTES
from workbench.metrics.batch import BatchScorer

METRICS = "bleu,chrf,rouge1,rouge2,rougeL,rouge1_p,rougeL_r,chrfpp,exact,length"


def _rows(n: int = 700) -> list[dict]:
    rng = random.Random(4)
    en = [json.loads(x) for x in open("datasets/support_en.jsonl", encoding="utf-8")]
    zh = [json.loads(x) for x in open("datasets/support_zh.jsonl", encoding="utf-8")]
    rows = []
    for i in range(n):
        src = rng.choice(zh if i % 3 == 0 else en)  # a third Chinese, spread through the file
        words = src["reference"].split() if i % 3 else list(src["reference"])
        kept = [w for w in words if rng.random() > 0.2]
        pred = (" " if i % 3 else "").join(kept) + f" #{i}"
        ref: str | list[str] = src["reference"] + f" #{i}"
        if i % 50 == 7:
            ref = [ref, rng.choice(en)["reference"]]  # several references
        if i % 97 == 5:
            pred = ""  # the empty-text rule
        rows.append({"prediction": pred, "reference": ref})
    return rows


def test_score_file_in_workers_equals_one_row_at_a_time(cli, tmp_path):
    rows = _rows()
    path = tmp_path / "mixed.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    assert path.stat().st_size >= EARLY_WORKERS_BYTES  # the workers start before the file is read
    r = cli("score", path, "--json", "--metrics", METRICS)
    assert r.code == 0, r.err
    got = [json.loads(x) for x in r.out.splitlines()]
    ms = metrics.parse_metrics([METRICS])
    refs = [[x["reference"]] if isinstance(x["reference"], str) else x["reference"] for x in rows]
    want = [metrics.score(x["prediction"], ref, ms, "auto") for x, ref in zip(rows, refs)]
    assert [{k: v for k, v in g.items() if k not in ("row", "tok")} for g in got] == want
    assert {g.get("tok") for g in got} == {"13a", "zh"}


def test_one_worker_and_three_workers_and_no_worker_give_the_same_scores():
    rows = _rows(400)
    items = [(x["prediction"], [x["reference"]] if isinstance(x["reference"], str) else x["reference"], None, None)
             for x in rows]
    ms = metrics.parse_metrics([METRICS])
    results = []
    for pool, workers in ((False, None), (True, 1), (True, 3)):
        with BatchScorer(ms, "auto", pool=pool, workers=workers) as scorer:
            assert scorer.uses_pool == pool
            results.append(scorer.score_now(items))
    assert results[0] == results[1] == results[2]


def test_score_imports_no_store_pandas_or_eval_machinery(tmp_path):
    """Start-up: the store pulls in pandas and DuckDB (~0.7 s), the API module templates and providers; the
    score command needs none of them (scipy only for its summary's intervals)."""
    from tests.conftest import ROOT

    path = tmp_path / "few.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in _rows(5)), encoding="utf-8")
    heavy = ("pandas", "duckdb", "workbench.store", "workbench.api", "jinja2", "asyncio", "pyarrow")
    code = ("import sys; from workbench.cli.main import main; rc = main(sys.argv[1:]); "
            f"print(sorted(k for k in {heavy!r} if k in sys.modules), 'scipy' in sys.modules, file=sys.stderr)")
    for flags, scipy in ((["--json"], "False"), ([], "True")):
        r = subprocess.run([sys.executable, "-c", code, "score", str(path), *flags], capture_output=True, text=True,
                           cwd=ROOT, timeout=120)
        assert r.returncode == 0, r.stderr
        assert r.stderr.splitlines()[-1] == f"[] {scipy}", r.stderr

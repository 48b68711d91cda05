"""A large database written fast (whole Arrow columns through store.write_results), for the tests and benches
that need the app at scale, and a guard that counts the rows each DuckDB statement hands to Python."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import pyarrow as pa

from workbench import store
from workbench.authoring.datasets import Dataset

WORDS = ("order refund shipping password account delivery return label invoice store card payment address "
         "tracking business days within email link reset support window item warranty exchange").split()
PROMPT = "name: {name}\nmessages:\n- role: user\n  content: '{{{{ question }}}}'\n"


def fill(db: str, runs: int, rows: int, metrics: tuple[str, ...] = ("bleu", "chrf", "rougeL"),
         batch: int = 10, seed: int = 0) -> list[str]:
    """`runs` runs (4 prompts x models) over one dataset of `rows` rows, every output scored by `metrics`,
    ~1% errors; the ids, oldest first. 50 x 20,000 takes seconds."""
    rng = np.random.default_rng(seed)
    words = np.array(WORDS)
    questions = [" ".join(w) for w in words[rng.integers(0, len(words), (rows, 10))]]
    data = [{"id": i, "question": q, "reference": f"Reference answer {i}: {q}"} for i, q in enumerate(questions)]
    ids: list[str] = []
    with store.connect(db) as con:
        h = store.save_dataset(con, Dataset("big", "big.jsonl", data, ["id", "question", "reference"]))
        for v in range(4):
            store.save_prompt_version(con, f"variant{v}", None, f"{v:016x}", PROMPT.format(name=f"variant{v}"))
        for start in range(0, runs, batch):
            outputs, scores = [], []
            for n in range(start, min(runs, start + batch)):
                run_id = store.create_run(con, prompt_hash=f"{n % 4:016x}", prompt_name=f"variant{n % 4}",
                                          model_spec=f"openai:model-{n // 4}", params={}, dataset_hash=h,
                                          n_rows=rows, repeats=1, metrics=[{"name": m} for m in metrics],
                                          lang="en", signatures={})
                error = rng.random(rows) < 0.01
                outputs.append(pa.table({
                    "run_id": [run_id] * rows, "row_idx": np.arange(rows, dtype=np.int32), "messages": ["[]"] * rows,
                    "text": pa.array([f"Answer {i} of run {n}: {questions[i]}" for i in range(rows)], mask=error),
                    "error": pa.array(["timeout: request timed out"] * rows, mask=~error),
                    "latency_ms": rng.uniform(200, 900, rows), "tokens_in": np.full(rows, 20, np.int32),
                    "tokens_out": np.full(rows, 40, np.int32)}))
                good = np.flatnonzero(~error)
                scores.append(pa.table({
                    "run_id": [run_id] * (len(good) * len(metrics)),
                    "row_idx": np.repeat(good.astype(np.int32), len(metrics)),
                    "metric": np.tile(np.array(metrics), len(good)),
                    "value": rng.random(len(good) * len(metrics))}))
                ids.append(run_id)
            store.write_results(con, pa.concat_tables(outputs), pa.concat_tables(scores))
            for run_id in ids[start:]:
                store.set_status(con, run_id, "done")
    return ids


class CountingConnection:
    """A DuckDB connection that records how many rows each fetch hands to Python (`fetched`)."""

    def __init__(self, con, fetched: list[tuple[int, str]]):
        self._con, self._fetched, self._sql = con, fetched, ""

    def execute(self, sql, *args, **kwargs):
        self._sql = str(sql)
        self._con.execute(sql, *args, **kwargs)
        return self  # as DuckDB's own execute: the connection, ready to fetch

    def _log(self, n: int) -> None:
        self._fetched.append((n, " ".join(self._sql.split())[:300]))

    def fetchall(self):
        rows = self._con.fetchall()
        self._log(len(rows))
        return rows

    def fetchone(self):
        row = self._con.fetchone()
        self._log(0 if row is None else 1)
        return row

    def fetchmany(self, size: int = 1):
        rows = self._con.fetchmany(size)
        self._log(len(rows))
        return rows

    def df(self):
        df = self._con.df()
        self._log(len(df))
        return df

    fetchdf = df

    def arrow(self):
        table = self._con.arrow()
        self._log(table.num_rows)
        return table

    def fetchnumpy(self):
        columns = self._con.fetchnumpy()
        self._log(len(next(iter(columns.values()))) if columns else 0)
        return columns

    def __getattr__(self, name):
        return getattr(self._con, name)


@contextlib.contextmanager
def counting_fetches(monkeypatch) -> Iterator[list[tuple[int, str]]]:
    """Every connection the store opens inside the block counts what it fetches: [(rows, statement)]."""
    from workbench.store import attached

    fetched: list[tuple[int, str]] = []
    real = attached.open_file
    monkeypatch.setattr(attached, "open_file", lambda path: CountingConnection(real(path), fetched))
    try:
        yield fetched
    finally:
        monkeypatch.setattr(attached, "open_file", real)

"""Stored runs for the rating tests, written through the spine's own store and metric functions.

Each variant is a real prompt file rendered on the bundled support dataset; `answer(variant_index, row)`
decides the output text, so a test controls which variant is better, and the real metrics score it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from workbench import metrics as metric_lib
from workbench import store
from workbench.authoring.datasets import load_dataset
from workbench.authoring.templates import load_prompt

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "datasets" / "support_en.jsonl"
PROMPTS = ROOT / "prompts"
METRICS = "exact,contains,bleu,chrf,rougeL,length"


def reference_answer(variant: int, row: dict) -> str:
    return row["reference"]


def make_runs(db: str, variants: list[tuple[str, str]], n_rows: int = 10,
              answer: Callable[[int, dict], str] = reference_answer) -> list[str]:
    """One stored run per (prompt name, model spec) over the first n_rows rows; returns the run ids."""
    ds = load_dataset(DATA)
    ms = metric_lib.parse_metrics(METRICS)
    run_ids = []
    with store.connect(db) as con:
        ds_hash = store.save_dataset(con, ds)
        for v, (prompt_name, model) in enumerate(variants):
            prompt = load_prompt(PROMPTS / f"{prompt_name}.yaml")
            store.save_prompt_version(con, prompt.name, prompt.path, prompt.version, prompt.to_yaml())
            run_id = store.create_run(
                con, prompt_hash=prompt.version, prompt_name=prompt.name, model_spec=model, params=prompt.params,
                dataset_hash=ds_hash, n_rows=n_rows, repeats=1, metrics=ms.specs(), lang=ds.lang,
                signatures=metric_lib.signatures(ms, ds.lang))
            outputs, scores = [], []
            for i in range(n_rows):
                row = ds.rows[i]
                text = answer(v, row)
                outputs.append({"run_id": run_id, "row_idx": i, "repeat_idx": 0,
                                "messages": json.dumps(prompt.render(row), ensure_ascii=False), "text": text,
                                "latency_ms": 10.0, "tokens_out": len(text.split()), "cached": False})
                scores += [{"run_id": run_id, "row_idx": i, "repeat_idx": 0, "metric": m, "value": val}
                           for m, val in metric_lib.score(text, ds.references(i), ms, ds.lang).items()]
            store.write_results(con, outputs, scores)
            store.set_status(con, run_id, "done")
            run_ids.append(run_id)
    return run_ids

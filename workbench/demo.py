"""`workbench demo`: the bundled prompts over the held-out paraphrases of the bundled data, on a model
that needs no key and no network (the default local model) unless an API key says otherwise."""

from __future__ import annotations

import os
from collections.abc import Callable

from workbench.authoring.datasets import Dataset, load_dataset
from workbench.errors import DatasetError
from workbench.finetune.default_model import DATA, PROMPTS, _bundled, default_model_spec, ensure_default_model

API_DEFAULT = "openai:gpt-4o-mini"


def split_rows(ds: Dataset, split: str) -> Dataset:
    """The rows whose `split` field equals `split`, as a dataset of their own (named e.g. support_en[test])."""
    keep = [i for i, r in enumerate(ds.rows) if r.get("split") == split]
    if not keep:
        raise DatasetError(f"no rows have split {split!r}", ds.path)
    return Dataset(f"{ds.name}[{split}]", ds.path, [ds.rows[i] for i in keep], ds.columns, ds.reference_field,
                   ds.lang, ds.encoding, [ds.line_numbers[i] for i in keep] if ds.line_numbers else [])


def demo_models(models: list[str] | None, progress: bool = True) -> list[str]:
    """The models asked for, else an API model when a key is set, else the local default (trained if missing)."""
    if models:
        chosen = list(dict.fromkeys(models))
    elif os.environ.get("OPENAI_API_KEY"):
        chosen = [API_DEFAULT]
    else:
        chosen = [default_model_spec()]
    if default_model_spec() in chosen:
        ensure_default_model(progress=progress)
    return chosen


def run_demo(db: str | None, models: list[str] | None = None, prompts: list[str] | None = None,
             data: str | None = None, split: str = "test", progress: bool = True,
             on_progress: Callable | None = None) -> list[str]:
    """Evaluate every prompt x model on the split's rows; returns the stored run ids."""
    import asyncio

    from workbench.authoring.templates import load_prompt
    from workbench.engine import runner
    from workbench.metrics import parse_metrics
    from workbench.providers import make_provider

    specs = demo_models(models, progress)
    loaded = [load_prompt(p) for p in (prompts or [_bundled(p) for p in PROMPTS])]
    dataset = split_rows(load_dataset(data or _bundled(DATA)), split)
    plan = runner.plan_eval(loaded, dataset, specs, parse_metrics(None))
    for spec in specs:  # a bad spec or missing key must leave nothing behind
        make_provider(spec)
    return asyncio.run(runner.execute(plan, db, on_progress=on_progress))

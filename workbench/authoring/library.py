"""The prompt library: prompt files in the prompts directory, drafts being edited, their live
preview on a dataset row, and saving a draft as a new immutable version (file + database).

The prompts directory is $WORKBENCH_PROMPTS, else ./prompts.
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from workbench import store
from workbench.authoring.datasets import detect_lang
from workbench.authoring.templates import Prompt, load_prompt, prompt_from_dict
from workbench.authoring.yaml_limits import MAX_YAML_CHARS
from workbench.authoring.yaml_roundtrip import updated_yaml
from workbench.errors import TemplateError
from workbench.files import write_file

ORDER = "order"  # the examples table's column that sets their order


def prompts_dir() -> Path:
    return Path(os.environ.get("WORKBENCH_PROMPTS") or "prompts")


def list_prompt_files(directory: str | Path | None = None) -> list[Path]:
    d = Path(directory) if directory else prompts_dir()
    if not d.is_dir():
        return []
    return sorted(p for p in d.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


def read_prompt_file(path: str | Path) -> tuple[Prompt | None, TemplateError | None]:
    """The prompt, or the error that stops it loading (a broken file still shows in the list)."""
    try:
        return load_prompt(path), None
    except TemplateError as e:
        return None, e


def prompts_using_base(name: str, directory: str | Path | None = None) -> list[dict[str, Any]]:
    """The prompt files whose `knowledge:` section names base `name`: {file, prompt, method, k} each. A file
    that does not parse is left out (the Prompts page names its error)."""
    out = []
    for path in list_prompt_files(directory):
        prompt, err = read_prompt_file(path)
        if err is None and prompt.knowledge and prompt.knowledge.get("base") == name:
            out.append({"file": path.name, "prompt": prompt.name, "method": prompt.knowledge["method"],
                        "k": prompt.knowledge["k"]})
    return out


def examples_from_table(df: pd.DataFrame | None) -> list[dict[str, Any]]:
    """Few-shot examples from the editor's table: sorted by `order`, blank rows and cells dropped."""
    if df is None or df.empty:
        return []
    df = df.copy()
    if ORDER in df.columns:
        df[ORDER] = pd.to_numeric(df[ORDER], errors="coerce")
        df = df.sort_values(ORDER, na_position="last", kind="stable").drop(columns=[ORDER])
    out = []
    for rec in df.to_dict(orient="records"):
        rec = {str(k): v for k, v in rec.items() if v is not None and not (isinstance(v, float) and pd.isna(v))
               and str(v).strip() != ""}
        if rec:
            out.append(rec)
    return out


def examples_table(examples: list[dict[str, Any]], columns: list[str] | None = None) -> pd.DataFrame:
    """The editor's table for a prompt's examples, with an `order` column 1..n."""
    cols = list(dict.fromkeys([*(columns or []), *(k for e in examples for k in e)])) or ["question", "answer"]
    df = pd.DataFrame([{c: e.get(c, "") for c in cols} for e in examples], columns=cols).astype("string")
    df.insert(0, ORDER, pd.Series(range(1, len(df) + 1), dtype="Int64"))
    return df


@dataclass
class Preview:
    prompt: Prompt | None
    messages: list[dict[str, str]] | None = None
    required: set[str] = field(default_factory=set)
    optional: set[str] = field(default_factory=set)
    missing: list[str] = field(default_factory=list)  # required variables the dataset lacks
    error: TemplateError | None = None
    source_line: str | None = None  # the template line the error points at
    warnings: list[str] = field(default_factory=list)  # what renders but is probably not meant (full-width braces)


def preview(data: dict[str, Any], row: dict[str, Any] | None, columns: list[str] | None) -> Preview:
    """Parse a draft, check its variables against a dataset's columns, render it on one row."""
    try:
        prompt = prompt_from_dict(data, f"{data.get('name') or 'draft'}.yaml")
    except TemplateError as e:
        return Preview(None, error=e, source_line=source_line(data, e.where))
    out = Preview(prompt)
    try:
        out.warnings = prompt.fullwidth_warnings()
        out.required, out.optional = prompt.variables()
    except TemplateError as e:
        out.error, out.source_line = e, source_line(data, e.where)
        return out
    if columns is not None:
        out.missing = sorted(out.required - set(columns))
    if out.missing:  # the prompt cannot render on this dataset: say what, where, and what there is instead
        places = prompt.variable_places(set(out.missing))
        spots = [p for name in out.missing for p in places[name]]
        first = min(spots, key=lambda p: [int(n) for n in re.findall(r"\d+", p)], default=None)  # earliest
        used = "; ".join(f"{name!r} in {', '.join(places[name])}" for name in out.missing)
        plural = "s" if len(out.missing) > 1 else ""
        out.error = TemplateError(f"undefined variable{plural} {used}: the dataset has no column{plural} "
                                  f"{', '.join(map(repr, out.missing))} (it has: {', '.join(columns or [])})",
                                  f"{prompt.path}: {first}" if first else prompt.path)
        out.source_line = source_line(data, out.error.where)
    if row is not None and not out.missing:
        try:
            out.messages = prompt.render(row)
        except TemplateError as e:
            out.error, out.source_line = e, source_line(data, e.where)
    return out


def draft_lang(data: dict[str, Any]) -> str:
    """'zh' or 'en': the language a draft's messages and examples are written in (variables aside), so the
    preview can open on a row in that language."""
    texts = [str(m.get("content") or "") for m in data.get("messages") or [] if isinstance(m, dict)]
    texts += [str(v) for ex in data.get("examples") or [] if isinstance(ex, dict) for v in ex.values()]
    return detect_lang([re.sub(r"\{\{.*?\}\}|\{%.*?%\}", " ", t) for t in texts])


def source_line(data: dict[str, Any], where: str | None) -> str | None:
    """The text of the template line an error's `where` names (`... message 2, line 3`)."""
    m = re.search(r"(message (\d+)|example_turns\.(user|assistant)), line (\d+)", where or "")
    if not m:
        return None
    try:
        if m.group(2):
            source = data["messages"][int(m.group(2)) - 1]["content"]
        else:
            source = data["example_turns"][m.group(3)]
        lines = str(source).splitlines()
        n = int(m.group(4))
        return lines[n - 1] if 0 < n <= len(lines) else None
    except (KeyError, IndexError, TypeError):
        return None


@dataclass
class Saved:
    version: str
    path: Path
    new: bool  # False when this exact content was already a stored version
    kept: str | None = None  # the replaced file's version, stored before it was overwritten


def save_target(prompt: Prompt, directory: str | Path | None = None, filename: str | None = None) -> Path:
    """The file a Save writes: prompts/NAME.yaml (the name must be usable as a file name)."""
    if not re.fullmatch(r"[\w.-]+", prompt.name) or prompt.name.startswith("."):
        raise TemplateError("the name may use letters, digits, '_', '-' and '.' only (it names the file)", "name")
    return (Path(directory) if directory else prompts_dir()) / (filename or f"{prompt.name}.yaml")


def would_replace(prompt: Prompt, opened: str | None, directory: str | Path | None = None) -> Path | None:
    """The existing file a Save would overwrite although the draft was not opened from it (a new prompt,
    or a renamed one, named like another file): the app asks before replacing it."""
    path = save_target(prompt, directory)
    if os.path.lexists(path) and path.name != opened:
        return path
    return None


def save_prompt(prompt: Prompt, db: str | None = None, directory: str | Path | None = None,
                filename: str | None = None) -> Saved:
    """Store the file being replaced as a version (so no content is lost and the history starts with it),
    then write the prompt's YAML into the prompts directory and store it as a version. A file being
    replaced keeps its comments and formatting: only the values that changed are rewritten."""
    path = save_target(prompt, directory, filename)
    text = prompt.to_yaml()
    with store.connect(db) as con:
        kept = _store_file_version(con, path)
        known = bool((store.list_prompt_versions(con, prompt.name)["hash"] == prompt.version).any())
    write_file(path, _kept_format(path, prompt, text))
    prompt.path = str(path)
    with store.connect(db) as con:
        store.save_prompt_version(con, prompt.name, str(path), prompt.version, text)
    return Saved(prompt.version, path, not known, kept)


def _kept_format(path: Path, prompt: Prompt, text: str) -> str:
    """The new file's text: the old file updated in place when there is one to keep, else `text`."""
    if not path.is_file() or path.is_symlink() or path.stat().st_size > 4 * MAX_YAML_CHARS:
        return text
    try:
        old = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return text
    return updated_yaml(old, prompt.to_dict(), text)


def _store_file_version(con, path: Path) -> str | None:
    """Store the prompt file at `path` as a version (as a run would: its normalized YAML, so diffs show
    only real changes); its version, or None when there is no readable prompt there."""
    if not path.is_file() or path.is_symlink():
        return None
    old, err = read_prompt_file(path)
    if err is not None:
        return None
    store.save_prompt_version(con, old.name, str(path), old.version, old.to_yaml())
    return old.version


def version_diff(old: str, new: str, old_label: str = "old", new_label: str = "new") -> str:
    """Unified diff of two versions' YAML."""
    return "".join(difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                        fromfile=old_label, tofile=new_label))


def overview(db: str | None = None, directory: str | Path | None = None) -> pd.DataFrame:
    """One line per prompt file: its name, version, whether that version is stored, and how many
    versions and runs the database holds under that name (prompts only in the database too)."""
    with store.connect(db) as con:
        versions = store.list_prompt_versions(con)
    by_name = versions.groupby("name").agg(versions=("hash", "size"), runs=("n_runs", "sum"),
                                           last_stored=("created_at", "max")) if not versions.empty else None
    rows = []
    for path in list_prompt_files(directory):
        prompt, err = read_prompt_file(path)
        name = prompt.name if prompt else path.stem
        rows.append({"file": path.name, "name": name, "version": prompt.version[:8] if prompt else "(invalid)",
                     "saved": bool(prompt and (versions["hash"] == prompt.version).any()) if len(versions) else False})
    df = pd.DataFrame(rows, columns=["file", "name", "version", "saved"])
    if by_name is not None:
        df = df.merge(by_name, left_on="name", right_index=True, how="outer")
        df["file"] = df["file"].fillna("(database only)")
        df["saved"] = df["saved"].fillna(False).astype(bool)
        df[["versions", "runs"]] = df[["versions", "runs"]].fillna(0).astype(int)
    return df.reset_index(drop=True)

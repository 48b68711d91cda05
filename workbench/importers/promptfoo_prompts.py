"""promptfoo prompts -> chat messages with Jinja templates, and what does not translate."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from jinja2 import TemplateSyntaxError, nodes

from workbench.importers.promptfoo_files import file_ref, read_text, read_yaml

CODE_SUFFIXES = (".py", ".js", ".ts", ".mjs", ".cjs")
RENAMED_FILTERS = {"dump": "tojson"}  # Nunjucks name -> Jinja name (same meaning for plain data)


def prompt_texts(prompts: Any, base: Path, skipped: list[str]) -> Iterator[tuple[str, list[dict], str]]:
    """(label, messages, where) per prompt: inline text, chat JSON text, file:// text with `---` separators,
    file:// JSON or YAML chat messages."""
    items: list[tuple[Any, str | None]] = []
    if isinstance(prompts, dict):  # {file://path: label}
        items = [(k, str(v)) for k, v in prompts.items()]
    elif prompts is not None:
        for p in prompts if isinstance(prompts, list) else [prompts]:
            if isinstance(p, dict):
                items.append((p.get("raw") or p.get("id"), p.get("label") or p.get("id")))
            else:
                items.append((p, None))
    for i, (value, label) in enumerate(items):
        where = f"prompts[{i}]"
        ref = file_ref(value)
        if not isinstance(value, str):
            skipped.append(f"{where}: {str(value)[:80]!r} (not a prompt)")
        elif ref is None:
            yield label or f"prompt_{i + 1}", _messages(value), where
        elif Path(ref.split(":")[0]).suffix in CODE_SUFFIXES or any(c in ref for c in "*?["):
            skipped.append(f"{where}: {value} (prompt functions and globs do not translate)")
        elif Path(ref).suffix.lower() in (".json", ".yaml", ".yml"):
            path = base / ref
            chat = read_yaml(path, ref)  # JSON is YAML
            if _is_chat(chat):
                yield label or Path(ref).stem, chat, f"{where} {value}"
            else:
                skipped.append(f"{where}: {value} (not a list of chat messages)")
        else:
            parts = [p.strip() for p in _split(read_text(base / ref, ref)) if p.strip()]
            for j, part in enumerate(parts):
                name, place = label or Path(ref).stem, f"{where} {value}"
                if len(parts) > 1:
                    name, place = f"{name}_{j + 1}", f"{place} (part {j + 1})"
                yield name, _messages(part), place


def _split(text: str) -> list[str]:
    """promptfoo separates prompts in one text file by a line `---`."""
    parts, current = [], []
    for line in text.splitlines():
        if line.strip() == "---":
            parts.append("\n".join(current))
            current = []
        else:
            current.append(line)
    return [*parts, "\n".join(current)]


def _is_chat(value: Any) -> bool:
    return (isinstance(value, list) and bool(value)
            and all(isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
                    for m in value))


def _messages(text: str) -> list[dict]:
    """Inline text is one user message; inline chat JSON (a list of role/content objects) stays chat."""
    if text.lstrip().startswith("["):
        try:
            chat = json.loads(text)
        except ValueError:
            chat = None
        if _is_chat(chat):
            return chat
    return [{"role": "user", "content": text}]


def translate_template(messages: list[dict]) -> tuple[list[dict], list[str]]:
    """Messages whose Nunjucks templates Jinja reads the same (filters renamed where needed), and the problems:
    a filter Jinja lacks (promptfoo's `load`, custom nunjucksFilters), syntax Jinja cannot parse."""
    from workbench.authoring.sandbox import BoundedEnvironment

    env = BoundedEnvironment()
    out, problems = [], []
    for k, m in enumerate(messages):
        content = m["content"]
        try:
            ast = env.parse(content)
        except TemplateSyntaxError as e:
            problems.append(f"message {k + 1}: Nunjucks that Jinja cannot read ({e.message}, line {e.lineno})")
            continue
        for f in ast.find_all(nodes.Filter):
            if f.name in RENAMED_FILTERS:
                continue
            if f.name not in env.filters:
                problems.append(f"message {k + 1}: custom filter `{f.name}`")
        for old, new in RENAMED_FILTERS.items():
            content = content.replace(f"| {old}", f"| {new}").replace(f"|{old}", f"|{new}")
        out.append({"role": m["role"], "content": content})
    return out, problems

"""Reading the files a promptfoo config points at: size-capped, YAML through the project's bounded loader."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from workbench.authoring.yaml_limits import load_yaml
from workbench.errors import UserError

MAX_FILE_BYTES = 20_000_000


def read_text(path: Path, where: str) -> str:
    if not path.is_file():
        raise UserError(f"file not found: {path}", where)
    if path.stat().st_size > MAX_FILE_BYTES:
        raise UserError(f"{path} is over {MAX_FILE_BYTES:,} bytes", where)
    return path.read_text(encoding="utf-8")


def read_yaml(path: Path, where: str) -> Any:
    try:
        return load_yaml(read_text(path, where))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise UserError(f"invalid YAML: {getattr(e, 'problem', None) or e}",
                        f"{path}:{mark.line + 1}" if mark else str(path)) from None


def file_ref(value: Any) -> str | None:
    return value[len("file://"):] if isinstance(value, str) and value.startswith("file://") else None

"""API keys from .streamlit/secrets.toml for the CLI, as the app reads them.

The environment wins; then ./.streamlit/secrets.toml, then ~/.streamlit/secrets.toml (Streamlit's own
order). Values go into this process's environment, where the providers read them; they are never
printed, stored or exported.
"""

from __future__ import annotations

import os
from pathlib import Path

NAMES = ("OPENAI_API_KEY", "OPENAI_BASE_URL")


def secret_files() -> list[Path]:
    return [Path.cwd() / ".streamlit" / "secrets.toml", Path.home() / ".streamlit" / "secrets.toml"]


def toml_parser():
    """tomllib (Python 3.11+) or, on 3.10, tomli: the same parser under its PyPI name."""
    try:
        import tomllib
    except ImportError:
        import tomli as tomllib
    return tomllib


def load_secrets(files: list[Path] | None = None) -> list[str]:
    """Set the missing NAMES from the first secrets file that has them; returns the names set."""
    toml = toml_parser()
    found = []
    for name in NAMES:
        if os.environ.get(name):
            continue
        for path in files if files is not None else secret_files():
            try:
                value = toml.loads(path.read_text(encoding="utf-8")).get(name)
            except (OSError, ValueError):
                continue
            if value:
                os.environ[name] = str(value)
                found.append(name)
                break
    return found

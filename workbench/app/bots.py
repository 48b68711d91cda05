"""The classic bots the app offers: the Rasa server at $WORKBENCH_RASA_URL (default the one `make rasa`
starts) when it answers, and a ChatterBot bot per dataset file with question and reference columns."""

from __future__ import annotations

import os

from workbench.app.catalog import datasets_dir
from workbench.authoring.datasets import SUFFIXES, load_dataset
from workbench.errors import UserError


def rasa_url() -> str:
    return (os.environ.get("WORKBENCH_RASA_URL") or "http://127.0.0.1:5005").rstrip("/")


def rasa_status(url: str | None = None) -> dict | None:
    """Rasa's /status at `url` (default rasa_url()), or None when no Rasa server answers there."""
    from workbench.providers.rasa import server_status

    return server_status(url or rasa_url(), timeout=1.0)


def chatterbot_specs() -> list[str]:
    """chatterbot:FILE for every dataset file a bot can be trained on (question and reference columns)."""
    d = datasets_dir()
    if not d.is_dir():
        return []
    specs = []
    for path in sorted(p for p in d.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES):
        try:
            columns = load_dataset(path).columns
        except UserError:
            continue
        if "question" in columns and "reference" in columns:
            specs.append(f"chatterbot:{path}")
    return specs


def bot_specs() -> list[str]:
    """What the Run page offers: Rasa when it is up, then the ChatterBot bots."""
    return ([f"rasa:{rasa_url()}"] if rasa_status() is not None else []) + chatterbot_specs()

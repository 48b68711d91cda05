"""How the app names a setting that a UserError (workbench.errors) points at: the label of its field."""

from __future__ import annotations

LABELS = {"limit": "Row limit", "timeout": "Timeout per request (s)", "concurrency": "Requests in flight",
          "annotators_per_item": "Annotators per item", "model": "Models", "metrics": "Metrics",
          "repeats": "Repeats", "params": "Parameters", "where": "Row filter", "unit": "Rate",
          # provider settings the app sets itself; named in words should one ever be refused
          "retries": "Retries per request", "rpm": "Requests per minute", "tpm": "Tokens per minute"}


def label_for(setting: str) -> str:
    """The field's label; a setting without one is its name in words, capitalised."""
    return LABELS.get(setting) or setting.replace("_", " ").capitalize()

"""How the app names a setting that a UserError (workbench.errors) points at: the label of its field, in the
interface's language."""

from __future__ import annotations

from workbench.app.i18n import N_, _

LABELS = {"limit": N_("Row limit"), "timeout": N_("Timeout per request (s)"),
          "concurrency": N_("Requests in flight"), "annotators_per_item": N_("Annotators per item"),
          "model": N_("Models"), "metrics": N_("Metrics"), "repeats": N_("Repeats"), "params": N_("Parameters"),
          "where": N_("Row filter"), "unit": N_("Rate"),
          # provider settings the app sets itself; named in words should one ever be refused
          "retries": N_("Retries per request"), "rpm": N_("Requests per minute"), "tpm": N_("Tokens per minute")}


def label_for(setting: str) -> str:
    """The field's label; a setting without one is its name in words, capitalised."""
    return _(LABELS[setting]) if setting in LABELS else setting.replace("_", " ").capitalize()

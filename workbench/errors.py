"""Errors a user can fix. The CLI prints them as one line and exits 2; the app shows them inline."""

from __future__ import annotations

from collections.abc import Callable


class UserError(Exception):
    """Bad input: a file, row, template or setting the user can correct.

    `where` names the place (``prompts/x.yaml: message 2, line 3`` or ``data.jsonl:37``) so the
    message always says what is wrong and where. A bad setting is named by `setting`, in words
    (``limit``, ``timeout``, ``model``): the CLI shows it as its flag (``--limit``), the app as its
    label (``Row limit``), through `shown`. A `where` that is a flag (``"--k"``, older call sites)
    is read as that setting (its str() keeps the flag).
    """

    def __init__(self, message: str, where: str | None = None, *, setting: str | None = None):
        text = None
        if setting is None and where and where.startswith("--") and " " not in where:
            text = f"{where}: {message}"  # str() as before, for callers that read it
            setting, where = where[2:].replace("-", "_"), None
        self.message = message
        self.where = where
        self.setting = setting
        super().__init__(text or self.shown())

    def shown(self, name_of: Callable[[str], str] | None = None) -> str:
        """The one line to show: ``place: message``, the setting named by `name_of` (default: as is)."""
        place = self.where
        if self.setting is not None:
            name = name_of(self.setting) if name_of else self.setting
            place = f"{place} ({name})" if place else name
        return f"{place}: {self.message}" if place else self.message


class TemplateError(UserError):
    """A prompt template that cannot be parsed or rendered."""


class DatasetError(UserError):
    """A dataset file that cannot be read, or rows that do not fit the prompt."""


class StoreBusyError(Exception):
    """The DuckDB file stayed locked by another process longer than we wait."""

"""Errors a user can fix. The CLI prints them as one line and exits 2; the app shows them inline."""

from __future__ import annotations


class UserError(Exception):
    """Bad input: a file, row, template or option the user can correct.

    `where` names the place (``prompts/x.yaml: message 2, line 3`` or ``data.jsonl:37``) so the
    message always says what is wrong and where.
    """

    def __init__(self, message: str, where: str | None = None):
        self.message = message
        self.where = where
        super().__init__(f"{where}: {message}" if where else message)


class TemplateError(UserError):
    """A prompt template that cannot be parsed or rendered."""


class DatasetError(UserError):
    """A dataset file that cannot be read, or rows that do not fit the prompt."""


class StoreBusyError(Exception):
    """The DuckDB file stayed locked by another process longer than we wait."""

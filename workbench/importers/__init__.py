"""Importers: other tools' eval suites as workbench prompt files, datasets and eval files."""

from workbench.importers.promptfoo import ImportResult, import_promptfoo

__all__ = ["ImportResult", "import_promptfoo"]

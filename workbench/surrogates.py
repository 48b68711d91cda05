"""Lone UTF-16 surrogates: valid in a Python str (json.loads turns a broken "\\uD83D" escape into one), not in
UTF-8, so DuckDB cannot store them and one such character fails the whole batch it is written with."""

from __future__ import annotations

import re

LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def storable(text: str) -> str:
    """`text` with every lone surrogate replaced by U+FFFD."""
    return LONE_SURROGATE.sub("\ufffd", text) if LONE_SURROGATE.search(text) else text

"""String checks: exact match, contains, regex, JSON validity, length.

exact/contains compare after Unicode case folding and whitespace collapsing, so "Yes." and
" yes. " match; use `regex` for anything stricter. All checks are 0 or 1.
"""

from __future__ import annotations

import functools
import json
import re


def normalize(text: str) -> str:
    return " ".join(text.casefold().split())


def exact(prediction: str, references: list[str]) -> float:
    p = normalize(prediction)
    return float(any(p == normalize(r) for r in references))


def contains(prediction: str, references: list[str]) -> float:
    p = normalize(prediction)
    return float(any(normalize(r) in p for r in references))


@functools.lru_cache(maxsize=64)
def compile_pattern(pattern: str) -> re.Pattern:
    return re.compile(pattern, re.DOTALL)


def regex(prediction: str, pattern: str) -> float:
    """1 when the pattern matches anywhere in the output (re.search, DOTALL)."""
    return float(compile_pattern(pattern).search(prediction) is not None)


def json_valid(prediction: str) -> float:
    try:
        json.loads(prediction)
    except (ValueError, RecursionError):
        return 0.0
    return 1.0


def length(prediction: str) -> float:
    """Characters in the output (a measurement, not a 0-1 score)."""
    return float(len(prediction))

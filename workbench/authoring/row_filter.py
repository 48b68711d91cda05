"""Row filters: `split == 'test'`, `intent in ['refund', 'returns'] and split != 'train'`.

A tiny parser of its own rather than eval(): a filter is typed by a user (CLI `--where`, the Run page),
so it may only compare a row's fields with literal values. The grammar:

    expr    := and ('or' and)*
    and     := not ('and' not)*
    not     := 'not' not | '(' expr ')' | FIELD OP VALUE
    OP      := '==' | '!=' | 'in' | 'not in'
    VALUE   := 'text' | "text" | number | true | false | null | '[' VALUE, ... ']'

A field is a column name (letters, digits, `_`, `-`, `.`) or a quoted name in backticks. Every field must
be a column of the dataset; a row without the field compares as null, and a number equals a CSV cell that
reads as that number (CSV cells are all text).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from workbench.authoring.datasets import Dataset
from workbench.errors import UserError

TOKEN = re.compile(r"""
    \s*(?:
      (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
    | (?P<number>-?\d+(?:\.\d+)?(?![\w.]))
    | (?P<op>==|!=|<=|>=|=|<|>|\(|\)|\[|\]|,)
    | (?P<quoted>`[^`]+`)
    | (?P<word>[A-Za-z_][\w.\-]*)
    )""", re.VERBOSE)
KEYWORDS = {"and", "or", "not", "in", "true", "false", "null"}
MAX_LENGTH = 2000

Test = Callable[[dict[str, Any]], bool]


@dataclass
class RowFilter:
    text: str
    fields: set[str]
    test: Test

    def matches(self, row: dict[str, Any]) -> bool:
        return self.test(row)


class _Parser:
    def __init__(self, text: str, setting: str):
        self.text, self.setting = text, setting
        self.tokens: list[tuple[str, Any, int]] = []
        self.pos = 0
        self.fields: set[str] = set()
        self._tokenize()

    def fail(self, message: str, at: int | None = None) -> UserError:
        where = f"character {at + 1} of " if at is not None else ""
        return UserError(f"{message} ({where}{self.text!r}); write e.g. split == 'test' or "
                         "intent in ['refund', 'returns'] and split != 'train'", setting=self.setting)

    def _tokenize(self) -> None:
        i, text = 0, self.text
        while i < len(text):
            if text[i:].strip() == "":
                break
            m = TOKEN.match(text, i)
            if not m:
                raise self.fail(f"unexpected {text[i:].lstrip()[:1]!r}", i + len(text[i:]) - len(text[i:].lstrip()))
            kind = m.lastgroup
            raw = m.group(kind)
            start = m.start(kind)
            if kind == "string":
                value: Any = re.sub(r"\\(.)", r"\1", raw[1:-1])
            elif kind == "number":
                value = float(raw) if "." in raw else int(raw)
            elif kind == "quoted":
                kind, value = "field", raw[1:-1]
            elif kind == "word" and raw.lower() in KEYWORDS:
                kind, value = "keyword", raw.lower()
            elif kind == "word":
                kind, value = "field", raw
            else:
                value = raw
            self.tokens.append((kind, value, start))
            i = m.end()

    def peek(self) -> tuple[str, Any, int] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, kind: str, value: Any = None) -> tuple[str, Any, int]:
        tok = self.peek()
        if tok is None or tok[0] != kind or (value is not None and tok[1] != value):
            want = repr(value) if value is not None else {"field": "a column name", "op": "an operator"}.get(kind, kind)
            got = f"{tok[1]!r}" if tok else "the end"
            raise self.fail(f"expected {want}, found {got}", tok[2] if tok else len(self.text))
        self.pos += 1
        return tok

    def at(self, kind: str, value: Any) -> bool:
        tok = self.peek()
        return tok is not None and tok[0] == kind and tok[1] == value

    def parse(self) -> Test:
        if not self.tokens:
            raise self.fail("the filter is empty")
        test = self.expr()
        if self.peek() is not None:
            tok = self.peek()
            raise self.fail(f"unexpected {tok[1]!r}: join conditions with 'and' or 'or'", tok[2])
        return test

    def expr(self) -> Test:
        parts = [self.conjunction()]
        while self.at("keyword", "or"):
            self.pos += 1
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else (lambda row: any(p(row) for p in parts))

    def conjunction(self) -> Test:
        parts = [self.negation()]
        while self.at("keyword", "and"):
            self.pos += 1
            parts.append(self.negation())
        return parts[0] if len(parts) == 1 else (lambda row: all(p(row) for p in parts))

    def negation(self) -> Test:
        if self.at("keyword", "not"):
            self.pos += 1
            inner = self.negation()
            return lambda row: not inner(row)
        if self.at("op", "("):
            self.pos += 1
            inner = self.expr()
            self.take("op", ")")
            return inner
        return self.comparison()

    def comparison(self) -> Test:
        field = self.take("field")[1]
        self.fields.add(field)
        if self.at("keyword", "not"):
            self.pos += 1
            self.take("keyword", "in")
            values = self.values()
            return lambda row: not any(_equal(row.get(field), v) for v in values)
        if self.at("keyword", "in"):
            self.pos += 1
            values = self.values()
            return lambda row: any(_equal(row.get(field), v) for v in values)
        tok = self.peek()
        if tok is None or tok[1] not in ("==", "!="):
            hint = " (= is written ==)" if tok is not None and tok[1] == "=" else ""
            raise self.fail(f"expected ==, !=, in or not in after {field!r}{hint}", tok[2] if tok else len(self.text))
        self.pos += 1
        value = self.literal()
        if tok[1] == "==":
            return lambda row: _equal(row.get(field), value)
        return lambda row: not _equal(row.get(field), value)

    def values(self) -> list[Any]:
        self.take("op", "[")
        out = [self.literal()]
        while self.at("op", ","):
            self.pos += 1
            out.append(self.literal())
        self.take("op", "]")
        return out

    def literal(self) -> Any:
        tok = self.peek()
        if tok is not None and tok[0] in ("string", "number"):
            self.pos += 1
            return tok[1]
        if tok is not None and tok[0] == "keyword" and tok[1] in ("true", "false", "null"):
            self.pos += 1
            return {"true": True, "false": False, "null": None}[tok[1]]
        hint = f": quote text, as in '{tok[1]}'" if tok is not None and tok[0] == "field" else ""
        raise self.fail(f"expected a value, found {tok[1]!r}{hint}" if tok else "expected a value, found the end",
                        tok[2] if tok else len(self.text))


def _equal(cell: Any, literal: Any) -> bool:
    """`cell == literal`, where a CSV's text "3" or "3.0" equals the number 3 (CSV cells are all text)."""
    if cell == literal:
        return True
    if isinstance(literal, (int, float)) and not isinstance(literal, bool) and isinstance(cell, str):
        try:
            return float(cell) == literal
        except ValueError:
            return False
    return False


def parse_where(text: str, setting: str = "where") -> RowFilter:
    """Parse a filter expression; a bad one raises UserError naming the setting and the place."""
    if len(text) > MAX_LENGTH:
        raise UserError(f"the filter is longer than {MAX_LENGTH} characters", setting=setting)
    parser = _Parser(text, setting)
    test = parser.parse()
    return RowFilter(text.strip(), parser.fields, test)


def where_text(where: str | None, split: str | None) -> str | None:
    """One filter from `--where` and the `--split NAME` shortcut (both: rows must match both)."""
    parts = [f"({where.strip()})" if where and split else (where or "").strip(),
             f"split == {split.strip()!r}" if split else ""]
    text = " and ".join(p for p in parts if p)
    return text or None


def filter_rows(dataset: Dataset, where: str | None, setting: str = "where") -> Dataset:
    """The dataset's rows that match `where` (None: the dataset itself), keeping each row's place in the file.

    The result is a dataset of its own (its hash covers only these rows), named after the file and the filter.
    """
    if not where or not where.strip():
        return dataset
    rule = parse_where(where, setting)
    unknown = sorted(rule.fields - set(dataset.columns))
    if unknown:
        raise UserError(f"{dataset.path} has no column {', '.join(map(repr, unknown))} "
                        f"(it has: {', '.join(dataset.columns)})", setting=setting)
    keep = [i for i, row in enumerate(dataset.rows) if rule.matches(row)]
    if not keep:
        raise UserError(f"no row of {dataset.path} matches {rule.text!r}", setting=setting)
    return Dataset(f"{dataset.name}[{rule.text}]", dataset.path, [dataset.rows[i] for i in keep], dataset.columns,
                   dataset.reference_field, dataset.lang, dataset.encoding,
                   [dataset.line_numbers[i] for i in keep] if dataset.line_numbers else [i + 1 for i in keep])

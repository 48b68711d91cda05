"""Checks: pass/fail tests of one output (promptfoo calls them assertions), each a 0/1 metric.

A check is written `KIND:ARGUMENT` (`contains:refund`, `max-length:400`, `json-path:$.status=ok`, `is-json`)
and its scores are stored under that text. Kinds:

- `contains:TEXT`, `not-contains:TEXT`, `icontains:TEXT` (case-insensitive), `equals:TEXT` (whole output,
  surrounding whitespace ignored), `starts-with:TEXT`;
- `contains-any:A,B,C`, `contains-all:A,B,C` (comma-separated);
- `regex:PATTERN` (re.search, DOTALL);
- `is-json` (the output parses as JSON), `is-json:SCHEMA` (and validates against a JSON schema, given inline
  as `{...}` or as a file path);
- `json-path:PATH=VALUE`: the output is JSON and the value at PATH (`$.a.b[0]`, `$['key']`) equals VALUE
  (read as JSON when it parses: `=3`, `=true`, `="x"`; as text otherwise);
- `max-length:N` (characters).

Spaces after the colon are dropped (`contains: refund` is `contains:refund`), as promptfoo's `__expected`
columns write them. A row's own checks come from the dataset: a column `__expected` (or `__expected1`,
`__expected2`, ...) or a JSONL `checks` list; see `row_checks`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.errors import UserError
from workbench.metrics import text
from workbench.metrics.base import Metric

KINDS = ("contains", "not-contains", "icontains", "equals", "starts-with", "contains-any", "contains-all", "regex",
         "is-json", "json-path", "max-length")
NO_ARGUMENT = ("is-json",)  # kinds whose argument may be left out
MAX_SCHEMA_BYTES = 1_000_000
_PATH_STEP = re.compile(r"\.([A-Za-z_][\w-]*)|\[(\d+)\]|\[(['\"])(.*?)\3\]")


@dataclass(frozen=True)
class Check:
    kind: str
    argument: str
    test: Callable[[str], bool]

    @property
    def name(self) -> str:
        return f"{self.kind}:{self.argument}" if self.argument else self.kind

    def __call__(self, output: str) -> bool:
        return bool(self.test(output))


def parse_check(spec: str, where: str = "--check") -> Check:
    """A check from its text; a bad one raises UserError naming `where` (a flag, or file:row)."""
    kind, colon, argument = str(spec).strip().partition(":")
    kind, argument = kind.strip().lower(), argument.lstrip()
    if kind not in KINDS:
        raise UserError(f"unknown check {kind!r} in {spec!r} (known: {', '.join(KINDS)})", where)
    if not argument and kind not in NO_ARGUMENT:
        raise UserError(f"check {kind!r} needs an argument: {kind}:VALUE", where)
    return Check(kind, argument, _test(kind, argument, where))


def _test(kind: str, arg: str, where: str) -> Callable[[str], bool]:
    if kind == "contains":
        return lambda out: arg in out
    if kind == "not-contains":
        return lambda out: arg not in out
    if kind == "icontains":
        low = arg.casefold()
        return lambda out: low in out.casefold()
    if kind == "equals":
        return lambda out: out.strip() == arg.strip()
    if kind == "starts-with":
        return lambda out: out.lstrip().startswith(arg)
    if kind in ("contains-any", "contains-all"):
        parts = [p.strip() for p in arg.split(",") if p.strip()]
        match = any if kind == "contains-any" else all
        return lambda out: match(p in out for p in parts)
    if kind == "regex":
        try:
            pattern = text.compile_pattern(arg)
        except Exception as e:  # re.error, RecursionError, OverflowError
            raise UserError(f"bad regular expression {arg!r}: {e}", where) from None
        return lambda out: pattern.search(out) is not None
    if kind == "max-length":
        try:
            limit = int(arg)
        except ValueError:
            raise UserError(f"max-length needs a whole number of characters, got {arg!r}", where) from None
        return lambda out: len(out) <= limit
    if kind == "is-json":
        return _json_test(_schema(arg, where) if arg else None)
    return _json_path_test(arg, where)


def _load_json(out: str) -> tuple[bool, Any]:
    try:
        return True, json.loads(out)
    except (ValueError, RecursionError):
        return False, None


def _schema(arg: str, where: str) -> dict:
    import jsonschema

    if arg.startswith("{"):
        source = arg
    else:
        path = Path(arg)
        if not path.is_file():
            raise UserError(f"is-json: no schema file {arg!r} (give a path or an inline {{...}} schema)", where)
        if path.stat().st_size > MAX_SCHEMA_BYTES:
            raise UserError(f"is-json: schema file {arg!r} is over {MAX_SCHEMA_BYTES} bytes", where)
        source = path.read_text(encoding="utf-8")
    ok, schema = _load_json(source)
    if not ok or not isinstance(schema, dict):
        raise UserError(f"is-json: the schema {arg[:80]!r} is not a JSON object", where)
    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as e:
        raise UserError(f"is-json: invalid JSON schema: {e.message}", where) from None
    return schema


def _json_test(schema: dict | None) -> Callable[[str], bool]:
    validator = None
    if schema is not None:
        import jsonschema

        validator = jsonschema.validators.validator_for(schema)(schema)

    def test(out: str) -> bool:
        ok, value = _load_json(out)
        return ok and (validator is None or validator.is_valid(value))

    return test


def _json_path_test(arg: str, where: str) -> Callable[[str], bool]:
    path, eq, expected_text = arg.partition("=")
    path = path.strip()
    if not eq or not path.startswith("$"):
        raise UserError(f"json-path needs PATH=VALUE with PATH starting at $ (e.g. $.status=ok), got {arg!r}", where)
    steps, pos = [], 1
    while pos < len(path):
        m = _PATH_STEP.match(path, pos)
        if not m:
            raise UserError(f"json-path: cannot read {path[pos:]!r} in {path!r} (use .key, [N] or ['key'])", where)
        steps.append(m.group(1) if m.group(1) is not None else int(m.group(2)) if m.group(2) else m.group(4))
        pos = m.end()
    ok, expected = _load_json(expected_text.strip())
    if not ok:
        expected = expected_text.strip()

    def test(out: str) -> bool:
        ok, value = _load_json(out)
        if not ok:
            return False
        for step in steps:
            try:
                value = value[step]
            except (KeyError, IndexError, TypeError):
                return False
        return value == expected

    return test


def _is_expected(key: str) -> bool:
    return key == "__expected" or re.fullmatch(r"__expected\d+", key) is not None


def check_columns(names: Iterable[Any]) -> list[str]:
    """Of these column names, those row_checks reads (`__expected...` and `checks`)."""
    return [k for k in names if isinstance(k, str) and (k == "checks" or _is_expected(k))]


def row_checks(row: dict[str, Any], where: str) -> list[Check]:
    """A dataset row's own checks: `__expected`, `__expected1`, `__expected2`... columns (one check each; a
    plain value without a known kind means `equals:VALUE`, as in promptfoo) and a JSONL `checks` list."""
    specs: list[str] = []
    for key in sorted(k for k in row if _is_expected(k)):
        value = row[key]
        if value is None or (isinstance(value, float) and value != value) or str(value).strip() == "":
            continue
        value = str(value)
        kind = value.partition(":")[0].strip().lower()
        specs.append(value if kind in KINDS else f"equals:{value}")
    listed = row.get("checks")
    if listed is not None:
        if not isinstance(listed, list) or not all(isinstance(c, str) for c in listed):
            raise UserError("`checks` must be a list of check strings such as \"contains:refund\"", where)
        specs += listed
    return [parse_check(s, where) for s in specs]


def _rebuild(spec: str) -> CheckMetric:
    return CheckMetric(spec=spec)


class CheckMetric(Metric):
    """A check as a metric: 1 when the output passes, 0 when it does not; its scores are named after the
    check (`contains:refund`), its stored spec is {"name": "check", "spec": "contains:refund"}."""

    name = "check"
    needs_reference = False
    options = {"spec": str}
    required = ("spec",)

    def __init__(self, **options: Any):
        super().__init__(**options)
        self.check = parse_check(self.config["spec"])
        self.name = self.check.name  # type: ignore[misc] - the score's name; the class stays registered as "check"

    def score_batch(self, predictions: Sequence[str], references_lists: Sequence[Sequence[str]],
                    lang: str) -> list[float | None]:
        return [float(self.check(p)) for p in predictions]

    def spec(self) -> dict[str, Any]:
        return {"name": "check", "spec": self.config["spec"]}

    def __reduce__(self):  # scoring workers get the spec and parse it again (the test is a closure)
        return (_rebuild, (self.config["spec"],))

    def signature(self, lang: str) -> str:
        return f"check|{self.check.name}|scale:0-1"

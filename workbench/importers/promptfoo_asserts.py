"""promptfoo assertions -> workbench checks (workbench.metrics.checks), or the reason one does not translate."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from workbench.errors import UserError
from workbench.metrics.checks import parse_check

SAME = {"equals", "contains", "icontains", "starts-with", "regex", "not-contains", "contains-any", "contains-all"}
WHY = {  # promptfoo types with no workbench equivalent, and why
    "javascript": "JavaScript assertions do not run here", "python": "Python assertions are code and do not run here",
    "llm-rubric": "no LLM-judge metric in workbench yet", "g-eval": "no LLM-judge metric in workbench yet",
    "model-graded-closedqa": "no LLM-judge metric in workbench yet", "factuality": "no LLM-judge metric yet",
    "similar": "no semantic-similarity metric in workbench yet", "answer-relevance": "no judge metric yet",
}
# every type an `__expected` cell may start with (others make the cell an `equals` value)
KNOWN = SAME | set(WHY) | {"is-json", "contains-json", "is-xml", "contains-xml", "is-sql", "levenshtein", "rouge-n",
                           "bleu", "cost", "latency", "perplexity", "webhook", "moderation", "classifier",
                           "context-faithfulness", "context-recall", "context-relevance", "icontains-any",
                           "icontains-all", "equals", "is-valid-openai-tools-call", "word-count", "finish-reason"}
ALIASES = {"grader": "llm-rubric", "fn": "javascript", "eval": "javascript"}


def expected_assertion(cell: str) -> dict[str, Any]:
    """An `__expected` CSV cell as an assertion: `TYPE: VALUE`, `similar(0.8): VALUE`, or a plain value (equals)."""
    m = re.match(r"^(not-)?([a-z][a-z0-9-]*)(?:\(([^)]*)\))?:\s?(.*)$", cell, re.DOTALL)
    if m:
        kind = ALIASES.get(m[2], m[2])
        if kind in KNOWN:
            out: dict[str, Any] = {"type": (m[1] or "") + kind, "value": m[4]}
            if m[3]:
                out["threshold"] = m[3]
            return out
    if cell.strip() in KNOWN:  # `is-json` with no value
        return {"type": cell.strip()}
    return {"type": "equals", "value": cell}


def assertion_check(a: Any, base: Path) -> tuple[str | None, str]:
    """(check text, "") or (None, what and why it does not translate)."""
    if not isinstance(a, dict) or not isinstance(a.get("type"), str):
        return None, f"{str(a)[:80]!r} (not an assertion: needs a type)"
    kind, value = a["type"], a.get("value")
    shown = f"{kind}" + (f" {str(value)[:60]!r}" if value is not None else "")
    if kind in WHY or kind.removeprefix("not-") in WHY:
        return None, f"{shown} ({WHY[kind.removeprefix('not-')]})"
    if kind in ("contains-any", "contains-all"):
        values = value if isinstance(value, list) else str(value or "").split(",")
        if any("," in str(v) for v in values) and isinstance(value, list):
            return None, f"{shown} (a value holds a comma, which the check's list cannot)"
        return f"{kind}:{','.join(str(v).strip() for v in values)}", ""
    if kind in SAME:
        if value is None or isinstance(value, (dict, list)) and kind != "equals":
            return None, f"{shown} (needs a text value)"
        text = json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else str(value)
        return f"{kind}:{text}", ""
    if kind == "is-json":
        if value is None:
            return "is-json", ""
        schema = value
        if isinstance(value, str) and value.startswith("file://"):
            path = base / value[len("file://"):]
            if not path.is_file():
                return None, f"{shown} (schema file not found)"
            return f"is-json:{path}", ""
        return f"is-json:{json.dumps(schema, ensure_ascii=False)}", ""
    return None, f"{shown} (no workbench check of this kind)"


def render_value(check: str, row: dict[str, Any], where: str) -> str:
    """A check whose value uses the test's vars (`contains:{{ city }}`), rendered with that row; checked."""
    if "{{" in check or "{%" in check:
        import jinja2

        from workbench.authoring import sandbox
        from workbench.authoring.sandbox import BoundedEnvironment

        sandbox.start()  # this render's own time budget (not what is left of an earlier render's in this thread)
        try:
            check = BoundedEnvironment(undefined=jinja2.StrictUndefined).from_string(check).render(**row)
        except jinja2.TemplateError as e:
            raise UserError(f"cannot fill the assertion's value from the test's vars: {e}", where) from None
    parse_check(check, where)
    return check

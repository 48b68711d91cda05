"""An eval file: what `workbench eval` runs, in one YAML file a repository keeps and CI runs.

    prompts: [prompts/support_zero_shot.yaml]      # one path or a list
    data: datasets/support_en.jsonl
    models: [openai:gpt-4o-mini]
    metrics: [exact, bleu]                         # a list or "exact,bleu"
    checks: ["icontains:password", "max-length:400"]
    gates: ["pass_rate>=0.9", "bleu.ci_low>=0.15"]
    gate_vs: [{run: BASELINE_RUN, gate: "bleu>=-0.01"}]
    limit: 50
    concurrency: 8
    params: {temperature: 0}

Also: reference, lang, repeat, timeout, retries, rpm, tpm, cache, junit, db, prices (a price file). Paths (prompts, data, junit, db,
an is-json schema file) are relative to the eval file. The file is read like a prompt file: size-capped,
with YAML aliases counted before anything is built.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from workbench.authoring.yaml_limits import load_yaml
from workbench.errors import UserError

MAX_EVAL_FILE_CHARS = 1_000_000
# key -> (type check, what it must be)
_LIST = (lambda v: isinstance(v, str) or (isinstance(v, list) and all(isinstance(x, str) for x in v)),
         "a string or a list of strings")
_INT = (lambda v: isinstance(v, int) and not isinstance(v, bool), "a whole number")
_NUM = (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool), "a number")
_STR = (lambda v: isinstance(v, str), "a string")
KEYS: dict[str, tuple[Any, str]] = {
    "prompts": _LIST, "data": _STR, "models": _LIST, "metrics": _LIST, "checks": _LIST, "gates": _LIST,
    "gate_vs": (lambda v: isinstance(v, list) and all(isinstance(x, dict) and set(x) == {"run", "gate"}
                                                      for x in v), "a list of {run: RUN, gate: GATE}"),
    "limit": _INT, "repeat": _INT, "concurrency": _INT, "retries": _INT, "timeout": _NUM, "rpm": _NUM, "tpm": _NUM,
    "cache": (lambda v: isinstance(v, bool), "true or false"), "reference": _STR,
    "lang": (lambda v: v in ("auto", "en", "zh"), "auto, en or zh"),
    "params": (lambda v: isinstance(v, dict), "a mapping of generation parameters"),
    "junit": _STR, "db": _STR, "description": _STR, "prices": _STR, "judge_model": _STR, "gold_passage": _STR,
}
PATHS = ("prompts", "data", "junit", "db", "prices")
LISTS = ("prompts", "models", "metrics", "checks", "gates")


def load_eval_config(path: str | Path) -> dict[str, Any]:
    """The settings of an eval file, checked, lists as lists and paths resolved against the file's folder."""
    p = Path(path)
    try:
        if p.stat().st_size > MAX_EVAL_FILE_CHARS * 4:
            raise UserError(f"eval file is over {MAX_EVAL_FILE_CHARS:,} characters", str(path))
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError("eval file not found", str(path)) from None
    except UnicodeDecodeError:
        raise UserError("eval file is not UTF-8", str(path)) from None
    return parse_eval_config(text, str(path), p.resolve().parent)


def parse_eval_config(text: str, where: str, base: Path) -> dict[str, Any]:
    if len(text) > MAX_EVAL_FILE_CHARS:
        raise UserError(f"eval file has {len(text):,} characters (limit {MAX_EVAL_FILE_CHARS:,})", where)
    try:
        data = load_yaml(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise UserError(f"invalid YAML: {getattr(e, 'problem', None) or e}",
                        f"{where}:{mark.line + 1}" if mark else where) from None
    if not isinstance(data, dict):
        raise UserError("an eval file is a mapping (prompts:, data:, models:, ...)", where)
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key not in KEYS:
            raise UserError(f"unknown key {key!r} (known: {', '.join(KEYS)})", where)
        test, wanted = KEYS[key]
        if not test(value):
            raise UserError(f"`{key}` must be {wanted}, got {value!r}"[:300], where)
        if key in LISTS and isinstance(value, str):
            value = [value]
        if key in PATHS:
            value = [_resolve(v, base) for v in value] if isinstance(value, list) else _resolve(value, base)
        out[key] = value
    if "checks" in out:
        out["checks"] = [_resolve_schema(c, base) for c in out["checks"]]
    return out


def _resolve(value: str, base: Path) -> str:
    p = Path(value).expanduser()
    return str(p if p.is_absolute() else base / p)


def _resolve_schema(check: str, base: Path) -> str:
    """`is-json:schema.json` names a file relative to the eval file; an inline `{...}` schema stays."""
    kind, colon, arg = check.partition(":")
    arg = arg.strip()
    if kind.strip().lower() == "is-json" and arg and not arg.startswith("{"):
        return f"is-json:{_resolve(arg, base)}"
    return check

"""promptfoo configs in: prompt files, a dataset and an eval file, and a report of what did not translate.

`import_promptfoo("promptfooconfig.yaml", "out/")` writes out/prompts/*.yaml, out/tests.jsonl (each test's
vars, and its assertions as a `checks` list), out/eval.yaml and out/IMPORT_REPORT.txt. Nothing is dropped
silently: every construct without a workbench equivalent (javascript/python/llm-rubric/similar assertions,
non-OpenAI providers, custom Nunjucks filters such as `load`, prompt functions, per-test options...) is
listed in the report with where it was found. Nunjucks `{{ var }}` templates are kept where Jinja reads them
the same (its filters exist in Jinja; `dump` becomes `tojson`). Assertion values that use a test's vars
(`contains: "{{ city }}"`) are rendered per row, as promptfoo does.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from workbench.errors import UserError
from workbench.importers.promptfoo_asserts import assertion_check, expected_assertion, render_value
from workbench.importers.promptfoo_files import file_ref, read_text, read_yaml
from workbench.importers.promptfoo_prompts import prompt_texts, translate_template

KNOWN_KEYS = {"description", "prompts", "providers", "tests", "defaultTest", "evaluateOptions"}
PARAMS = {"temperature", "max_tokens", "top_p", "frequency_penalty", "presence_penalty", "seed", "stop"}


@dataclass
class ImportResult:
    prompts: list[Path] = field(default_factory=list)
    dataset: Path | None = None
    eval_file: Path | None = None
    report: Path | None = None
    untranslated: list[str] = field(default_factory=list)  # "where: what (why)"


def import_promptfoo(config_path: str | Path, out_dir: str | Path) -> ImportResult:
    config_path = Path(config_path)
    base = config_path.resolve().parent
    config = read_yaml(config_path, str(config_path))
    if not isinstance(config, dict):
        raise UserError("a promptfoo config is a mapping (prompts:, providers:, tests:)", str(config_path))
    result = ImportResult()
    skipped = result.untranslated
    for key in config:
        if key not in KNOWN_KEYS:
            skipped.append(f"{key}: not translated (no workbench equivalent)")
    out = Path(out_dir)
    (out / "prompts").mkdir(parents=True, exist_ok=True)
    names = _write_prompts(config.get("prompts"), base, out, result)
    models, params = _models(config.get("providers"), skipped)
    rows = _rows(config, base, skipped)
    result.dataset = out / "tests.jsonl"
    result.dataset.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    eval_config: dict[str, Any] = {}
    if isinstance(config.get("description"), str):
        eval_config["description"] = config["description"]
    eval_config.update(prompts=[f"prompts/{n}.yaml" for n in names], data="tests.jsonl", models=models,
                       metrics=["length", "latency_ms"])
    if any("checks" in r for r in rows):
        eval_config["gates"] = ["pass_rate>=1"]  # promptfoo fails a test when any assertion fails
    if params:
        eval_config["params"] = params
    eval_config.update(_evaluate_options(config.get("evaluateOptions"), skipped))
    result.eval_file = out / "eval.yaml"
    result.eval_file.write_text(yaml.safe_dump(eval_config, sort_keys=False, allow_unicode=True), encoding="utf-8")
    result.report = out / "IMPORT_REPORT.txt"
    result.report.write_text(report_text(config_path, result), encoding="utf-8")
    return result


def report_text(config_path: Path, result: ImportResult) -> str:
    lines = [f"Imported {config_path}: {len(result.prompts)} prompt file(s), dataset {result.dataset.name}, "
             f"eval file {result.eval_file.name}.", ""]
    if result.untranslated:
        lines.append(f"Not translated ({len(result.untranslated)}):")
        lines += [f"- {item}" for item in result.untranslated]
    else:
        lines.append("Everything was translated.")
    return "\n".join(lines) + "\n"


def _write_prompts(prompts: Any, base: Path, out: Path, result: ImportResult) -> list[str]:
    names: list[str] = []
    for label, messages, where in prompt_texts(prompts, base, result.untranslated):
        translated, problems = translate_template(messages)
        if problems:
            result.untranslated += [f"{where}: {p} (prompt not written)" for p in problems]
            continue
        name = _unique(re.sub(r"[^A-Za-z0-9_-]+", "_", label).strip("_") or "prompt", names)
        names.append(name)
        path = out / "prompts" / f"{name}.yaml"
        data = {"name": name, "description": f"imported from promptfoo ({where})", "messages": translated}
        path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
        result.prompts.append(path)
    return names


def _unique(name: str, taken: list[str]) -> str:
    out, i = name, 2
    while out in taken:
        out, i = f"{name}_{i}", i + 1
    return out


def _models(providers: Any, skipped: list[str]) -> tuple[list[str], dict[str, Any]]:
    """Model specs (openai:chat:MODEL -> openai:MODEL, base URLs kept) and the generation parameters."""
    if providers is None:
        return [], {}
    items: list[tuple[str, dict]] = []
    for i, p in enumerate(providers if isinstance(providers, list) else [providers]):
        if isinstance(p, str):
            items.append((p, {}))
        elif isinstance(p, dict) and isinstance(p.get("id"), str):
            items.append((p["id"], p.get("config") or {}))
        elif isinstance(p, dict) and len(p) == 1:
            ((pid, opts),) = p.items()
            items.append((str(pid), (opts or {}).get("config") or {} if isinstance(opts, dict) else {}))
        else:
            skipped.append(f"providers[{i}]: {str(p)[:80]!r} (unreadable provider)")
    models, params = [], {}
    for pid, cfg in items:
        m = re.fullmatch(r"openai:(?:chat:)?([^:]+)", pid)
        if not m:
            skipped.append(f"providers: {pid} (only OpenAI chat models and OpenAI-compatible servers translate)")
            continue
        spec = f"openai:{m[1]}"
        url = cfg.get("apiBaseUrl") or (f"https://{cfg['apiHost']}/v1" if cfg.get("apiHost") else None)
        if url:
            spec += f"@{url}"
        models.append(spec)
        for key, value in cfg.items():
            if key in PARAMS:
                if key in params and params[key] != value:
                    skipped.append(f"providers: {pid} config.{key}={value!r} (differs from another provider's "
                                   f"{params[key]!r}; the eval file holds one value)")
                params.setdefault(key, value)
            elif key not in ("apiBaseUrl", "apiHost"):
                skipped.append(f"providers: {pid} config.{key} (not translated)")
    return models, params


def _evaluate_options(options: Any, skipped: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in (options or {}).items() if isinstance(options, dict) else ():
        if key in ("maxConcurrency", "repeat"):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise UserError(f"must be a whole number of at least 1, got {value!r}", f"evaluateOptions.{key}")
            out["concurrency" if key == "maxConcurrency" else "repeat"] = value
        elif key == "cache":
            out["cache"] = bool(value)
        else:
            skipped.append(f"evaluateOptions.{key} (not translated)")
    return out


def _rows(config: dict, base: Path, skipped: list[str]) -> list[dict[str, Any]]:
    default = config.get("defaultTest") or {}
    if ref := file_ref(default):
        default = read_yaml(base / ref, "defaultTest") or {}
    if not isinstance(default, dict):
        raise UserError("defaultTest must be a mapping", "defaultTest")
    for key in default:
        if key not in ("vars", "assert"):
            skipped.append(f"defaultTest.{key} (not translated)")
    rows = []
    for where, test in _tests(config.get("tests"), base, skipped):
        for key in test:
            if key not in ("vars", "assert", "description", "metadata"):
                skipped.append(f"{where}: {key} (not translated)")
        vars_ = {**(default.get("vars") or {}), **(test.get("vars") or {})}
        row = {k: _var(v, base, f"{where}: vars.{k}", skipped) for k, v in vars_.items()}
        checks = []
        for j, a in enumerate([*(default.get("assert") or []), *(test.get("assert") or [])]):
            check, why = assertion_check(a, base)
            if check is None:
                skipped.append(f"{where}: assert[{j}] {why}")
            else:
                checks.append(render_value(check, row, f"{where}: assert[{j}]"))
        if isinstance(test.get("description"), str):
            row.setdefault("description", test["description"])
        if checks:
            row["checks"] = checks
        rows.append(row)
    return rows


def _var(value: Any, base: Path, where: str, skipped: list[str]) -> Any:
    ref = file_ref(value)
    if ref is None:
        return value
    if Path(ref).suffix in (".txt", ".md"):
        return read_text(base / ref, where)
    skipped.append(f"{where}: {value} (only .txt and .md files are read into vars; kept as text)")
    return value


def _tests(tests: Any, base: Path, skipped: list[str]):
    """(where, test dict) for inline tests and file://tests.csv|.jsonl|.yaml|.json."""
    for i, t in enumerate(tests if isinstance(tests, list) else [] if tests is None else [tests]):
        ref = file_ref(t)
        if ref is None:
            if isinstance(t, dict):
                yield f"tests[{i}]", t
            else:
                skipped.append(f"tests[{i}]: {str(t)[:80]!r} (not a test or a file:// test file)")
            continue
        path = base / ref
        suffix = path.suffix.lower()
        if suffix == ".csv":
            yield from _csv_tests(path, ref)
        elif suffix in (".yaml", ".yml", ".json"):
            loaded = read_yaml(path, ref)
            for j, item in enumerate(loaded if isinstance(loaded, list) else [loaded]):
                if isinstance(item, dict):
                    yield f"{ref}[{j}]", item
        elif suffix == ".jsonl":
            for n, line in enumerate(read_text(path, ref).splitlines(), 1):
                if line.strip():
                    try:
                        yield f"{ref}:{n}", json.loads(line)
                    except ValueError as e:
                        raise UserError(f"invalid JSON: {e}", f"{path}:{n}") from None
        else:
            skipped.append(f"tests: {t} (test generators and {suffix or 'this'} files do not translate)")


def _csv_tests(path: Path, ref: str):
    reader = csv.DictReader(io.StringIO(read_text(path, ref), newline=""))
    for n, rec in enumerate(reader, 2):
        test: dict[str, Any] = {"vars": {}, "assert": []}
        for key, value in rec.items():
            if key is None:
                raise UserError("more fields than the header has", f"{path}: row {n}")
            if re.fullmatch(r"__expected\d*", key):
                if value:
                    test["assert"].append(expected_assertion(value))
            elif key == "__description":
                test["description"] = value
            elif key.startswith("__"):
                test.setdefault(key, value)  # reported as not translated
            else:
                test["vars"][key] = value
        yield f"{ref}: row {n}", test

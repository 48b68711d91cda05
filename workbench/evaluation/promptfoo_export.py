"""A stored run as a promptfoo config (`workbench export RUN --format promptfoo`): the reverse of
`workbench import promptfoo`, for what maps. The prompt (messages; Jinja `tojson` -> Nunjucks `dump`), the
model (openai:MODEL[@URL] -> openai:chat:MODEL with apiBaseUrl), the run's generation parameters, one test per
dataset row (its vars, its own checks) and the run's checks as defaultTest assertions. What does not map (other
metrics, few-shot examples, checks promptfoo lacks) is listed in a comment at the top of the file."""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from workbench import store
from workbench.authoring.stored import prompt_from_version
from workbench.metrics import metric_set
from workbench.metrics.checks import parse_check, row_checks

SAME_KINDS = {"contains", "not-contains", "icontains", "equals", "starts-with", "regex"}


def assertion(check: str) -> dict[str, Any] | None:
    c = parse_check(check)
    if c.kind in SAME_KINDS:
        return {"type": c.kind, "value": c.argument}
    if c.kind in ("contains-any", "contains-all"):
        return {"type": c.kind, "value": [p.strip() for p in c.argument.split(",") if p.strip()]}
    if c.kind == "is-json":
        if not c.argument:
            return {"type": "is-json"}
        return {"type": "is-json", "value": json.loads(c.argument) if c.argument.startswith("{")
                else f"file://{c.argument}"}
    return None  # max-length, json-path: no promptfoo assertion of that kind


def promptfoo_config(con, run_id: str) -> str:
    run = store.get_run(con, run_id)
    prompt = prompt_from_version(store.get_prompt_version(con, run["prompt_hash"]))
    notes: list[str] = []
    messages = [{"role": m.role, "content": re.sub(r"\|\s*tojson\b", "| dump", m.content)} for m in prompt.messages]
    if prompt.examples:
        notes.append(f"the prompt's {len(prompt.examples)} few-shot examples (render them into the prompt)")
    text = (messages[0]["content"] if len(messages) == 1 and messages[0]["role"] == "user"
            else json.dumps(messages, ensure_ascii=False))
    spec = run["model_spec"]
    provider: dict[str, Any] | str
    m = re.fullmatch(r"openai:([^@]+)(?:@(.+))?", spec)
    if m:
        provider = {"id": f"openai:chat:{m[1]}", "config": {**({"apiBaseUrl": m[2]} if m[2] else {}),
                                                             **run["params"]}}
    else:
        provider = spec
        notes.append(f"the model {spec} (no promptfoo provider maps to it; edit the provider)")
    default_asserts, other = [], []
    for metric in metric_set(run["metrics"]).metrics:
        if metric.spec()["name"] != "check":
            other.append(metric.name)
            continue
        mapped = assertion(metric.name)
        default_asserts.append(mapped) if mapped else notes.append(f"the check {metric.name}")
    if other:
        notes.append(f"the metrics {', '.join(other)} (no promptfoo assertion)")
    tests = []
    for rec in store.dataset_rows(con, run["dataset_hash"]).to_dict("records"):
        row = json.loads(rec["data"])
        test: dict[str, Any] = {"vars": {k: v for k, v in row.items()
                                         if k != "checks" and not k.startswith("__expected")}}
        asserts = []
        for c in row_checks(row, f"row {rec['row_idx']}"):
            mapped = assertion(c.name)
            asserts.append(mapped) if mapped else notes.append(f"row {rec['row_idx']}: the check {c.name}")
        if asserts:
            test["assert"] = asserts
        tests.append(test)
    config: dict[str, Any] = {"description": f"exported from workbench run {run_id} ({run['prompt_name']})",
                              "prompts": [text], "providers": [provider]}
    if default_asserts:
        config["defaultTest"] = {"assert": default_asserts}
    config["tests"] = tests
    header = "".join(f"# not exported: {n}\n" for n in notes)
    return header + yaml.safe_dump(config, sort_keys=False, allow_unicode=True, width=120)

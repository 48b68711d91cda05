"""Errors name a bad setting in words (UserError(msg, setting=...)); each front end names it its own way."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from workbench.app.labels import label_for
from workbench.cli.main import flag_for
from workbench.errors import UserError

PACKAGE = Path(__file__).resolve().parents[1] / "workbench"
ERRORS = {"UserError", "DatasetError", "TemplateError"}


def _flag_wheres() -> list[str]:
    """file:line of every UserError(...) whose place is a CLI flag literal ("--model") instead of setting=."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            places = node.args[1:2] + [k.value for k in node.keywords if k.arg == "where"]
            if name in ERRORS and any(isinstance(a, ast.Constant) and str(a.value).startswith("--") for a in places):
                found.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}")
    return found


def test_no_error_names_a_setting_by_its_flag():
    assert _flag_wheres() == []


def test_a_provider_setting_is_shown_as_flag_by_the_cli_and_as_label_by_the_app():
    from workbench.providers.openai_api import OpenAIProvider

    with pytest.raises(UserError) as e:
        OpenAIProvider("m@http://127.0.0.1:9/v1", timeout=0)
    assert (e.value.setting, e.value.where) == ("timeout", None)
    assert e.value.shown(flag_for) == "--timeout: must be more than 0 seconds"
    assert e.value.shown(label_for) == "Timeout per request (s): must be more than 0 seconds"
    with pytest.raises(UserError) as e:
        OpenAIProvider("m@http://127.0.0.1:9/v1", rpm=-1)
    assert e.value.shown(flag_for) == "--rpm: must be more than 0" and e.value.shown(label_for) == "Requests per minute: must be more than 0"


def test_the_openai_provider_takes_its_defaults_from_one_place():
    from workbench.defaults import DEFAULT_RETRIES, DEFAULT_TIMEOUT_S
    from workbench.providers.openai_api import OpenAIProvider

    p = OpenAIProvider("m@http://127.0.0.1:9/v1")
    assert p.retries == DEFAULT_RETRIES and p.client.timeout == DEFAULT_TIMEOUT_S


def test_an_unknown_metric_option_names_the_metrics_setting():
    from workbench.metrics import parse_metrics

    with pytest.raises(UserError) as e:
        parse_metrics(["bleu(nosuch=1)"])
    assert e.value.setting == "metrics" and e.value.shown(flag_for).startswith("--metrics: ")
    assert e.value.shown(label_for).startswith("Metrics: ")

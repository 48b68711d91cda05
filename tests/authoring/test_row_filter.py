"""Row filters (`--where`, `--split`, the Run page): a small safe language, exact errors, no eval()."""

from __future__ import annotations

import pytest

from tests.conftest import DATA_EN
from workbench.app.labels import label_for
from workbench.authoring.datasets import load_dataset
from workbench.authoring.row_filter import filter_rows, parse_where, where_text
from workbench.cli.main import flag_for
from workbench.errors import UserError

ROWS = [{"id": 1, "split": "test", "intent": "refund", "n": 3},
        {"id": 2, "split": "train", "intent": "refund", "n": 4},
        {"id": 3, "split": "test", "intent": "shipping", "n": None},
        {"id": 4, "split": "train", "intent": "returns", "csv": "5.0"}]


@pytest.mark.parametrize("text, ids", [
    ("split == 'test'", [1, 3]),
    ('split != "test"', [2, 4]),
    ("intent in ['refund', 'returns']", [1, 2, 4]),
    ("intent not in ['refund']", [3, 4]),
    ("split == 'test' and intent == 'refund'", [1]),
    ("split == 'test' or intent == 'returns'", [1, 3, 4]),
    ("not (split == 'test' or intent == 'returns')", [2]),
    ("split == 'train' and (intent == 'refund' or intent == 'returns')", [2, 4]),
    ("n == 3 or n == 4.0", [1, 2]),
    ("n == null", [3, 4]),
    ("`intent` == 'shipping'", [3]),
    ("intent == 'it\\'s'", []),
    ("csv == 5", [4]),
    ("csv in [5, 6] or csv == 'x'", [4]),
])
def test_filter_language(text, ids):
    rule = parse_where(text)
    assert [r["id"] for r in ROWS if rule.matches(r)] == ids


@pytest.mark.parametrize("text, says", [
    ("split = 'test'", "expected ==, !=, in or not in after 'split'"),
    ("split == test", "quote text, as in 'test'"),
    ("split == 'test' intent == 'x'", "join conditions with 'and' or 'or'"),
    ("split == 'test' and", "expected a column name, found the end"),
    ("(split == 'test'", "expected ')'"),
    ("intent in ['a', ]", "expected a value"),
    ("__import__('os').system('true')", "unexpected '.' (character 17"),
    ("split == 'test'; rm", "unexpected ';'"),
    ("", "the filter is empty"),
])
def test_bad_filters_are_user_errors_naming_the_setting(text, says):
    with pytest.raises(UserError) as e:
        parse_where(text)
    assert e.value.setting == "where" and e.value.where is None and says in e.value.message, e.value.message
    assert e.value.shown(label_for).startswith("Row filter: ") and e.value.shown(flag_for).startswith("--where: ")


def test_filter_rows_keeps_file_lines_and_checks_columns():
    ds = load_dataset(DATA_EN)
    test = filter_rows(ds, "split == 'test'")
    assert len(test.rows) == 34 and {r["split"] for r in test.rows} == {"test"}
    assert test.name == "support_en[split == 'test']" and test.hash != ds.hash
    first = next(i for i, r in enumerate(ds.rows) if r["split"] == "test")
    assert test.place(0) == ds.place(first)
    assert filter_rows(ds, None) is ds and filter_rows(ds, "  ") is ds
    with pytest.raises(UserError, match=r"has no column 'splitt' \(it has: id, intent, faq_id, question, reference, split\)"):
        filter_rows(ds, "splitt == 'test'")
    with pytest.raises(UserError, match="no row of .* matches"):
        filter_rows(ds, "split == 'dev'", "split")


def test_where_and_split_combine():
    assert where_text(None, None) is None
    assert where_text("intent == 'x'", None) == "intent == 'x'"
    assert where_text(None, "test") == "split == 'test'"
    assert where_text("a == 1 or b == 2", "test") == "(a == 1 or b == 2) and split == 'test'"


def test_eval_split_and_where(cli, openai_server):
    model = f"openai:m@{openai_server.base_url}"
    prompt = DATA_EN.parent.parent / "prompts" / "support_zero_shot.yaml"
    res = cli("eval", prompt, "--data", DATA_EN, "--model", model, "--split", "test", "--json")
    assert res.code == 0, res.err
    assert res.json()["runs"][0]["outputs"] == 34
    res = cli("eval", prompt, "--data", DATA_EN, "--model", model, "--where",
              "split == 'test' and intent == 'reset_password'", "--json")
    assert res.code == 0 and res.json()["runs"][0]["outputs"] == 2
    res = cli("eval", prompt, "--data", DATA_EN, "--model", model, "--where", "split = 'test'")
    assert res.code == 2 and "error: --where: expected ==" in res.err

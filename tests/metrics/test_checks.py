"""Checks: each kind passing and failing, bad checks named, row checks from a dataset, as metrics."""

from __future__ import annotations

import json
import pickle

import pytest

from workbench import metrics
from workbench.errors import UserError
from workbench.metrics.checks import CheckMetric, parse_check, row_checks

CASES = [  # check, an output that passes, one that fails
    ("contains:refund", "you get a refund", "you get a Refund"),
    ("not-contains:sorry", "done", "sorry, no"),
    ("icontains:REFUND", "a Refund", "money back"),
    ("equals:42", " 42\n", "420"),
    ("starts-with:Hello", "Hello there", "Oh, Hello"),
    ("contains-any:refund,return", "a return label", "a voucher"),
    ("contains-all:refund,days", "refund in 5 days", "refund soon"),
    ("regex:^\\d{3}-\\d{4}$", "555-1234", "555-12345"),
    ("is-json", '{"a": 1}', "{a: 1}"),
    ('is-json:{"type": "object", "required": ["status"]}', '{"status": "ok"}', '{"state": "ok"}'),
    ("json-path:$.status=ok", '{"status": "ok"}', '{"status": "failed"}'),
    ("json-path:$.items[1].qty=3", '{"items": [{"qty": 1}, {"qty": 3}]}', '{"items": [{"qty": 1}, {"qty": "3"}]}'),
    ("json-path:$['a b']=true", '{"a b": true}', '{"a b": false}'),
    ("max-length:5", "short", "too long"),
]


@pytest.mark.parametrize("spec,good,bad", CASES)
def test_each_check_passes_and_fails(spec, good, bad):
    check = parse_check(spec)
    assert check(good) is True
    assert check(bad) is False
    # as a metric: 0/1 scores named after the check
    m = CheckMetric(spec=spec)
    assert m.name == check.name
    assert m.score_batch([good, bad], [[], []], "en") == [1.0, 0.0]


def test_spaces_after_the_colon_and_schema_file(tmp_path):
    assert parse_check("contains: refund").name == "contains:refund"
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps({"type": "array"}))
    check = parse_check(f"is-json:{schema}")
    assert check("[1]") and not check("{}")


@pytest.mark.parametrize("spec,message", [
    ("contain:x", "unknown check 'contain'"),
    ("contains", "needs an argument"),
    ("regex:(", "bad regular expression"),
    ("max-length:ten", "whole number"),
    ("is-json:missing.json", "no schema file"),
    ('is-json:{"type": 3}', "invalid JSON schema"),
    ("json-path:status=ok", "starting at \\$"),
    ("json-path:$.a..b=1", "cannot read"),
])
def test_bad_checks_are_named(spec, message):
    with pytest.raises(UserError, match=message) as e:
        parse_check(spec, "data.csv: row 3")
    assert "data.csv: row 3" in e.value.shown(lambda s: s)


def test_row_checks_from_expected_columns_and_a_checks_list():
    row = {"__expected": "contains: refund", "__expected2": "Yes", "__expected3": "", "checks": ["max-length:20"]}
    names = [c.name for c in row_checks(row, "d.csv: row 2")]
    assert names == ["contains:refund", "equals:Yes", "max-length:20"]
    with pytest.raises(UserError, match="list of check strings"):
        row_checks({"checks": "contains:x"}, "d.jsonl:1")


def test_check_metric_is_stored_and_rebuilt_by_its_spec():
    ms = metrics.parse_metrics(["exact", "check=contains:a,b"])
    assert ms.names == ("exact", "contains:a,b")
    again = metrics.metric_set(ms.to_json())
    assert again.names == ms.names and again == ms
    clone = pickle.loads(pickle.dumps(again))  # scoring workers receive metric sets pickled
    assert clone.score_batch(["a,b"], [["x"]], "en") == [{"exact": 0.0, "contains:a,b": 1.0}]

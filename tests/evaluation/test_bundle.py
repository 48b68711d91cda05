"""The best-prompt bundle: ranking, contents, a file that is still a prompt file."""

from __future__ import annotations

import pytest

from tests.evaluation.test_compare_grid import ROWS, make_runs
from workbench import store
from workbench.authoring.templates import load_prompt
from workbench.errors import UserError
from workbench.evaluation import bundle

PROMPT = """name: support
description: d
messages:
- role: system
  content: Be brief.
- role: user
  content: '{{ question }}'
examples_as: turns
example_turns:
  user: '{{ question }}'
  assistant: '{{ answer }}'
examples:
- question: hi
  answer: hello
params:
  temperature: 0
"""


def test_best_counts_errors_as_zero(db):
    # A: mean 0.8 over 6 rows; B: mean 0.9 over its 4 scored rows but 2 of 6 errored -> 0.6
    ids = make_runs(db, ROWS, [
        {"texts": ["x"] * 6, "scores": [0.8] * 6, "prompt": "a"},
        {"texts": ["x"] * 6, "scores": [0.9] * 6, "errors": {0: "timeout", 1: "timeout"}, "prompt": "b"},
    ], prompt_yaml=PROMPT)
    with store.connect(db) as con:
        ranked = bundle.rank_runs(con, ids, "bleu")
    assert [c.prompt_name for c in ranked] == ["a", "b"]
    assert ranked[0].effective == pytest.approx(0.8) and ranked[1].effective == pytest.approx(0.6)
    assert ranked[1].mean == pytest.approx(0.9) and ranked[1].error_rate == pytest.approx(1 / 3)


def test_lower_is_better_picks_the_smallest(db):
    ids = make_runs(db, ROWS[:2], [{"texts": ["x", "y"], "scores": [50.0, 70.0]},
                                   {"texts": ["x", "y"], "scores": [20.0, 30.0]}], metric="latency_ms")
    with store.connect(db) as con:
        assert bundle.rank_runs(con, ids, "latency_ms")[0].run_id == ids[1]


def test_bundle_is_a_prompt_file_with_its_evidence(db, tmp_path):
    ids = make_runs(db, ROWS, [{"texts": ["x"] * 6, "scores": [0.2] * 6, "model": "openai:small"},
                               {"texts": ["x"] * 6, "scores": [0.7] * 6, "model": "openai:big"}], prompt_yaml=PROMPT)
    with store.connect(db) as con:
        b = bundle.build_bundle(con, ids, "bleu")
        ds_hash = store.get_run(con, ids[1])["dataset_hash"]
    meta, prompt = bundle.read_bundle(b.text)
    assert meta["model"] == "openai:big" and meta["run"] == ids[1]
    assert meta["dataset"]["hash"] == ds_hash and meta["dataset"]["rows"] == 6
    assert meta["chosen_by"]["metric"] == "bleu"
    assert meta["scores"]["bleu"]["mean"] == pytest.approx(0.7) and meta["scores"]["bleu"]["n"] == 6
    assert meta["beaten"][0]["model"] == "openai:small" and meta["beaten"][0]["bleu"] == pytest.approx(0.2)
    assert prompt.examples == [{"question": "hi", "answer": "hello"}] and prompt.examples_as == "turns"
    path = bundle.write_bundle(b, tmp_path / "prompts")
    assert path.name == "support.best.yaml" and not list(path.parent.glob(".*.tmp"))
    again = load_prompt(path)  # still a valid prompt file: `workbench eval` runs it as is
    assert again.messages[1].content == "{{ question }}"


def test_no_scores_or_mixed_datasets_are_user_errors(db):
    ids = make_runs(db, ROWS[:1], [{"texts": ["x"], "scores": [None]}, {"texts": ["x"], "scores": [0.5]}])
    other = make_runs(db, [{"question": "z", "reference": "z"}], [{"texts": ["z"], "scores": [1.0]}], name="o")
    with store.connect(db) as con:
        with pytest.raises(UserError, match="has 'bleu' scores|none of the chosen"):
            bundle.build_bundle(con, ids[:1], "bleu")
        with pytest.raises(UserError, match="different datasets"):
            bundle.build_bundle(con, [ids[1], other[0]], "bleu")


def test_read_bundle_refuses_a_plain_prompt():
    with pytest.raises(UserError):
        bundle.read_bundle(PROMPT)


ROWS_30 = [{"question": f"q{i}", "reference": f"answer {i}", "id": i} for i in range(30)]


def test_bundle_says_when_the_best_is_not_significantly_better(db):
    base = [0.5 + 0.3 * ((i * 7) % 5 - 2) / 2 for i in range(30)]
    # b wins a third of the rows by 0.02 and loses the rest by 0.009: ahead by 0.0007 on average, by chance
    ids = make_runs(db, ROWS_30, [{"texts": ["x"] * 30, "scores": base, "prompt": "a"},
                                  {"texts": ["x"] * 30, "scores": [s + (0.02 if i % 3 == 0 else -0.009)
                                                                   for i, s in enumerate(base)], "prompt": "b"}],
                    prompt_yaml=PROMPT)
    with store.connect(db) as con:
        b = bundle.build_bundle(con, ids, "bleu")
    meta, _ = bundle.read_bundle(b.text)
    versus = meta["versus_runner_up"]
    assert meta["run"] == ids[1] and versus["run"] == ids[0]
    assert versus["significant"] is False and versus["intervals_overlap"] is True
    assert versus["note"].startswith("not significantly better than the runner-up a@")


def test_bundle_says_when_the_best_is_significantly_better(db):
    ids = make_runs(db, ROWS_30, [{"texts": ["x"] * 30, "scores": [0.3 + 0.01 * (i % 3) for i in range(30)]},
                                  {"texts": ["x"] * 30, "scores": [0.7 + 0.01 * (i % 4) for i in range(30)]}],
                    prompt_yaml=PROMPT)
    with store.connect(db) as con:
        meta, _ = bundle.read_bundle(bundle.build_bundle(con, ids, "bleu").text)
        alone = bundle.build_bundle(con, ids[:1], "bleu").metadata
    assert meta["versus_runner_up"]["significant"] is True and meta["versus_runner_up"]["delta"] > 0.3
    assert alone["versus_runner_up"] is None

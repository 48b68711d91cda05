"""The Compare grid over runs written straight through the store."""

from __future__ import annotations

import math

import pytest

from workbench import store
from workbench.authoring.datasets import Dataset
from workbench.errors import UserError
from workbench.evaluation import compare_grid as grid


def make_runs(db: str, rows: list[dict], variants: list[dict], metric: str = "bleu", name: str = "data",
              prompt_yaml: str = "name: p\nmessages:\n- role: user\n  content: '{{ question }}'\n") -> list[str]:
    """One run per variant: {"texts": [...], "scores": [...], "errors": {row: message}, "prompt": name}."""
    ds = Dataset(name, f"{name}.jsonl", rows, list(dict.fromkeys(k for r in rows for k in r)))
    ids = []
    with store.connect(db) as con:
        h = store.save_dataset(con, ds)
        for n, v in enumerate(variants):
            version = f"{n:016d}"
            store.save_prompt_version(con, v.get("prompt", f"p{n}"), None, version, prompt_yaml)
            run_id = store.create_run(con, prompt_hash=version, prompt_name=v.get("prompt", f"p{n}"),
                                      model_spec=v.get("model", "openai:m"), params={}, dataset_hash=h,
                                      n_rows=len(v["texts"]), repeats=1, metrics=[{"name": metric}], lang="en", signatures={})
            errors = v.get("errors", {})
            outputs = [{"run_id": run_id, "row_idx": i, "repeat_idx": 0, "messages": "[]",
                        "text": None if i in errors else t, "error": errors.get(i), "cached": False,
                        "latency_ms": 10.0} for i, t in enumerate(v["texts"])]
            scores = [{"run_id": run_id, "row_idx": i, "repeat_idx": 0, "metric": metric, "value": s}
                      for i, s in enumerate(v["scores"]) if i not in errors and s is not None]
            store.write_results(con, outputs, scores)
            store.set_status(con, run_id, "done")
            ids.append(run_id)
    return ids


ROWS = [{"question": f"q{i}", "reference": f"answer {i}", "id": i} for i in range(6)]


@pytest.fixture
def two(db):
    return make_runs(db, ROWS, [
        {"texts": [f"answer {i}" for i in range(6)], "scores": [1.0, 0.9, 0.8, 0.7, 0.6, 0.5]},
        {"texts": [f"reply {i}" for i in range(6)], "scores": [0.0, 0.9, 0.8, 0.75, None, 0.5], "errors": {4: "timeout"}},
    ])


def load(db, ids, metric="bleu"):
    with store.connect(db) as con:
        return grid.load_grid(con, ids, metric)


def page(db, g, *args, **kwargs) -> grid.Page:
    with store.connect(db) as con:
        return grid.query(con, g, *args, **kwargs)


def test_one_line_per_item_one_column_per_variant(db, two):
    g = load(db, two)
    assert g.n_items == 6
    f = page(db, g).rows
    assert f["input"].tolist() == [f"q{i}" for i in range(6)]  # only what the prompt reads
    assert f["reference"].tolist() == [f"answer {i}" for i in range(6)]
    assert f["text_1"].tolist()[:2] == ["reply 0", "reply 1"]
    assert f["error_1"].tolist()[4] == "timeout" and f["text_1"].isna().tolist()[4]
    assert math.isnan(f["score_1"].iloc[4])


def test_sorts(db, two):
    g = load(db, two)
    assert page(db, g, "row").rows["row_idx"].tolist() == [0, 1, 2, 3, 4, 5]
    # worst score across variants, lowest first; ties in dataset order
    assert page(db, g, "worst").rows["row_idx"].tolist() == [0, 5, 4, 3, 2, 1]
    # disagreement: |1.0 - 0.0| first; a row one variant errored on has no spread and goes last
    assert page(db, g, "disagreement").rows["row_idx"].tolist()[:2] == [0, 3]
    assert page(db, g, "disagreement").rows["row_idx"].tolist()[-1] == 4
    with pytest.raises(UserError):
        page(db, g, "best")


def test_lower_is_better_metrics_sort_the_other_way(db):
    ids = make_runs(db, ROWS[:3], [{"texts": ["a", "b", "c"], "scores": [5.0, 50.0, 20.0]}], metric="latency_ms")
    g = load(db, ids, "latency_ms")
    assert page(db, g, "worst").rows["row_idx"].tolist() == [1, 2, 0]


def test_filters_search_and_pages(db, two):
    g = load(db, two)
    assert page(db, g, errors_only=True).rows["row_idx"].tolist() == [4]
    assert page(db, g, search="REPLY 3").rows["row_idx"].tolist() == [3]
    assert page(db, g, search="timeout").rows["row_idx"].tolist() == [4]
    assert page(db, g, search="no such text").total == 0
    p = page(db, g, page=1, page_size=4)
    assert (p.page, p.n_pages, p.total, p.rows["row_idx"].tolist()) == (1, 2, 6, [4, 5])
    assert page(db, g, page=99, page_size=4).page == 1  # clamped
    assert page(db, g, search="Answer 5").rows["row_idx"].tolist() == [5]  # the reference, and variant A's output
    assert page(db, g, search="q2").rows["row_idx"].tolist() == [2]  # the input
    assert page(db, g, "worst", errors_only=True, search="reply").total == 0  # row 4 errored: no reply text
    assert page(db, g, "disagreement", page=1, page_size=4).rows["row_idx"].tolist() == [5, 4]  # 0, 3, 1, 2 first


def test_search_takes_wildcards_literally_and_ignores_case_beyond_ascii(db):
    rows = [{"question": q, "reference": "r", "id": i} for i, q in enumerate(["50% off", "5000 off", "a_b", "axb",
                                                                               "ÉCOLE", "退货 Policy"])]
    g = load(db, make_runs(db, rows, [{"texts": ["x"] * 6, "scores": [0.5] * 6}]))
    assert page(db, g, search="50%").rows["row_idx"].tolist() == [0]
    assert page(db, g, search="a_b").rows["row_idx"].tolist() == [2]
    assert page(db, g, search="école").rows["row_idx"].tolist() == [4]
    assert page(db, g, search="退货 policy").rows["row_idx"].tolist() == [5]


def test_search_finds_text_that_json_escapes(db):
    """The search looks in a row's JSON before parsing it, except for text that JSON writes escaped."""
    rows = [{"question": q, "reference": "r", "id": i} for i, q in enumerate(['say "hi"', "a\\b", "tab\there", "x"])]
    g = load(db, make_runs(db, rows, [{"texts": ["y"] * 4, "scores": [0.5] * 4}]))
    assert page(db, g, search='"HI"').rows["row_idx"].tolist() == [0]
    assert page(db, g, search="a\\b").rows["row_idx"].tolist() == [1]
    assert page(db, g, search="tab\there").rows["row_idx"].tolist() == [2]
    assert page(db, g, search="5").total == 0  # the ids are not searched


def test_runs_on_different_datasets_are_refused(db, two):
    other = make_runs(db, [{"question": "x", "reference": "y"}], [{"texts": ["y"], "scores": [1.0]}], name="other")
    with pytest.raises(UserError, match="different datasets"):
        load(db, [two[0], other[0]])


def test_a_limited_run_shows_only_its_rows(db):
    ids = make_runs(db, ROWS, [{"texts": ["a", "b"], "scores": [1.0, 0.0]}])
    assert load(db, ids).n_items == 2


def test_histogram_bins_each_variant(db, two):
    with store.connect(db) as con:
        runs = [store.get_run(con, r) for r in two]
        h = grid.histogram(con, runs, "bleu", bins=10)
    assert set(h["variant"]) == {grid.variant_label(r) for r in runs}
    assert h.groupby("variant")["count"].sum().tolist() == [6, 5]
    assert h["start"].min() == 0.0 and h["end"].max() == 1.0


def test_grid_page_html_is_escaped(db):
    from workbench.app.grid_view import page_html

    ids = make_runs(db, [{"question": "<b>q</b>", "reference": "ok"}],
                    [{"texts": ["<script>x()</script> ![i](http://e/i.png)"], "scores": [0.0]}])
    g = load(db, ids)
    out = page_html(g, page(db, g), "reference")
    assert "<script" not in out and "<b>" not in out and "](" not in out
    assert "&#60;script&#62;" in out


def test_input_shows_every_field_the_prompt_reads(db):
    yaml = "name: p\nmessages:\n- role: user\n  content: '{{ product }}: {{ question }} {{ note | default(\"\") }}'\n"
    rows = [{"question": "q?", "product": "lamp", "note": None, "reference": "r", "x": 1},
            {"question": 'say "hi"', "product": "sofa", "reference": "r2", "x": 2}]
    ids = make_runs(db, rows, [{"texts": ["a", "b"], "scores": [1.0, 0.5]}], prompt_yaml=yaml)
    f = page(db, load(db, ids)).rows
    assert f["input"].tolist() == ["question: q?\nproduct: lamp", 'question: say "hi"\nproduct: sofa']
    assert f["reference"].tolist() == ["r", "r2"]


def test_grid_page_clips_runaway_outputs(db):
    from workbench.app.grid_view import MAX_CHARS, page_html

    ids = make_runs(db, [{"question": "q", "reference": "short"}], [{"texts": ["word " * 5000], "scores": [0.0]}])
    g = load(db, ids)
    out = page_html(g, page(db, g), "reference")
    assert len(out) < 4 * MAX_CHARS + 5000 and f"{25000 - MAX_CHARS:,} more characters" in out


def test_histogram_keeps_the_0_1_scale_for_scores_off_it_by_rounding(db):
    ids = make_runs(db, ROWS[:3], [{"texts": ["a", "b", "c"], "scores": [1.0000000002, 0.5, -1e-12]}])
    with store.connect(db) as con:
        h = grid.histogram(con, [store.get_run(con, ids[0])], "bleu", bins=10)
    assert h["start"].min() == 0.0 and h["end"].max() == 1.0  # the scale, not the scores' range
    assert h["count"].sum() == 3 and h.loc[h["count"] > 0, "start"].tolist() == [0.0, 0.5, 0.9]

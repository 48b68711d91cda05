"""A 100,000-row eval in flat memory (bench/bench_scale_eval.py measures it): what a plan holds per row is its
own message and its own values, not copies of what every row shares, and the dataset is stored in pieces."""

from __future__ import annotations

import gc
import json

from tests.conftest import ROOT
from tests.engine.test_runner import write_rows
from workbench import store
from workbench.authoring.datasets import load_dataset
from workbench.authoring.templates import load_prompt
from workbench.engine import runner
from workbench.engine.plan import plan_eval
from workbench.engine.rendered import SHARE_FROM_ROWS, Rendered
from workbench.metrics import parse_metrics
from workbench.store import runs as store_runs

FEW_SHOT = ROOT / "prompts" / "support_few_shot.yaml"
ZERO_SHOT = ROOT / "prompts" / "support_zero_shot.yaml"


def few_shot_plan(tmp_path, n: int = 50, models: tuple[str, ...] = ("openai:m@http://127.0.0.1:9/v1",)):
    ds = load_dataset(write_rows(tmp_path / "rows.jsonl", n))
    return ds, plan_eval([load_prompt(FEW_SHOT)], ds, list(models), parse_metrics(None))


def test_rows_share_the_messages_that_do_not_depend_on_the_row(tmp_path):
    ds, plan = few_shot_plan(tmp_path)
    prompt = load_prompt(FEW_SHOT)
    msgs = plan.variants[0].messages
    assert list(msgs) == [prompt.render(r) for r in ds.rows]  # what is sent is unchanged
    first, second = msgs[0], msgs[1]
    shared = [a is b for a, b in zip(first, second)]
    assert shared[:-1] == [True] * (len(first) - 1) and not shared[-1]  # system + example turns once; the question per row
    assert prompt.render(ds.rows[0])[0] is not prompt.render(ds.rows[1])[0]  # render() still gives a caller its own


def test_a_plan_holds_each_rows_own_text_not_its_message_list(tmp_path):
    """Per row the plan keeps the row's question (a string), not a list of messages and a dict for the question:
    ~300 bytes a row less, 30 MB at 100,000 rows. The lists are built when a batch asks for them."""
    n = 1000
    _, plan = few_shot_plan(tmp_path, n)
    msgs = plan.variants[0].messages
    held = gc.get_referents(msgs) + [x for r in gc.get_referents(msgs) if isinstance(r, (list, tuple, dict))
                                     for x in gc.get_referents(r)]
    lists_and_dicts = [x for x in held if isinstance(x, (list, dict)) and x is not getattr(msgs, "__dict__", None)]
    assert sum(isinstance(x, list) for x in lists_and_dicts) < n // 10  # not a list per row
    assert sum(isinstance(x, dict) for x in lists_and_dicts) < n // 10  # nor a dict for each row's question
    assert msgs[n - 1] == msgs[n - 1] and msgs[n - 1] is not msgs[n - 1]  # built on demand, equal each time
    assert msgs[n - 1][-1]["content"].endswith(plan.dataset.rows[n - 1]["question"])


def test_rendered_rows_keep_unusual_messages_and_skipped_rows_as_they_are():
    rows = Rendered()
    system = {"role": "system", "content": "Be brief."}
    for k in range(SHARE_FROM_ROWS + 5):
        rows.append([dict(system), {"role": "user", "content": f"q{k}"}])
    rows.skip()
    parts = [{"role": "user", "content": [{"type": "text", "text": "hi"}]}, {"role": "user", "content": "x", "name": "a"}]
    rows.append(parts)
    rows.append([{"role": "user", "content": "q0"}, {"role": "user", "content": "q0"}])
    n = SHARE_FROM_ROWS + 5
    assert [rows[k] for k in range(n)] == [[system, {"role": "user", "content": f"q{k}"}] for k in range(n)]
    assert rows[1][0] is rows[2][0]  # the shared message: one dict
    assert rows[n] is None and rows[n + 1] is parts and rows[-1] == [{"role": "user", "content": "q0"}] * 2
    assert len(rows) == n + 3 and rows[n - 1:n + 1] == [rows[n - 1], None]


def test_dataset_rows_share_keys_and_repeated_values(tmp_path):
    ds = load_dataset(write_rows(tmp_path / "rows.jsonl", 40))
    a = ds.rows[0]
    b = next(r for r in ds.rows[1:] if r["intent"] == a["intent"])  # the bundled data repeats its intents
    assert list(a) == list(b) and all(x is y for x, y in zip(a, b))  # the keys: one string each
    assert a["intent"] is b["intent"] and a["split"] is b["split"]
    assert a["id"] != b["id"] and a["question"] != b["question"]


def test_messages_json_is_right_whether_one_variant_or_several_share_a_rendering(tmp_path):
    encode = runner.MessagesJSON()
    for models in (("openai:a@http://127.0.0.1:9/v1",), ("openai:a@http://127.0.0.1:9/v1", "openai:b@http://127.0.0.1:9/v1")):
        _, plan = few_shot_plan(tmp_path, 30, models)
        msg_json = runner._message_json(plan)
        for v in plan.variants:
            for row in (0, 29, 0):
                assert msg_json(v, row) == json.dumps(v.messages[row], ensure_ascii=False) == encode(v.messages[row])


def test_a_dataset_is_stored_in_pieces_every_row_in_order(tmp_path, monkeypatch, db):
    monkeypatch.setattr(store_runs, "DATASET_CHUNK", 7)
    ds = load_dataset(write_rows(tmp_path / "rows.jsonl", 7 * 3 + 2))
    with store.connect(db) as con:
        h = store.save_dataset(con, ds)
        stored = store.get_dataset(con, h)
    assert stored["rows"] == ds.rows and stored["n_rows"] == 23


def test_a_rendered_rows_json_is_json_dumps_of_its_messages_whatever_its_shape():
    """MessagesJSON.row writes a row from its shape (shared messages encoded once) and its own texts: the same text
    as json.dumps of the row's messages, for own messages first, between shared ones, several, or none."""
    system = {"role": "system", "content": 'Be "brief".\n\tThanks \u2014 谢谢 \\ / \x00'}
    example = {"role": "assistant", "content": "Sure."}
    shapes = [lambda q: [system, example, {"role": "user", "content": q}],
              lambda q: [{"role": "user", "content": q}, system],
              lambda q: [system, {"role": "user", "content": q}, example, {"role": "user", "content": q + "?"}],
              lambda q: [{"role": "user", "content": q}],
              lambda q: [system, example]]
    rows = Rendered()
    wanted = []
    for k in range(SHARE_FROM_ROWS + 40):
        messages = shapes[k % len(shapes)](f'q{k} "你好"\n\\ \ud800 \u2028')
        rows.append([dict(m) for m in messages])
        wanted.append(messages)
    rows.skip()
    rows.append([{"role": "user", "content": [{"type": "text", "text": "parts"}]}])
    wanted += [None, [{"role": "user", "content": [{"type": "text", "text": "parts"}]}]]
    encode = runner.MessagesJSON()
    for _ in range(2):  # the second pass from the shapes already written
        for k, messages in enumerate(wanted):
            if messages is not None:
                assert encode.row(rows, k) == json.dumps(messages, ensure_ascii=False) == encode(rows[k])
                assert encode.last_head == "" or encode.row(rows, k).startswith(encode.last_head)


def test_a_cache_key_hashes_the_shared_head_once_and_is_the_same_key():
    class Provider:
        def identity(self):
            return {"kind": "openai", "model": "m"}

    key = runner.key_prefix(Provider(), {"temperature": 0})
    text = json.dumps([{"role": "system", "content": "S" * 500}, {"role": "user", "content": "q 你好"}],
                      ensure_ascii=False)
    head = text[:text.index('{"role": "user"')]
    assert key(text, head) == key(text) == key(text, head) == runner.cache_key(Provider(), {"temperature": 0}, text)
    assert key(text, "not its start") == key(text)  # a head left from another row is not used
    assert key(text.replace("q 你", "r 你"), head) != key(text, head)


def test_plan_positions_of_every_row_are_a_range_not_a_dict():
    from workbench.engine.plan import Plan

    every = Plan(variants=[], dataset=None, metrics=None, rows=list(range(100_000)))
    assert every.positions == range(100_000) and every.positions[99_999] == 99_999
    some = Plan(variants=[], dataset=None, metrics=None, rows=[4, 2, 9])
    assert some.positions == {4: 0, 2: 1, 9: 2}

import json

import pandas as pd
import pytest

from workbench.authoring.datasets import Dataset, check_rows, decode_text, load_dataset
from workbench.errors import DatasetError

ZH_ROWS = [("我的订单到哪了？", "请在“我的订单”中查看物流。"), ("怎么申请退货", "签收后30天内可以退货。")]


def write_csv(path, rows, encoding):
    text = "question,reference\n" + "".join(f"{q},{r}\n" for q, r in rows)
    path.write_bytes(text.encode(encoding))
    return path


def test_bundled_datasets():
    en = load_dataset("datasets/support_en.jsonl")
    zh = load_dataset("datasets/support_zh.jsonl")
    assert len(en.rows) >= 150 and len({r["intent"] for r in en.rows}) >= 10 and en.lang == "en"
    assert len(zh.rows) >= 100 and zh.lang == "zh"
    assert {"question", "reference"} <= set(en.columns)
    assert en.place(36) == "datasets/support_en.jsonl:37"


@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "utf-8", "utf-8-sig"])
def test_chinese_csv_in_any_common_encoding(tmp_path, encoding):
    ds = load_dataset(write_csv(tmp_path / "zh.csv", ZH_ROWS, encoding))
    assert [(r["question"], r["reference"]) for r in ds.rows] == ZH_ROWS
    assert ds.lang == "zh"
    assert "question" in ds.columns  # a BOM must not stick to the first header


def test_decode_reports_detected_encoding():
    assert decode_text("订单".encode("gbk"), "x")[1] == "gb18030"
    assert decode_text(b"\xef\xbb\xbfhi", "x") == ("hi", "utf-8-sig")


def test_jsonl_broken_line_37_is_named(tmp_path):
    lines = [json.dumps({"question": f"q{i}", "reference": "r"}) for i in range(50)]
    lines[36] = '{"question": "q36", "reference": '
    path = tmp_path / "data.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(DatasetError) as e:
        load_dataset(path)
    assert e.value.where == f"{path}:37" and "line 37" in e.value.message


def test_jsonl_unpaired_surrogate_escape_is_named_and_escaped_emoji_pass(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"question": "thumbs \\ud83d\\udc4d", "reference": "ok"}\n'
                    '{"question": "fine", "meta": {"tags": ["a", "half \\uD83D"]}, "reference": "ok"}\n', encoding="utf-8")
    with pytest.raises(DatasetError) as e:
        load_dataset(path)
    assert e.value.where == f"{path}:2" and "'meta.tags.1'" in e.value.message
    path.write_text('{"question": "thumbs \\ud83d\\udc4d", "reference": "ok"}\n', encoding="utf-8")
    assert load_dataset(path).rows[0]["question"] == "thumbs 👍"


def test_jsonl_line_numbers_skip_blank_lines(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"question": "a"}\n\n{"other": 1}\n', encoding="utf-8")
    ds = load_dataset(path)
    with pytest.raises(DatasetError) as e:
        check_rows(ds, {"question"})
    assert "'question' missing in lines 3" in e.value.message


def test_missing_column_lists_what_exists(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("prompt,answer\nhi,hello\n", encoding="utf-8")
    ds = load_dataset(path)
    with pytest.raises(DatasetError) as e:
        check_rows(ds, {"question"}, need_reference=True)
    assert e.value.where == str(path)
    assert "'question'" in e.value.message and "'reference'" in e.value.message and "prompt, answer" in e.value.message


def test_rows_missing_values_are_listed(tmp_path):
    path = tmp_path / "d.jsonl"
    rows = [{"question": "q", "reference": "r"}] * 3 + [{"question": None, "reference": "r"}, {"question": "q", "reference": ""}]
    path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    with pytest.raises(DatasetError) as e:
        check_rows(load_dataset(path), {"question"}, need_reference=True)
    assert "'question' missing in lines 4" in e.value.message
    assert "'reference' missing in lines 5" in e.value.message


@pytest.mark.parametrize("name, content", [("e.jsonl", b""), ("e.csv", b"  \n"), ("e.parquet", b"")])
def test_empty_file(tmp_path, name, content):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(DatasetError) as e:
        load_dataset(tmp_path / name)
    assert "empty" in e.value.message and e.value.where.endswith(name)


def test_header_only_csv(tmp_path):
    (tmp_path / "h.csv").write_text("question,reference\n")
    with pytest.raises(DatasetError, match="no data rows"):
        load_dataset(tmp_path / "h.csv")


def test_parquet_and_list_references(tmp_path):
    df = pd.DataFrame({"question": ["a", "b"], "reference": [["x", "y"], ["z"]]})
    df.to_parquet(tmp_path / "d.parquet")
    ds = load_dataset(tmp_path / "d.parquet")
    assert ds.references(0) == ["x", "y"] and ds.references(1) == ["z"]
    assert ds.place(1).endswith("d.parquet: row 2")


def test_parquet_null_and_nan_float_references_are_missing_as_in_jsonl(tmp_path):
    pd.DataFrame({"question": ["a", "b", "c", "d"], "reference": [1.5, None, float("nan"), 2.0]}).to_parquet(
        tmp_path / "f.parquet")
    (tmp_path / "f.jsonl").write_text('{"question": "a", "reference": 1.5}\n{"question": "b", "reference": null}\n'
                                      '{"question": "c", "reference": NaN}\n{"question": "d", "reference": 2.0}\n')
    for name, places in (("f.parquet", "rows 2, 3"), ("f.jsonl", "lines 2, 3")):
        ds = load_dataset(tmp_path / name)
        assert [ds.references(i) for i in range(4)] == [["1.5"], [], [], ["2.0"]], name
        with pytest.raises(DatasetError, match=f"'reference' missing in {places}$"):
            check_rows(ds, {"question"}, need_reference=True)
    assert load_dataset(tmp_path / "f.parquet").rows[2]["reference"] is None  # stored as null, not NaN


def test_custom_reference_field_and_lang_override(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("q,gold\nhello,world\n")
    ds = load_dataset(path, reference_field="gold", lang="zh")
    assert ds.references(0) == ["world"] and ds.lang == "zh"


def test_unknown_suffix_and_missing_file(tmp_path):
    with pytest.raises(DatasetError, match="unknown file type"):
        load_dataset(tmp_path / "x.xlsx")
    with pytest.raises(DatasetError, match="not found"):
        load_dataset(tmp_path / "nope.jsonl")


def test_hash_depends_on_content(tmp_path):
    a = write_csv(tmp_path / "a.csv", ZH_ROWS, "utf-8")
    b = write_csv(tmp_path / "b.csv", ZH_ROWS, "gbk")
    c = write_csv(tmp_path / "c.csv", ZH_ROWS[:1], "utf-8")
    assert load_dataset(a).hash == load_dataset(b).hash != load_dataset(c).hash


def test_guess_reference_prefers_usual_names_then_the_longest_text():
    from workbench.authoring.datasets import Dataset, guess_reference

    def ds(rows):
        return Dataset("x", "x.jsonl", rows, list(dict.fromkeys(k for r in rows for k in r)))

    assert guess_reference(ds([{"id": "a", "question": "q", "Answer": "a"}])) == "Answer"
    assert guess_reference(ds([{"id": "faq-01", "title": "Passwords", "text": "Tap 'Forgot password?'..."}])) == "text"
    assert guess_reference(ds([{"id": "x-1", "title": "A title", "body": "A much longer body of text"}])) == "body"
    assert guess_reference(ds([{"n": 1, "m": 2}])) is None


def test_rows_are_held_as_tuples_and_read_back_as_the_file_has_them(tmp_path):
    import pickle

    from workbench.authoring.rows import Rows

    lines = [{"q": "a", "reference": "x"}, {"q": "b", "reference": "y"}, {"reference": "z", "q": "c", "extra": 1},
             {"q": "d"}]
    p = tmp_path / "d.jsonl"
    p.write_text("\n".join(json.dumps(r) for r in lines) + "\n", encoding="utf-8")
    ds = load_dataset(p)
    assert isinstance(ds.rows, Rows)
    assert [type(v) for v in ds.rows._values] == [tuple, tuple, dict, dict]  # other keys or order: as read
    assert list(ds.rows) == lines and ds.rows[1:3] == lines[1:3] and ds.rows[-1] == {"q": "d"}
    assert [list(r) for r in ds.rows] == [list(r) for r in lines]  # each row's own key order
    ds.rows[0]["q"] = "changed"  # a row read is the reader's copy
    assert ds.rows[0]["q"] == "a"
    assert ds.hash == Dataset("d", str(p), lines, ds.columns).hash
    assert pickle.loads(pickle.dumps(ds.rows)) == lines
    assert list(ds.line_numbers) == [1, 2, 3, 4] and ds.place(2) == f"{p}:3"

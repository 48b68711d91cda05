"""Files to chunks: each kind, the size cap and overlap, headings, bad rows, and a 50 MB file in bounded memory."""

from __future__ import annotations

import json
import tracemalloc

import pytest

from workbench.errors import UserError
from workbench.knowledge.chunking import Chunking, read_chunks, split_text


def chunks(path, **kw):
    return list(read_chunks(path, Chunking(**kw)))


def test_faq_jsonl_is_one_chunk_per_entry():
    got = chunks("datasets/faq_en.jsonl")
    assert [c.id for c in got] == [f"faq-{i:02d}" for i in range(1, 19)]
    assert got[0].title == "Resetting your password" and got[0].text.startswith("If you can't remember")
    assert got[4].source == "datasets/faq_en.jsonl:5"
    zh = chunks("datasets/faq_zh.jsonl")
    assert len(zh) == 14 and zh[2].title == "取消订单"


def test_markdown_splits_at_headings_and_keeps_the_heading_path(tmp_path):
    md = tmp_path / "guide.md"
    md.write_text("# Returns\n\nThirty days to return.\n\n## Refunds\n\nMoney back in 5-7 days.\n\n"
                  "```\n# not a heading in a fence\n```\n\n# Shipping\nFree over $50.\n", encoding="utf-8")
    got = chunks(md)
    assert [(c.id, c.title) for c in got] == [("guide.md#1", "Returns"), ("guide.md#2", "Returns > Refunds"),
                                              ("guide.md#3", "Shipping")]
    assert "# not a heading in a fence" in got[1].text
    assert got[1].source.endswith("guide.md:7") and got[2].text == "Free over $50."


def test_text_is_packed_by_paragraphs_under_the_cap_with_overlap(tmp_path):
    paragraphs = [f"Paragraph {i} says fact number {i} about the shop and nothing else at all." for i in range(40)]
    txt = tmp_path / "notes.txt"
    txt.write_text("\n\n".join(paragraphs) + "\n", encoding="utf-8")
    got = chunks(txt, max_chars=300, overlap=60)
    assert len(got) > 5 and all(len(c.text) <= 300 for c in got)
    for p in paragraphs:  # every paragraph whole in some chunk
        assert any(p in c.text for c in got)
    for a, b in zip(got, got[1:]):  # each chunk starts with the tail of the one before
        head = b.text.split("\n\n")[0]
        assert a.text.endswith(head) and 0 < len(head) <= 60


def test_a_long_paragraph_is_cut_at_sentence_breaks():
    text = " ".join(f"Sentence {i} is here." for i in range(200))
    pieces = list(split_text(text, Chunking(max_chars=200, overlap=40)))
    assert all(len(p) <= 200 for p in pieces)
    assert all(p.rstrip().endswith(".") for p in pieces[:-1])


def test_chinese_text_without_spaces_is_cut_under_the_cap(tmp_path):
    f = tmp_path / "zh.txt"
    f.write_text("退货政策。" * 500, encoding="utf-8")
    got = chunks(f, max_chars=120, overlap=20)
    assert len(got) > 20 and all(len(c.text) <= 120 for c in got)
    assert all(c.text.endswith("。") for c in got[:-1])  # cut after a sentence end, not mid-word
    assert sum(c.text.count("。") for c in got) >= 500  # nothing lost (the overlaps repeat some)


def test_csv_with_a_text_field(tmp_path):
    f = tmp_path / "kb.csv"
    f.write_text('id,title,body\nk1,Hours,"Open 9-5,\nMon-Fri"\nk2,Phone,Call 555\n', encoding="utf-8")
    got = chunks(f, text_field="body")
    assert [(c.id, c.title, c.text, c.source) for c in got] == [
        ("k1", "Hours", "Open 9-5,\nMon-Fri", f"{f}:2"), ("k2", "Phone", "Call 555", f"{f}:4")]
    with pytest.raises(UserError, match=r"kb.csv:1: no column 'text'"):
        chunks(f)


def test_jsonl_rows_without_ids_get_file_line_ids_and_long_rows_are_split(tmp_path):
    f = tmp_path / "docs.jsonl"
    f.write_text(json.dumps({"text": "short"}) + "\n\n" + json.dumps({"id": 7, "text": "word " * 100}) + "\n")
    got = chunks(f, max_chars=200, overlap=20)
    assert got[0].id == "docs.jsonl:1"
    assert [c.id for c in got[1:]] == ["7#1", "7#2", "7#3"] and all(len(c.text) <= 200 for c in got)


@pytest.mark.parametrize("line, message", [
    ("{not json", r"docs.jsonl:2: line 2 is not valid JSON"),
    ("[1, 2]", r"docs.jsonl:2: line 2 is a JSON list, expected an object"),
    ('{"text": ""}', r"docs.jsonl:2: field 'text' must be non-empty text"),
    ('{"body": "x"}', r"docs.jsonl:2: field 'text' must be non-empty text"),
])
def test_a_bad_row_names_file_line_and_field(tmp_path, line, message):
    f = tmp_path / "docs.jsonl"
    f.write_text('{"text": "fine"}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(UserError, match=message):
        chunks(f)


def test_not_utf8_and_bad_options_are_user_errors(tmp_path):
    f = tmp_path / "latin.txt"
    f.write_bytes("caf\xe9 ".encode("latin-1") * 10)
    with pytest.raises(UserError, match="latin.txt: not UTF-8"):
        chunks(f)
    with pytest.raises(UserError, match="overlap"):
        Chunking(max_chars=100, overlap=80)


def _write_big(path, lines_per_para: int, line: str, target: int) -> int:
    size = 0
    with open(path, "w", encoding="utf-8") as f:
        i = 0
        while size < target:
            block = (f"# Section {i}\n\n" if i % 50 == 0 else "") + (line.format(i) + "\n") * lines_per_para + "\n"
            f.write(block)
            size += len(block.encode())
            i += 1
    return size


@pytest.mark.slow
@pytest.mark.parametrize("shape", ["paragraphs", "one_line"])
def test_a_50_mb_file_streams_in_bounded_memory(tmp_path, shape):
    path = tmp_path / "big.md"
    if shape == "paragraphs":
        size = _write_big(path, 6, "Line {} of the handbook says how returns, refunds and parcels work here.", 50 << 20)
    else:  # no newline at all: a reader that takes lines whole would hold 50 MB
        path.write_text("word " * (10 << 20), encoding="utf-8")
        size = path.stat().st_size
    assert size >= 50 << 20
    tracemalloc.start()
    n = total = longest = 0
    try:
        for c in read_chunks(path, Chunking()):
            n += 1
            total += len(c.text)
            longest = max(longest, len(c.text))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert longest <= 800 and total >= size * 0.9
    assert peak < 4 << 20, f"peak {peak:,} bytes while chunking {size:,}"

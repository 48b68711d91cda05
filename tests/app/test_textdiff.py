import html
import re
import time

from workbench.app.textdiff import diff_html, escape, tokens, word_diff


def sides(ops):
    a = "".join(t for k, t in ops if k in ("equal", "delete"))
    b = "".join(t for k, t in ops if k in ("equal", "insert"))
    return a, b


def test_word_diff_marks_whole_words_and_rebuilds_both_texts():
    ops = word_diff("the cat sat on the mat", "the dog sat on a mat")
    assert ops == [("equal", "the "), ("delete", "cat"), ("insert", "dog"), ("equal", " sat on "),
                   ("delete", "the"), ("insert", "a"), ("equal", " mat")]
    assert sides(ops) == ("the cat sat on the mat", "the dog sat on a mat")


def test_chinese_characters_are_words_of_their_own():
    assert tokens("请在30天内退货") == ["请", "在", "30", "天", "内", "退", "货"]
    ops = word_diff("请在30天内退货", "请在7天内退货")
    assert ("delete", "30") in ops and ("insert", "7") in ops


def test_empty_and_identical():
    assert word_diff("", "") == []
    assert word_diff("same", "same") == [("equal", "same")]
    assert word_diff("", "new") == [("insert", "new")]


def test_long_texts_fall_back_to_lines_and_stay_fast():
    a = "\n".join(f"line {i} " + "word " * 20 for i in range(2000))
    b = a.replace("line 1000 ", "line 1000 changed ")
    start = time.perf_counter()
    ops = word_diff(a, b)
    assert time.perf_counter() - start < 5
    assert sides(ops) == (a, b)


def test_escape_makes_html_and_markdown_inert_but_keeps_the_text():
    hostile = '<script>alert(1)</script> ![x](http://e/x.png) **b** [l](javascript:x) # h & "q" \'s\''
    out = escape(hostile)
    bare = re.sub(r"&#\d+;", "", out)
    for ch in "<>[]()*!#`&\"'":
        assert ch not in bare
    assert html.unescape(out) == hostile
    assert escape("a\nb") == "a<br>b"


def test_diff_html_wraps_changes_and_escapes_inside_them():
    out = diff_html("Reply within 24 hours", "Reply within <b>48</b> hours")
    assert "<ins>" in out and "<b>" not in out and "&#60;b&#62;" in out
    assert "<del>24</del>" in out
    assert "<del>" not in diff_html("a b", "a c", show_deleted=False)


def test_markdown_literal_escapes_every_markdown_construct():
    from workbench.app.textdiff import markdown_literal

    out = markdown_literal("![x](http://e/x.png) <b>hi</b> **y** `c` [l](u)")
    assert out == r"\!\[x\]\(http\:\/\/e\/x\.png\) \<b\>hi\<\/b\> \*\*y\*\* \`c\` \[l\]\(u\)"
    assert markdown_literal("a\nb") == "a  \nb"


def test_inline_code_is_one_code_span_whatever_the_text():
    from markdown_it import MarkdownIt

    from workbench.app.textdiff import inline_code

    md = MarkdownIt("commonmark")
    for text in ["plain", "few`![p](http://127.0.0.9/p.png)`x", "``a``![x](u)", "`edge", "edge`", "a\nb <b>c</b>",
                 ":red[x] :material/home: $x$"]:
        out = md.renderInline(f"Best: {inline_code(text)} wins")
        assert "<img" not in out and "<a " not in out and "<b>" not in out, out
        code = re.findall(r"<code>(.*?)</code>", out)
        assert len(code) == 1 and html.unescape(code[0]).strip() == text.replace("\n", " ").strip(), out

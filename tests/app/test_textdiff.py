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


def test_chinese_is_cut_into_words():
    assert tokens("请在30天内退货") == ["请", "在", "30", "天", "内", "退货"]  # jieba: 退货 is one word
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


def test_chinese_is_diffed_by_words_and_shared_single_characters_do_not_split_a_change():
    assert tokens("在登录页点击忘记密码") == ["在", "登录", "页", "点击", "忘记", "密码"]
    ref = "在登录页点击“忘记密码”，输入账户邮箱，然后按邮件中的链接设置新密码。"
    answer = "请在账户设置里修改密码，输入账户邮箱。"
    ops = word_diff(ref, answer)
    assert sides(ops) == (ref, answer)
    kept = [t for k, t in ops if k == "equal"]
    assert kept == ["，输入账户邮箱", "。"]  # no lone 在 or 密码 kept in the middle of the rewritten clause
    assert ("delete", "，然后按邮件中的链接设置新密码") in ops


def test_reference_diff_shows_what_the_answer_left_out():
    from workbench.app.grid_view import LEFT_OUT

    out = diff_html("退货请在30天内申请，并保留发票。", "退货请在30天内申请。", deleted_title=LEFT_OUT)
    assert f"<del title='{escape(LEFT_OUT)}'>，并保留发票</del>" in out
    assert "<ins>" not in out


def test_an_unrelated_answer_is_one_change_not_words_interleaved_with_the_reference():
    ops = word_diff("Your order ships in 2 days.", "<script>x = 1</script> **bold**")
    assert ops == [("delete", "Your order ships in 2 days."), ("insert", "<script>x = 1</script> **bold**")]

"""The Chinese interface: every text of the app goes through the catalogue, every msgid has a translation that
keeps its placeholders, the committed .mo is the .po compiled, the default language is picked as documented,
and the pages (AppTest) speak Chinese when asked to."""

from __future__ import annotations

import ast
import gettext
import io
import re
import string
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from streamlit.testing.v1 import AppTest

from tests.annotation_runs import ROOT, make_runs
from workbench import store
from workbench.app import i18n
from workbench.rating import annotation as an

APP = ROOT / "workbench" / "app"
PO = APP / "locale" / "zh_CN" / "LC_MESSAGES" / "workbench.po"
MO = PO.with_suffix(".mo")
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2)}


def catalogue():
    with open(PO, "rb") as f:
        return read_po(f, locale="zh_CN")


def extracted() -> set:
    """The msgids in the app's source, as `make i18n` extracts them (Babel, babel.cfg's mapping)."""
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
            str(APP), method_map=[("**.py", "python")], keywords=KEYWORDS):
        found.add(message if isinstance(message, str) else tuple(message))
    return found


def test_the_catalogue_holds_every_text_of_the_app_and_no_other():
    ids = {m.id if isinstance(m.id, str) else tuple(m.id) for m in catalogue() if m.id}
    source = extracted()
    assert not source - ids, f"run `make i18n` and translate: {sorted(map(str, source - ids))}"
    assert not ids - source, f"no longer in the app: {sorted(map(str, ids - source))}"


def test_no_text_is_translated_where_the_extractor_cannot_see_it():
    """A _() inside an f-string's braces is called but never extracted: it would stay English."""
    hidden = []
    for path in sorted(APP.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.JoinedStr):
                hidden += [f"{path.relative_to(ROOT)}:{c.lineno}" for c in ast.walk(node) if isinstance(c, ast.Call)
                           and getattr(c.func, "id", None) in KEYWORDS]
    assert hidden == []


def test_every_msgid_has_a_chinese_translation_with_the_same_placeholders():
    def fields(text: str) -> set[str]:
        return {name for _lit, name, _spec, _conv in string.Formatter().parse(text) if name is not None}

    bad = []
    for m in catalogue():
        if not m.id:
            continue
        ids = [m.id] if isinstance(m.id, str) else list(m.id)
        strs = [m.string] if isinstance(m.string, str) else list(m.string)
        if m.fuzzy or not all(s.strip() for s in strs):
            bad.append(f"untranslated: {ids[0]!r}")
        elif any(fields(s) != fields(ids[-1]) for s in strs):
            bad.append(f"placeholders differ: {ids[0]!r} -> {strs}")
        elif english_left(strs[0]):
            bad.append(f"still English: {english_left(strs[0])} in {strs[0]!r}")
    assert bad == []


# Names and terms a Chinese team uses as they are: products, methods, file formats, settings.
KEEP = {"OPENAI_API_KEY", "OPENAI_BASE_URL", "api.openai.com", "secrets.toml", "Likert", "Bradley-Terry", "Wilcoxon",
        "Cohen", "Krippendorff", "Spearman", "Fisher", "Wilson", "BCa", "PyTorch", "ChatterBot", "Rasa", "Python",
        "LoRA", "JSONL", "Parquet", "CSV", "TSV", "YAML", "Jinja", "BLEU", "vLLM", "Ollama", "llama.cpp", "server",
        "LM", "Studio", "TGI", "URL", "token", "auto", "model_card.json", "config.json", "Ctrl", "Enter", "context",
        "workbench", "app", "prompts/NAME.yaml", "zh", "CI", "p50", "p95", "OpenAI", "USD", "UTF-8", "BOM",
        "Excel", "GBK", "Windows", "intent", "FAQ", "JSONL/CSV", "Markdown",
        "cjk-bigram", "english", "dense", "hybrid", "all-MiniLM-L6-v2"}  # tokenizer and method names


def english_left(text: str) -> list[str]:
    """Words of English left in a translation, past placeholders, code in backticks and the names above."""
    text = re.sub(r"\{\w+\}|`[^`]*`|--[\w-]+", "", text)  # placeholders, code, CLI flags
    return sorted(w for w in set(re.findall(r"[A-Za-z][\w.\-/]*[A-Za-z0-9]", text)) if w not in KEEP)


def test_the_committed_mo_is_the_po_compiled():
    compiled = io.BytesIO()
    write_mo(compiled, catalogue())
    compiled.seek(0)
    with open(MO, "rb") as f:
        committed = gettext.GNUTranslations(f)
    fresh = gettext.GNUTranslations(compiled)
    assert committed._catalog == fresh._catalog, "run `make i18n` (or pybabel compile) after editing the .po"


# --- every user-visible literal in the app is wrapped --------------------------------------------------------

SHOWN = {"title", "header", "subheader", "caption", "markdown", "info", "warning", "error", "success", "toast",
         "spinner", "expander", "button", "download_button", "form_submit_button", "page_link", "selectbox",
         "multiselect", "radio", "text_input", "text_area", "number_input", "checkbox", "toggle", "file_uploader",
         "metric", "progress", "text", "write", "Page", "Column", "TextColumn", "NumberColumn", "CheckboxColumn"}
SHOWN_KEYWORDS = {"label", "help", "placeholder", "text", "title", "body"}
TRANSPARENT = {"markdown_literal", "escape", "str"}  # pass a text through unchanged
# Not prose: examples of what to type, a code sample, and the selector's label, which is in both languages.
ALLOWED = {"llama3", "http://127.0.0.1:11434/v1", "VLLM_API_KEY", "openai:MODEL@http://host:port/v1",
           "openai:MODEL@http://127.0.0.1:8000/v1", "split == 'test'", "temperature: 0\nmax_tokens: 256",
           "base: faq_en\nquery: '{{ question }}'\nk: 3", "bleu(tok=intl,smooth=floor), rouge(stem=yes), regex=^\\d+$",
           "Language · 语言", "workbench", "OpenAI", "](annotate?session=)"}


def _literal_parts(node) -> list[str]:
    """The English a node would show unwrapped: literals, f-string text, both sides of + and of if/else."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.JoinedStr):
        return ["".join(v.value for v in node.values if isinstance(v, ast.Constant))]
    if isinstance(node, ast.BinOp):
        return _literal_parts(node.left) + _literal_parts(node.right)
    if isinstance(node, ast.IfExp):
        return _literal_parts(node.body) + _literal_parts(node.orelse)
    if isinstance(node, ast.Call):
        name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
        if name in TRANSPARENT:
            return [p for a in node.args for p in _literal_parts(a)]
        if name == "format" and isinstance(node.func, ast.Attribute):  # "Saved {x}".format(...) is unwrapped
            return _literal_parts(node.func.value)
        if name == "join" and isinstance(node.func, ast.Attribute):
            return [p for a in node.args for p in _literal_parts(a)]
    if isinstance(node, ast.Attribute) and node.attr == "get" and isinstance(node.value, ast.Dict):
        return [p for v in node.value.values for p in _literal_parts(v)]  # format_func={...}.get
    return []


def unwrapped(path: Path, root: Path = ROOT) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
        if name not in SHOWN:
            continue
        first = [] if name in ("Page", "page_link") else node.args[:1]  # a page's file, not a text
        shown = first + [k.value for k in node.keywords if k.arg in SHOWN_KEYWORDS | {"format_func"}]
        for part in (p for a in shown for p in _literal_parts(a)):
            if re.search(r"[A-Za-z]{2,}", part) and part not in ALLOWED and not part.startswith(":material/"):
                found.append(f"{path.relative_to(root)}:{node.lineno}: {part!r}")
    return found


def test_no_user_visible_literal_is_left_unwrapped():
    files = sorted(APP.glob("views/*.py")) + sorted(APP.glob("*.py"))
    assert [f for path in files for f in unwrapped(path)] == []


def test_the_scan_finds_an_unwrapped_label(tmp_path):
    page = tmp_path / "page.py"
    page.write_text('import streamlit as st\nst.button("Both bad")\nst.caption(f"{n} rows left")\n'
                    'st.info(markdown_literal("Saved {x}".format(x=1)))\nst.button(_("Tie"))\n', encoding="utf-8")
    found = [f.split(": ", 1)[1] for f in unwrapped(page, tmp_path)]
    assert found == ["'Both bad'", "' rows left'", "'Saved {x}'"]


# --- the default language ------------------------------------------------------------------------------------

@pytest.mark.parametrize("env, locale, accept, expected", [
    ("zh", "en-US", "en-US,en;q=0.9", "zh"),  # WORKBENCH_LANG wins
    ("en", "zh-CN", None, "en"),
    ("zh_CN", None, None, "zh"),
    (None, "zh-CN", None, "zh"),  # then the browser's language
    ("", "zh-TW", None, "zh"),  # the only Chinese interface there is
    (None, None, "fr-FR,zh-CN;q=0.8,en;q=0.5", "zh"),  # then Accept-Language by quality
    (None, None, "en;q=0.4, zh-Hans;q=0.9", "zh"),
    (None, "fr-FR", "fr, de", "en"),  # else English
    (None, None, None, "en"),
    ("klingon", None, None, "en"),
])
def test_the_default_language(env, locale, accept, expected):
    assert i18n.pick_language(env, locale, accept) == expected


def test_outside_the_app_texts_and_setting_labels_stay_english():
    from workbench.app.labels import label_for

    assert i18n._("A is better") == "A is better" and label_for("timeout") == "Timeout per request (s)"
    assert i18n.catalogue("zh").gettext("Timeout per request (s)") == "单个请求超时（秒）"


# --- rubrics and tags in both languages ---------------------------------------------------------------------

def test_rubrics_and_tags_come_in_both_languages():
    assert set(an.RUBRICS_ZH) == set(an.RUBRICS) and len(an.DEFAULT_TAGS_ZH) == len(an.DEFAULT_TAGS)
    assert an.default_rubric("pairwise", "zh").startswith("你更愿意发送哪个回答")
    assert an.default_rubric("pairwise", "fr") == an.RUBRICS["pairwise"]
    # a session's default rubric reads in the rater's language; one its creator wrote stays as written
    assert an.rubric_in(an.RUBRICS["thumbs"], "zh") == an.RUBRICS_ZH["thumbs"]
    assert an.rubric_in(an.RUBRICS_ZH["likert"], "en") == an.RUBRICS["likert"]
    assert an.rubric_in("Be strict.", "zh") == "Be strict."
    assert an.tag_in("too long", "zh") == "太长" and an.tag_in("太长", "en") == "too long"
    assert an.tag_in("my tag", "zh") == "my tag"


def _zh(at: AppTest) -> AppTest:
    at.session_state[i18n.KEY] = "zh"
    return at


def test_annotate_page_in_chinese(db):
    runs = make_runs(db, [("support_few_shot", "openai:m1"), ("support_zero_shot", "openai:m2")], n_rows=3)
    with store.connect(db) as con:
        sid = an.create_session(con, an.SessionSpec(runs, pairwise=True, seed=2))
    at = _zh(AppTest.from_file(str(APP / "views" / "annotate.py"), default_timeout=60))
    at.query_params["session"] = sid
    at.run()
    assert at.title[0].value == "标注" and "请先填写你的名字" in at.info[0].value
    at.text_input(key="ann_name").input("ann").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.subheader[0].value == "第 1 项，共 3 项"
    labels = [b.label for b in at.button]
    assert {"A 更好", "B 更好", "平局", "都不好", "上一个", "停止评分"} <= set(labels), labels
    assert an.RUBRICS_ZH["pairwise"] in [t.value for t in at.text]  # a default rubric: in the rater's language
    assert at.multiselect[0].label == "标签（可选）"
    assert "太长" in [at.multiselect[0].format_func(o) for o in at.multiselect[0].options]
    at.button(key="ann_rate_both_bad").click().run()
    with store.connect(db) as con:  # what is stored stays the same in every language
        assert store.get_rating(con, sid, 0, "ann", "pairwise")["value"] == "both_bad"


def test_leaderboard_offers_the_rubric_and_tags_in_the_interface_language(db):
    make_runs(db, [("support_few_shot", "openai:m1"), ("support_zero_shot", "openai:m2")], n_rows=3)
    at = _zh(AppTest.from_file(str(APP / "views" / "leaderboard.py"), default_timeout=60)).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "排行榜"
    assert at.text_area[0].label == "给标注者看的评分标准" and at.text_area[0].value == an.RUBRICS_ZH["likert"]
    assert at.multiselect(key="lb_tags_zh").value == an.DEFAULT_TAGS_ZH
    at.button[0].click().run()  # Create session
    with store.connect(db) as con:
        session = store.get_session(con, store.list_sessions(con)["id"].iloc[0])
    assert session["rubric"] == an.RUBRICS_ZH["likert"] and list(session["tags"]) == an.DEFAULT_TAGS_ZH


@pytest.mark.parametrize("page, title", [("prompts", "提示词"), ("datasets", "数据集"), ("knowledge", "知识库"), ("models", "模型"),
                                         ("run", "运行"), ("compare", "对比"), ("export", "导出")])
def test_every_page_renders_in_chinese(page, title):
    at = _zh(AppTest.from_file(str(APP / "views" / f"{page}.py"), default_timeout=60)).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == title


def test_workbench_lang_sets_the_default_and_the_selector_changes_it(monkeypatch):
    monkeypatch.setenv("WORKBENCH_LANG", "zh")
    at = AppTest.from_file(str(APP / "main.py"), default_timeout=90).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "提示词" and at.sidebar.selectbox(key=i18n.KEY).value == "zh"
    at.sidebar.selectbox(key=i18n.KEY).set_value("en").run()
    assert at.title[0].value == "Prompts" and "Save as new version" in [b.label for b in at.button]

"""Word-level differences between two texts, and safe HTML for showing them.

Texts are model outputs and references: untrusted. `diff_html` escapes every piece: HTML's special
characters and Markdown's punctuation become numeric entities, so the result shows literally whether
a renderer treats it as HTML or as Markdown.
"""

from __future__ import annotations

import difflib
import functools
import re

# Runs of CJK characters (Chinese is cut into words by jieba, other scripts into characters), runs of
# letters/digits, single punctuation, whitespace. Chinese has no spaces: diffed by characters, a
# changed sentence shows single shared characters (在, 的) as matches in the middle of changes.
CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af"
HAN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
KANA_HANGUL_HAN = re.compile(f"[{CJK}]+")
TOKEN = re.compile(rf"[{CJK}]+|[^\W{CJK}]+|\s+|[^\w\s]")
MAX_TOKENS = 4000  # SequenceMatcher is quadratic in the worst case; past this, compare line by line
# html.escape's characters plus Markdown's, each as a numeric entity; one pass so entities never nest
INERT = str.maketrans({c: f"&#{ord(c)};" for c in "&<>\"'!#*+-=[]()_`~|\\{}$:"} | {"\x00": None, "\n": "<br>"})


@functools.cache
def _jieba():
    """jieba, or None when it is not installed (then Chinese is diffed by characters)."""
    import logging

    try:
        import jieba
    except ImportError:
        return None
    jieba.setLogLevel(logging.WARNING)  # it announces loading its dictionary on stderr
    return jieba


def tokens(text: str) -> list[str]:
    out: list[str] = []
    for tok in TOKEN.findall(text):
        if len(tok) > 1 and HAN.fullmatch(tok) and _jieba() is not None:
            out.extend(_jieba().lcut(tok, HMM=False))  # dictionary words only: the same cut every time
        elif len(tok) > 1 and KANA_HANGUL_HAN.fullmatch(tok):
            out.extend(tok)  # no word list at hand: a character is a word
        else:
            out.append(tok)
    return out


def _absorb_islands(ops: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """An unchanged piece of one word, punctuation mark or run of spaces between two changes is folded into
    them (shown deleted and inserted), so a rewritten sentence reads as one change, not as 在 and ， kept, nor
    as its words interleaved with the reference's one by one."""
    out: list[tuple[str, str]] = []
    for k, (kind, text) in enumerate(ops):
        changed = lambda j: 0 <= j < len(ops) and ops[j][0] != "equal"  # noqa: E731
        if kind == "equal" and changed(k - 1) and changed(k + 1) and len(tokens(text)) <= 1:
            out += [("delete", text), ("insert", text)]
        else:
            out.append((kind, text))
    merged: list[tuple[str, str]] = []
    for kind, text in out:  # adjacent pieces of a kind merged, deletions before insertions
        if merged and merged[-1][0] == kind:
            merged[-1] = (kind, merged[-1][1] + text)
        elif kind == "delete" and merged and merged[-1][0] == "insert" and len(merged) > 1 and merged[-2][0] == "delete":
            merged[-2] = ("delete", merged[-2][1] + text)
        elif kind == "insert" and merged and merged[-1][0] == "delete" and len(merged) > 1 and merged[-2][0] == "insert":
            merged[-2] = ("insert", merged[-2][1] + text)
        else:
            merged.append((kind, text))
    return merged


def word_diff(a: str, b: str) -> list[tuple[str, str]]:
    """Ops turning `a` into `b`: ("equal" | "delete" | "insert", text), adjacent pieces merged."""
    ta, tb = tokens(a or ""), tokens(b or "")
    if len(ta) > MAX_TOKENS or len(tb) > MAX_TOKENS:
        ta, tb = (a or "").splitlines(keepends=True), (b or "").splitlines(keepends=True)
    ops: list[tuple[str, str]] = []

    def add(kind: str, text: str) -> None:
        if not text:
            return
        if ops and ops[-1][0] == kind:
            ops[-1] = (kind, ops[-1][1] + text)
        else:
            ops.append((kind, text))

    sm = difflib.SequenceMatcher(None, ta, tb, autojunk=False)
    for tag, i1, i2, j1, j2 in sm.get_opcodes():
        if tag == "equal":
            add("equal", "".join(ta[i1:i2]))
        else:
            add("delete", "".join(ta[i1:i2]))
            add("insert", "".join(tb[j1:j2]))
    return _absorb_islands(ops)


def escape(text: str) -> str:
    """Inert text for an HTML (or Markdown) context: tags escaped, Markdown syntax turned to entities."""
    return (text or "").translate(INERT)


def diff_html(base: str, text: str, show_deleted: bool = True, deleted_title: str = "") -> str:
    """`text` with the words that differ from `base` marked: <ins> for new words, <del> for missing ones
    (with `deleted_title` as their tooltip, e.g. what a missing piece of the reference means)."""
    parts = []
    title = f" title='{escape(deleted_title)}'" if deleted_title else ""
    for kind, piece in word_diff(base, text):
        if kind == "equal":
            parts.append(escape(piece))
        elif kind == "insert":
            parts.append(f"<ins>{escape(piece)}</ins>")
        elif show_deleted:
            parts.append(f"<del{title}>{escape(piece)}</del>")
    return "".join(parts)


MARKDOWN_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")


def markdown_literal(text: str) -> str:
    """Text for a Markdown context (st.error, st.caption…) that shows as typed: every ASCII punctuation
    character backslash-escaped (CommonMark), so no link, image, emphasis or HTML can form."""
    return MARKDOWN_PUNCTUATION.sub(r"\\\1", str(text or "")).replace("\n", "  \n")


def inline_code(text: str) -> str:
    """Text as a Markdown code span: nothing inside one forms a link, image, HTML, emphasis or Streamlit
    directive (`:red[…]`, `:material/…:`, `$…$`). The fence is one backtick longer than any run inside,
    and spaces pad an edge backtick (CommonMark); a newline would end nothing but is shown as a space."""
    text = str(text or "").replace("\r", " ").replace("\n", " ")
    fence = "`" * (max((len(r) for r in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}"

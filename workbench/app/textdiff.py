"""Word-level differences between two texts, and safe HTML for showing them.

Texts are model outputs and references: untrusted. `diff_html` escapes every piece: HTML's special
characters and Markdown's punctuation become numeric entities, so the result shows literally whether
a renderer treats it as HTML or as Markdown.
"""

from __future__ import annotations

import difflib
import re

# A CJK character is a word of its own; otherwise runs of letters/digits, single punctuation, whitespace.
CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af"
TOKEN = re.compile(rf"[{CJK}]|[^\W{CJK}]+|\s+|[^\w\s]")
MAX_TOKENS = 4000  # SequenceMatcher is quadratic in the worst case; past this, compare line by line
# html.escape's characters plus Markdown's, each as a numeric entity; one pass so entities never nest
INERT = str.maketrans({c: f"&#{ord(c)};" for c in "&<>\"'!#*+-=[]()_`~|\\{}$:"} | {"\x00": None, "\n": "<br>"})


def tokens(text: str) -> list[str]:
    return TOKEN.findall(text)


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
    return ops


def escape(text: str) -> str:
    """Inert text for an HTML (or Markdown) context: tags escaped, Markdown syntax turned to entities."""
    return (text or "").translate(INERT)


def diff_html(base: str, text: str, show_deleted: bool = True) -> str:
    """`text` with the words that differ from `base` marked: <ins> for new words, <del> for missing ones."""
    parts = []
    for kind, piece in word_diff(base, text):
        if kind == "equal":
            parts.append(escape(piece))
        elif kind == "insert":
            parts.append(f"<ins>{escape(piece)}</ins>")
        elif show_deleted:
            parts.append(f"<del>{escape(piece)}</del>")
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

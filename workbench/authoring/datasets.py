"""Datasets: read CSV / JSONL / Parquet into rows, detect text encodings, validate rows against a prompt.

Row numbers in errors are 1-based and mean the line for JSONL (``data.jsonl:37``) and the data row for
CSV (``data.csv: row 5``, the header not counted) and Parquet.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import math
import re
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.authoring.conversations import is_conversation, parse_conversation
from workbench.authoring.rows import Rows
from workbench.authoring.scripts import CJK_CLASS
from workbench.errors import DatasetError
from workbench.surrogates import LONE_SURROGATE

CJK = re.compile(f"[{CJK_CLASS}]")  # by Unicode script (authoring/scripts.py)
ROW_LANG_SAMPLE = 2000  # characters of a row's references that decide its language
SUFFIXES = {".csv": "csv", ".tsv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".parquet": "parquet"}


@dataclass
class Dataset:
    name: str
    path: str
    rows: Sequence[dict[str, Any]]  # a list, or Rows (rows.py) as load_dataset reads them
    columns: list[str]
    reference_field: str = "reference"
    lang: str = "en"
    encoding: str | None = None
    line_numbers: Sequence[int] = field(default_factory=list)  # where each row came from, for messages
    kind: str = "rows"  # or "conversations" (authoring/conversations.py): each row a list of turns

    @property
    def is_conversations(self) -> bool:
        return self.kind == "conversations"

    def summary(self) -> str:
        """"N rows", or "N conversations, M assistant turns"."""
        if self.is_conversations:
            from workbench.authoring.conversations import summary

            return summary(self.rows)
        return f"{len(self.rows):,} row{'s' * (len(self.rows) != 1)}"

    @functools.cached_property
    def hash(self) -> str:
        """Content hash of the rows (computed once: rows are not edited after loading)."""
        h = hashlib.sha256()
        for row in self.rows:
            h.update(json.dumps(row, sort_keys=True, ensure_ascii=False, default=str).encode())
            h.update(b"\n")
        return h.hexdigest()[:16]

    def place(self, i: int) -> str:
        """Where row i (0-based) is in the file, as a user reads it."""
        n = self.line_numbers[i] if self.line_numbers else i + 1
        return f"{self.path}:{n}" if self.path.endswith((".jsonl", ".ndjson", ".json")) else f"{self.path}: row {n}"

    def take(self, indexes: list[int], name: str | None = None) -> Dataset:
        """Rows `indexes` as a dataset of their own; messages still name the lines of the original file."""
        return Dataset(name or self.name, self.path, [self.rows[i] for i in indexes], self.columns,
                       self.reference_field, self.lang, self.encoding,
                       [self.line_numbers[i] for i in indexes] if self.line_numbers else [], self.kind)

    def references(self, i: int) -> list[str]:
        """Reference answers of row i: a string, or a list of acceptable answers."""
        ref = self.rows[i].get(self.reference_field)
        if ref is None:
            return []
        if isinstance(ref, (list, tuple)):
            return [str(r) for r in ref if not _missing(r)]
        return [] if _missing(ref) else [str(ref)]


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def decode_text(data: bytes, where: str) -> tuple[str, str]:
    """Decode bytes as UTF-8 (with or without BOM) or GB18030/GBK, else charset-normalizer's best guess.

    GB18030 is tried before charset-normalizer because on short Chinese files the detector often
    names a different CJK code page (Big5, EUC-KR) that decodes GBK bytes into the wrong characters.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="strict"), "utf-8-sig"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("gb18030")
        if CJK.search(text):
            return text, "gb18030"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise DatasetError("cannot detect the text encoding (tried UTF-8, GB18030 and charset detection)", where)
    return str(best), best.encoding


def detect_lang(texts: list[str]) -> str:
    """'zh' when CJK characters make up a fifth of the letters, else 'en'."""
    sample = "".join(texts[:500])
    letters = sum(ch.isalpha() for ch in sample)
    cjk = len(CJK.findall(sample))
    return "zh" if letters and cjk / letters >= 0.2 else "en"


def row_lang(references: list[str]) -> str:
    """'zh' when CJK characters are at least a fifth of the letters of the references (their first
    ROW_LANG_SAMPLE characters), else 'en'. BLEU under lang 'auto' tokenizes the row with zh or 13a by it."""
    text = "".join(references)[:ROW_LANG_SAMPLE]
    if text.isascii():
        return "en"
    letters = sum(map(str.isalpha, text))
    return "zh" if letters and (len(text) - len(CJK.sub("", text))) * 5 >= letters else "en"


def row_langs(references_lists) -> set[str]:
    """The languages of the rows with references ({'en'}, {'zh'}, both, or none); stops once both are seen."""
    seen: set[str] = set()
    for refs in references_lists:
        if refs:
            seen.add(row_lang(list(refs)))
            if len(seen) == 2:
                break
    return seen


def _auto_lang(ds: Dataset) -> str:
    """'en' or 'zh' when the references of every row are in that language; 'auto' when rows differ, so
    BLEU picks each row's tokenizer from its own references (row_lang); without references, from all of
    the text."""
    langs = row_langs(ds.references(i) for i in range(len(ds.rows)))
    if langs:
        return langs.pop() if len(langs) == 1 else "auto"
    return detect_lang([" ".join(str(v) for v in r.values() if isinstance(v, str)) for r in ds.rows[:200]])


_SURROGATE_ESCAPE = re.compile(r"\\[uU][dD][89a-fA-F]")


def _lone_surrogate(obj: Any, name: str = "") -> str | None:
    """The first field (dotted path) holding a string with an unpaired surrogate, or None."""
    if isinstance(obj, str):
        return name if LONE_SURROGATE.search(obj) else None
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else ()
    for k, v in items:
        found = _lone_surrogate(k, name) if isinstance(k, str) else None
        found = found if found is not None else _lone_surrogate(v, f"{name}.{k}" if name else str(k))
        if found is not None:
            return found
    return None


def _lines(text: str) -> Iterator[str]:
    """`text.splitlines()` one line at a time: a list of every line is as big as the file again."""
    if "\r" in text or any(c in text for c in "\v\f\x1c\x1d\x1e\x85\u2028\u2029"):
        yield from text.splitlines()  # other line breaks: as splitlines sees them
        return
    start = 0
    while start < len(text):
        end = text.find("\n", start)
        if end < 0:
            end = len(text)
        yield text[start:end]
        start = end + 1


SHARED_MAX_CHARS = 300  # values up to this long are kept once when they repeat (intents, splits, answers)


JSONL_CHUNK = 4096  # lines decoded by one json.loads: a call per line costs twice as much; chunks bound the copy


def _read_jsonl(text: str, where: str) -> tuple[list[dict], list[int]]:
    """The rows and their line numbers. Keys, and text values that repeat, are one string object each (a
    100,000-row file otherwise holds 100,000 copies of every key and category: ~0.5 KB a row)."""
    rows, lines = [], []
    shared: dict[str, str] = {}
    keep = shared.setdefault
    chunk: list[tuple[int, str]] = []
    for n, line in enumerate(_lines(text), 1):
        if line.strip():
            chunk.append((n, line))
        if len(chunk) == JSONL_CHUNK:
            _decode_chunk(chunk, where, rows, lines, keep)
            chunk = []
    _decode_chunk(chunk, where, rows, lines, keep)
    return rows, lines


def _decode_chunk(chunk: list[tuple[int, str]], where: str, rows: list, lines: list, keep) -> None:
    """Lines decoded as one JSON array (the decoder then also keeps each key once); when that fails, or a line
    holds anything but one object, or an escaped surrogate, line by line, which names the line at fault."""
    try:
        objs = json.loads(f"[{','.join(line for _, line in chunk)}]")
        whole = len(objs) == len(chunk) and all(type(o) is dict for o in objs)
    except (json.JSONDecodeError, RecursionError):
        whole = False
    if not whole or any(_SURROGATE_ESCAPE.search(line) for _, line in chunk):
        objs = [decode_line(line, n, where) for n, line in chunk]
    for obj in objs:
        for k, v in obj.items():
            if type(v) is str and len(v) <= SHARED_MAX_CHARS:
                obj[k] = keep(v, v)
    rows += objs
    lines += [n for n, _ in chunk]


def decode_line(line: str, n: int, where: str) -> dict:
    """Line `n` of a JSON Lines file as its object; a DatasetError naming `where`:n for anything else."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as e:
        raise DatasetError(f"line {n} is not valid JSON ({e.msg}, column {e.colno})", f"{where}:{n}") from None
    if not isinstance(obj, dict):
        raise DatasetError(f"line {n} is a JSON {type(obj).__name__}, expected an object", f"{where}:{n}")
    if _SURROGATE_ESCAPE.search(line):  # usually an escaped emoji (a valid pair); a lone half cannot be stored
        field = _lone_surrogate(obj)
        if field is not None:
            raise DatasetError(f"line {n}: field {field!r} has an unpaired UTF-16 surrogate escape (\\uD800-"
                               "\\uDFFF) that is not a character", f"{where}:{n}")
    return obj


def _read_csv(text: str, where: str, sep: str) -> list[dict]:
    import pandas as pd

    try:
        df = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False)
    except pd.errors.ParserError as e:
        raise DatasetError(f"CSV parse error: {e}", where) from None
    except pd.errors.EmptyDataError:
        raise DatasetError("file has no header row", where) from None
    return df.to_dict(orient="records")


def _read_parquet(path: Path, where: str) -> list[dict]:
    import pandas as pd

    try:
        df = pd.read_parquet(path)
    except Exception as e:  # pyarrow raises several unrelated types for a bad file
        raise DatasetError(f"cannot read Parquet: {e}", where) from None
    return [{k: _plain(v) for k, v in r.items()} for r in df.to_dict(orient="records")]


def _plain(value: Any) -> Any:
    """A Parquet cell as JSONL would give it: null and NaN (pandas reads a null float as NaN) are None,
    i.e. missing; arrays are lists."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value


def load_dataset(path: str | Path, reference_field: str = "reference", lang: str | None = None) -> Dataset:
    p = Path(path)
    where = str(path)
    kind = SUFFIXES.get(p.suffix.lower())
    if kind is None:
        raise DatasetError(f"unknown file type {p.suffix!r} (use .csv, .tsv, .jsonl or .parquet)", where)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise DatasetError("dataset file not found", where) from None
    if not data.strip():
        raise DatasetError("file is empty", where)
    encoding = None
    lines: list[int] = []
    if kind == "parquet":
        rows = _read_parquet(p, where)
    else:
        text, encoding = decode_text(data, where)
        del data  # the text is all that is read from now on (a big file is not held twice)
        if kind == "jsonl":
            rows, lines = _read_jsonl(text, where)
        else:
            rows = _read_csv(text, where, "\t" if p.suffix.lower() == ".tsv" else ",")
    if not rows:
        raise DatasetError("file has no data rows", where)
    dataset_kind = "rows"
    if kind == "jsonl" and is_conversation(rows[0]):
        rows = [parse_conversation(r, f"{where}:{n}") for r, n in zip(rows, lines)]
        dataset_kind = "conversations"
    columns = list(dict.fromkeys(k for r in rows for k in r))
    if dataset_kind == "rows":
        rows = Rows(rows)  # a tuple a row rather than a dict: 17 MB less at 100,000 rows
    lines = array("q", lines)  # 8 bytes a line number rather than an int object and its pointer
    ds = Dataset(p.stem, where, rows, columns, reference_field, "en", encoding, lines, dataset_kind)
    if lang in (None, "auto"):
        if dataset_kind == "conversations":
            texts = [" ".join([str(v) for v in r.values() if isinstance(v, str)]
                              + [m["content"] for m in r.get("messages", [])]) for r in rows[:200]]
            ds.lang = detect_lang(texts)
        else:
            ds.lang = _auto_lang(ds)
    else:
        ds.lang = lang
    return ds


REFERENCE_NAMES = ("reference", "references", "answer", "answers", "expected", "expected_output", "target", "gold",
                   "参考答案", "标准答案", "正确答案", "预期答案", "期望答案", "期望输出", "标准回答", "参考回答", "答案",
                   "回答", "答复", "回复", "参考",
                   "label", "response", "completion", "output", "text")
# Columns that hold what the model is asked, never the expected answer.
QUESTION_NAMES = ("question", "questions", "query", "prompt", "input", "instruction", "user", "问题", "提问", "问句",
                  "用户问题", "客户问题", "顾客问题", "输入", "查询", "指令")


def guess_reference(ds: Dataset) -> str | None:
    """The column most likely to hold the expected answer: a usual name (reference, answer, target…), else
    the text column with the longest values (an id or a title is never an answer). None if no text column."""
    by_name = {c.lower(): c for c in ds.columns}
    for name in REFERENCE_NAMES:
        if name in by_name:
            return by_name[name]
    sample = ds.rows[:200]
    lengths = {c: sum(len(r[c]) for r in sample if isinstance(r.get(c), str)) for c in ds.columns}
    texts = [c for c in ds.columns if lengths[c] and all(isinstance(r.get(c), (str, type(None))) for r in sample)
             and c.strip().lower() not in QUESTION_NAMES]
    return max(texts, key=lambda c: lengths[c], default=None)


def reference_problem(ds: Dataset, prompt_variables: set[str] | None = None) -> str | None:
    """Why the chosen reference column is probably not the expected answer (it is named like the question,
    or the prompt sends it to the model), or None."""
    ref = ds.reference_field
    if ref in (prompt_variables or set()):
        return f"the prompt sends {ref!r} to the model, so it is the question, not the expected answer"
    if ref.strip().lower() in QUESTION_NAMES:
        better = guess_reference(ds)
        hint = f" (the answers look like they are in {better!r})" if better and better != ref else ""
        return f"{ref!r} is named like the question, not the expected answer: choose the answer column{hint}"
    return None


def check_rows(ds: Dataset, required: set[str], need_reference: bool = False, needed_by: str | None = None,
               places: dict[str, list[str]] | None = None) -> None:
    """Raise DatasetError listing every missing variable with its rows, before any model call.

    `places` (from Prompt.variable_places) says where the prompt uses each variable: message and line."""
    by = f" needed by {needed_by}" if needed_by else ""
    fields = sorted(required | ({ds.reference_field} if need_reference else set()))
    absent = [f for f in fields if f not in ds.columns]
    if absent:
        named = [f"{f!r} ({'; '.join(places[f])})" if places and places.get(f) else repr(f) for f in absent]
        hint = ""
        if ds.reference_field in absent and ds.reference_field not in (places or {}):
            hint = (f"; the reference answer is read from {ds.reference_field!r}: name the column that holds it "
                    "with --reference FIELD (the Datasets page's Reference column)")
        raise DatasetError(
            f"missing column{'s' if len(absent) > 1 else ''} {', '.join(named)}{by} "
            f"(the file has: {', '.join(ds.columns)}){hint}",
            ds.path,
        )
    problems = []
    for f in fields:
        missing = [i for i, r in enumerate(ds.rows) if _missing(r.get(f)) or (f == ds.reference_field and r.get(f) == "")]
        if missing:
            shown = ", ".join(ds.place(i).rsplit(" ", 1)[-1].rsplit(":", 1)[-1] for i in missing[:10])
            more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
            problems.append(f"{f!r} missing in {'line' if ds.line_numbers else 'row'}s {shown}{more}")
    if problems:
        raise DatasetError("; ".join(problems) + by, ds.path)

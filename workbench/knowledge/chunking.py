"""Files to chunks, streamed: a 50 MB file is read a line (or a capped piece of a line) at a time.

- Markdown (.md, .markdown): split at headings (outside code fences), then packed paragraph by paragraph
  up to `max_chars`, each new chunk of a section starting with the last `overlap` characters of the one
  before. A chunk's title is its heading path ("Returns > Refunds").
- Text (anything else that is not a table): the same without headings.
- JSON Lines (.jsonl) and CSV (.csv): one chunk per row from `text_field` (FAQ files: one chunk per entry),
  `id_field` and `title_field` when present; a row longer than `max_chars` is split like a paragraph
  (ids ``faq-01#1``, ``faq-01#2``).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from workbench.authoring.datasets import decode_line
from workbench.errors import UserError

MAX_FILE_BYTES = 512 * 1024 * 1024
MAX_LINE_CHARS = 4 * 1024 * 1024  # one JSONL/CSV record
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_SENTENCE_END = re.compile(r"[.!?。！？；;\n]\s*")  # where a long paragraph is best cut
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Chunking:
    """How files become chunks; stored in a base's signature and hashed into its version."""

    max_chars: int = 800
    overlap: int = 100
    text_field: str = "text"
    id_field: str = "id"
    title_field: str = "title"

    def __post_init__(self):
        if self.max_chars < 50:
            raise UserError(f"chunk size must be at least 50 characters, got {self.max_chars}", setting="chunk_size")
        if not 0 <= self.overlap <= self.max_chars // 2:
            raise UserError(f"overlap must be between 0 and half the chunk size ({self.max_chars // 2}), "
                            f"got {self.overlap}", setting="overlap")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Chunk:
    id: str
    title: str
    text: str
    source: str  # file:line where it starts


def file_kind(path: str | Path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix in (".md", ".markdown"):
        return "markdown"
    if suffix in (".jsonl", ".csv"):
        return suffix[1:]
    return "text"


def check_file(path: str | Path) -> int:
    """The file's size, after checking it can be read and is under the cap (before reading it)."""
    p = Path(path)
    if not p.is_file():
        raise UserError("file not found", str(path))
    size = p.stat().st_size
    if size > MAX_FILE_BYTES:
        raise UserError(f"file has {size:,} bytes (limit {MAX_FILE_BYTES:,})", str(path))
    return size


def read_chunks(path: str | Path, chunking: Chunking) -> Iterator[Chunk]:
    """The chunks of one file, lazily. Bad input raises UserError naming file:line and the field."""
    kind = file_kind(path)
    name = Path(path).name
    try:
        with open(path, encoding="utf-8", newline="" if kind == "csv" else None) as f:
            if kind == "jsonl":
                yield from _jsonl_chunks(f, str(path), chunking)
            elif kind == "csv":
                yield from _csv_chunks(f, str(path), chunking)
            else:
                yield from _text_chunks(f, str(path), name, chunking, markdown=kind == "markdown")
    except UnicodeDecodeError as e:
        raise UserError(f"not UTF-8 (byte {e.start} of a read block)", str(path)) from None


def _capped_lines(f, where: str) -> Iterator[tuple[int, str]]:
    """(line number, line) with each line read whole, refusing one longer than MAX_LINE_CHARS."""
    n = 0
    while True:
        line = f.readline(MAX_LINE_CHARS + 1)
        if not line:
            return
        n += 1
        if len(line) > MAX_LINE_CHARS:
            raise UserError(f"line longer than {MAX_LINE_CHARS:,} characters", f"{where}:{n}")
        yield n, line


def _record_chunks(rec: dict, where: str, chunking: Chunking, default_id: str) -> Iterator[Chunk]:
    text = rec.get(chunking.text_field)
    if not isinstance(text, str) or not text.strip():
        raise UserError(f"field {chunking.text_field!r} must be non-empty text (see --text-field)", where)
    rid = rec.get(chunking.id_field)
    rid = default_id if rid is None or str(rid).strip() == "" else str(rid)
    title = rec.get(chunking.title_field)
    title = "" if title is None else str(title)
    pieces = list(split_text(text.strip(), chunking)) if len(text) > chunking.max_chars else [text.strip()]
    for i, piece in enumerate(pieces, 1):
        yield Chunk(rid if len(pieces) == 1 else f"{rid}#{i}", title, piece, where)


def _jsonl_chunks(f, where: str, chunking: Chunking) -> Iterator[Chunk]:
    name = Path(where).name
    for n, line in _capped_lines(f, where):
        if not line.strip():
            continue
        rec = decode_line(line, n, where)
        yield from _record_chunks(rec, f"{where}:{n}", chunking, f"{name}:{n}")


def _csv_chunks(f, where: str, chunking: Chunking) -> Iterator[Chunk]:
    name = Path(where).name
    csv.field_size_limit(MAX_LINE_CHARS)
    reader = csv.DictReader(f)
    try:
        if reader.fieldnames is None:
            return
        if chunking.text_field not in reader.fieldnames:
            raise UserError(f"no column {chunking.text_field!r} (columns: {', '.join(reader.fieldnames)}; "
                            "see --text-field)", f"{where}:1")
        start = reader.line_num + 1
        for rec in reader:
            yield from _record_chunks(rec, f"{where}:{start}", chunking, f"{name}:{start}")
            start = reader.line_num + 1
    except csv.Error as e:
        raise UserError(f"invalid CSV: {e}", f"{where}:{reader.line_num}") from None


def split_text(text: str, chunking: Chunking) -> Iterator[str]:
    """A long text as overlapping pieces of at most max_chars, cut at sentence or word breaks when possible."""
    packer = _Packer(chunking)
    for piece in _paragraph_pieces(text, chunking.max_chars - chunking.overlap):
        for chunk, _ in packer.add(piece, 0):
            yield chunk
    for chunk, _ in packer.flush():
        yield chunk


def _paragraph_pieces(text: str, cap: int) -> Iterator[str]:
    """`text` cut into pieces of at most `cap` characters, each at the last sentence end in its second half,
    else the last space there, else at the cap (Chinese without punctuation)."""
    while len(text) > cap:
        cut = cap
        for pattern in (_SENTENCE_END, _SPACE):
            found = [m.end() for m in pattern.finditer(text, cap // 2, cap)]
            if found:
                cut = found[-1]
                break
        yield text[:cut].strip()
        text = text[cut:]
    if text.strip():
        yield text.strip()


class _Packer:
    """Packs paragraphs into chunks of at most max_chars; a new chunk starts with the last `overlap`
    characters of the one before (from a word start), so a fact cut at a boundary is whole in one of them.
    Yields (text, line of its first new paragraph)."""

    def __init__(self, chunking: Chunking):
        self.max, self.overlap = chunking.max_chars, chunking.overlap
        self.parts: list[str] = []
        self.size = 0
        self.fresh = False  # holds text not yet emitted (beyond the overlap carried over)
        self.line = 0

    def add(self, paragraph: str, line: int) -> Iterator[tuple[str, int]]:
        if self.fresh and self.size + 2 + len(paragraph) > self.max:
            yield from self.flush(carry=True)
        if self.parts and self.size + 2 + len(paragraph) > self.max:  # the overlap alone does not fit with it
            self.parts, self.size = [], 0
        if not self.fresh:
            self.line = line
        self.parts.append(paragraph)
        self.size += len(paragraph) + (2 if len(self.parts) > 1 else 0)
        self.fresh = True

    def flush(self, carry: bool = False) -> Iterator[tuple[str, int]]:
        if self.fresh:
            text = "\n\n".join(self.parts)
            yield text, self.line
            tail = _tail(text, self.overlap) if carry else ""
            self.parts, self.size = ([tail], len(tail)) if tail else ([], 0)
        else:
            self.parts, self.size = [], 0
        self.fresh = False


def _tail(text: str, n: int) -> str:
    if n <= 0:
        return ""
    tail = text[-n:]
    space = tail.find(" ")
    if 0 <= space < len(tail) // 2 and not text[-n - 1:-n].isspace():
        tail = tail[space + 1:]  # start at a word, not mid-word
    return tail.strip()


def _text_chunks(f, where: str, name: str, chunking: Chunking, markdown: bool) -> Iterator[Chunk]:
    """Headings (Markdown) end a section; blank lines end a paragraph; a paragraph longer than a chunk is cut
    while it is read, so no line or paragraph is ever held whole."""
    cap = chunking.max_chars - chunking.overlap
    packer = _Packer(chunking)
    headings: list[str] = []
    para: list[str] = []
    para_len = 0
    para_line = 0
    in_fence = False
    count = 0
    line_no = 0
    at_line_start = True

    def emit(chunks: Iterator[tuple[str, int]]) -> Iterator[Chunk]:
        nonlocal count
        for text, line in chunks:
            count += 1
            yield Chunk(f"{name}#{count}", " > ".join(headings), text, f"{where}:{line}")

    def end_paragraph() -> Iterator[tuple[str, int]]:
        nonlocal para, para_len
        text = "".join(para).strip()
        para, para_len = [], 0
        if text:
            for piece in _paragraph_pieces(text, cap):
                yield from packer.add(piece, para_line)

    while True:
        piece = f.readline(cap)  # a piece of a line when the line is long
        if not piece:
            break
        line_start, at_line_start = at_line_start, piece.endswith("\n")
        if line_start:
            line_no += 1
        whole_line = line_start and (piece.endswith("\n") or len(piece) < cap)
        if markdown and line_start and _FENCE.match(piece):
            in_fence = not in_fence
        heading = _HEADING.match(piece) if markdown and whole_line and not in_fence else None
        if heading:
            yield from emit(end_paragraph())
            yield from emit(packer.flush())
            level = len(heading.group(1))
            headings[:] = headings[: level - 1] + [heading.group(2)]
            continue
        if whole_line and not piece.strip() and not in_fence:
            yield from emit(end_paragraph())
            continue
        if not para:
            para_line = line_no
        para.append(piece)
        para_len += len(piece)
        if para_len > cap:  # emit all but the unfinished last piece
            text = "".join(para)
            pieces = list(_paragraph_pieces(text, cap))
            rest = pieces.pop() if pieces else ""
            for p in pieces:
                yield from emit(packer.add(p, para_line))
            para_line = line_no
            para, para_len = ([rest + ("\n" if text.endswith("\n") else "")], len(rest)) if rest else ([], 0)
    yield from emit(end_paragraph())
    yield from emit(packer.flush())

"""Prompt files: parse, list their variables, render them to chat messages in a sandbox.

A prompt file is YAML (see prompts/): ``name``, ``description``, ``messages`` (each ``content`` a
Jinja template), few-shot ``examples`` kept as data, ``examples_as`` (``inline``: the template
loops over ``examples`` itself; ``turns``: each example becomes a user/assistant pair inserted after
the leading system messages, built from ``example_turns``) and default generation ``params``.

Templates are user input. They render in jinja2's ImmutableSandboxedEnvironment with
StrictUndefined, and because the sandbox alone does not stop ``{{ 'a' * 50000000 }}`` or a
billion-step loop, every operation that can build something big is checked before it runs, loops
check a deadline (authoring/sandbox.py), and the output is streamed against a size cap. Prompt files
are YAML with alias and size limits (authoring/yaml_limits.py).
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import yaml
from jinja2 import meta, nodes

from workbench.authoring import sandbox
from workbench.authoring.yaml_limits import load_yaml
from workbench.errors import TemplateError

MAX_TEMPLATE_CHARS = 100_000  # per message template
MAX_RENDERED_CHARS = sandbox.MAX_RESULT_CHARS  # per rendered prompt (all messages)
MAX_RENDER_SECONDS = sandbox.RENDER_SECONDS
MAX_PROMPT_FILE_CHARS = 5_000_000
ROLES = ("system", "user", "assistant")
RESERVED = {"examples"}  # provided by the prompt itself, not by dataset rows

_RenderLimit = sandbox.RenderLimit
_ENV = sandbox.BoundedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=False)


@dataclass
class Message:
    role: str
    content: str  # a Jinja template


@dataclass
class Prompt:
    """A parsed prompt file. `version` is the content hash that identifies it in the store."""

    name: str
    messages: list[Message]
    description: str = ""
    examples: list[dict[str, Any]] = field(default_factory=list)
    examples_as: str = "inline"
    example_turns: dict[str, str] = field(default_factory=lambda: {"user": "{{ question }}", "assistant": "{{ answer }}"})
    params: dict[str, Any] = field(default_factory=dict)
    path: str = "<prompt>"
    knowledge: dict[str, Any] | None = None  # {base, query, k, method}: see knowledge_section

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "description": self.description}
        d["messages"] = [{"role": m.role, "content": m.content} for m in self.messages]
        if self.examples:
            d["examples_as"] = self.examples_as
            if self.examples_as == "turns":
                d["example_turns"] = dict(self.example_turns)
            d["examples"] = self.examples
        if self.params:
            d["params"] = dict(self.params)
        if self.knowledge:
            d["knowledge"] = dict(self.knowledge)
        return d

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True, width=100)

    @property
    def version(self) -> str:
        """Hash of everything that changes what the model sees (not the name or description)."""
        d = self.to_dict()
        d.pop("name"), d.pop("description")
        blob = json.dumps(d, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def _templates(self) -> list[tuple[str, str]]:
        """(place, source) for every template, places as users see them in errors."""
        out = [(f"message {i + 1}", m.content) for i, m in enumerate(self.messages)]
        if self.examples and self.examples_as == "turns":
            out += [(f"example_turns.{k}", v) for k, v in self.example_turns.items()]
        if self.knowledge:  # last, so the first len(messages) are the messages
            out.append(("knowledge.query", self.knowledge["query"]))
        return out

    def fullwidth_warnings(self) -> list[str]:
        """Full-width braces (｛｛ question ｝｝, as a Chinese input method types them) are plain text to Jinja:
        the row's value never goes in. One line per place, with the fix."""
        out = []
        for place, src in self._templates():
            for m in FULLWIDTH_TAG.finditer(src):
                if "｛" not in m.group(0) and "｝" not in m.group(0):
                    continue
                line = src.count("\n", 0, m.start()) + 1
                name = re.search(r"[\w.]+", m.group(0)[2:-2])
                fix = f"{{{{ {name.group(0)} }}}}" if name else "{{ … }}"
                out.append(f"{place}, line {line}: {m.group(0)!r} has full-width braces, so it is sent as typed "
                           f"and never filled in; write {fix} with ASCII braces")
        return out

    def compiled(self) -> list[tuple[str, jinja2.Template]]:
        return [(place, _compile(src, f"{self.path}: {place}")) for place, src in self._templates()]

    def variables(self) -> tuple[set[str], set[str]]:
        """(required, optional) variables a dataset row must or may supply."""
        required: set[str] = set()
        optional: set[str] = set()
        for place, src in self._templates():
            if place.startswith("example_turns"):
                continue  # filled from examples, not dataset rows
            ast = _parse(src, f"{self.path}: {place}")
            names = meta.find_undeclared_variables(ast) - RESERVED - set(_ENV.globals)
            if self.knowledge:
                names.discard("passages")  # retrieved per row, not read from it
            soft = _optional_names(ast)
            required |= names - soft
            optional |= names & soft
        return required, optional - required

    def variable_places(self, names: set[str]) -> dict[str, list[str]]:
        """Where each of `names` is used, as errors name places: {'foo': ['message 2, line 1']}."""
        out: dict[str, list[str]] = {n: [] for n in sorted(names)}
        for place, src in self._templates():
            if place.startswith("example_turns"):
                continue
            for node in _parse(src, f"{self.path}: {place}").find_all(nodes.Name):
                spot = f"{place}, line {node.lineno}"
                if node.name in out and spot not in out[node.name]:
                    out[node.name].append(spot)
        return out

    def render(self, row: dict[str, Any]) -> list[dict[str, str]]:
        """Render to chat messages for one dataset row. Raises TemplateError naming file, message, line."""
        return next(self.render_rows([row]))

    def render_rows(self, rows: Iterable[dict[str, Any]]) -> Iterator[list[dict[str, str]]]:
        """`render` for each row, lazily (an error is raised when its row is reached). What does not
        depend on the row, the example turns and messages that use no row variable, is rendered once."""
        sandbox.start()  # for the row-independent part
        turns = self._example_turns_memo() if self.examples and self.examples_as == "turns" else []
        n_system = next((i for i, m in enumerate(self.messages) if m.role != "system"), len(self.messages))
        templates = self.compiled()[: len(self.messages)]
        fixed: dict[int, str] = {}
        for i, (place, tpl) in enumerate(templates):
            if not _row_variables(self.messages[i].content, f"{self.path}: {place}"):
                fixed[i] = _render_one(tpl, {"examples": self.examples}, f"{self.path}: {place}", 0)
        wheres = [f"{self.path}: {place}" for place, _ in templates]
        for row in rows:
            context = None  # Jinja's, made when a message needs Jinja (see _substitute)
            rendered: list[dict[str, str]] = []
            sandbox.start()
            total = 0
            for i, (_, tpl) in enumerate(templates):
                if i == n_system:
                    rendered.extend(dict(m) for m in turns)
                text = fixed.get(i)
                if text is None:
                    text = _substitute(self.messages[i].content, wheres[i], row, total)
                if text is None:
                    context = context or {**row, "examples": self.examples}
                    text = _render_one(tpl, context, wheres[i], total)
                elif total + len(text) > MAX_RENDERED_CHARS:
                    raise TemplateError(f"rendered prompt exceeds {MAX_RENDERED_CHARS:,} characters", wheres[i])
                total += len(text)
                rendered.append({"role": self.messages[i].role, "content": text})
            if n_system == len(self.messages):
                rendered.extend(dict(m) for m in turns)
            yield rendered

    def render_query(self, row: dict[str, Any]) -> str:
        """The `knowledge.query` template rendered for one row (in the sandbox, like the messages)."""
        where = f"{self.path}: knowledge.query"
        sandbox.start()
        return _render_one(_compile(self.knowledge["query"], where), {**row, "examples": self.examples}, where, 0)

    def _example_turns_memo(self) -> list[dict[str, str]]:
        """The example turns do not depend on the row: render them once per content (the app edits prompts
        in place, so the memo is keyed by what they are made of)."""
        key = json.dumps([self.examples, self.example_turns, self.path], sort_keys=True, ensure_ascii=False,
                         default=str)
        memo = self.__dict__.get("_turns_memo")
        if memo is None or memo[0] != key:
            memo = (key, self._example_turns())
            self.__dict__["_turns_memo"] = memo
        return memo[1]

    def _example_turns(self) -> list[dict[str, str]]:
        user = _compile(self.example_turns["user"], f"{self.path}: example_turns.user")
        assistant = _compile(self.example_turns["assistant"], f"{self.path}: example_turns.assistant")
        out = []
        for j, ex in enumerate(self.examples):
            where = f"{self.path}: example {j + 1}"
            out.append({"role": "user", "content": _render_one(user, ex, where, 0)})
            out.append({"role": "assistant", "content": _render_one(assistant, ex, where, 0)})
        return out


# What looks like a variable tag, braces ASCII or full-width (U+FF5B/U+FF5D); kept when one is full-width.
FULLWIDTH_TAG = re.compile(r"[{｛]{2}[^{}｛｝\n]{0,80}[}｝]{2}")


def _parse(source: str, where: str) -> nodes.Template:
    if len(source) > MAX_TEMPLATE_CHARS:
        raise TemplateError(f"template has {len(source):,} characters (limit {MAX_TEMPLATE_CHARS:,})", where)
    try:
        return _ENV.parse(source)
    except jinja2.TemplateSyntaxError as e:
        raise TemplateError(f"syntax error: {e.message}", f"{where}, line {e.lineno}") from None


@functools.lru_cache(maxsize=1024)
def _compile(source: str, where: str) -> jinja2.Template:
    _parse(source, where)
    return _ENV.from_string(source)


@functools.lru_cache(maxsize=1024)
def _row_variables(source: str, where: str) -> frozenset[str]:
    """Names a template takes from the dataset row (every undeclared name but `examples`)."""
    return frozenset(meta.find_undeclared_variables(_parse(source, where)) - RESERVED - set(_ENV.globals))


@functools.lru_cache(maxsize=1024)
def _plain(source: str, where: str) -> tuple[str | nodes.Name, ...] | None:
    """A template made only of text and ``{{ name }}``: its parts (text, or the Name); else None."""
    body = _parse(source, where).body
    if not body:
        return ()
    if len(body) != 1 or not isinstance(body[0], nodes.Output):
        return None
    parts = body[0].nodes
    if not all(isinstance(n, nodes.TemplateData) or (isinstance(n, nodes.Name) and n.ctx == "load") for n in parts):
        return None
    return tuple(n.data if isinstance(n, nodes.TemplateData) else n for n in parts)


def _substitute(source: str, where: str, row: dict[str, Any], used: int) -> str | None:
    """A plain template (_plain) rendered by substitution when every name is a string of the row: what Jinja
    renders, ~10x faster (most prompts' user message is `{{ question }}`). None: render it with Jinja (a
    missing or non-string value, a size limit: Jinja then says what is wrong, as always)."""
    parts = _plain(source, where)
    if parts is None:
        return None
    out = []
    for part in parts:
        if isinstance(part, str):
            out.append(part)
            continue
        value = row.get(part.name) if part.name not in RESERVED else None
        if type(value) is not str:
            return None
        try:
            sandbox.spend(len(value), "output")  # what _finalize_output counts for a {{ value }}
        except _RenderLimit:
            return None
        out.append(value)
    text = "".join(out)
    return text if used + len(text) <= MAX_RENDERED_CHARS else None


def _optional_names(ast: nodes.Template) -> set[str]:
    """Names used as `x | default(...)` or tested with `x is defined`: rows may omit them."""
    soft = set()
    for f in ast.find_all(nodes.Filter):
        if f.name in ("default", "d") and isinstance(f.node, nodes.Name):
            soft.add(f.node.name)
    for t in ast.find_all(nodes.Test):
        if t.name in ("defined", "undefined", "none") and isinstance(t.node, nodes.Name):
            soft.add(t.node.name)
    return soft


def _template_line(tb) -> int | None:
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _render_one(tpl: jinja2.Template, context: dict[str, Any], where: str, used: int) -> str:
    parts: list[str] = []
    size = used
    try:
        for chunk in tpl.generate(context):
            size += len(chunk)
            if size > MAX_RENDERED_CHARS:
                raise _RenderLimit(f"rendered prompt exceeds {MAX_RENDERED_CHARS:,} characters")
            sandbox.check_deadline()
            parts.append(chunk)
    except _RenderLimit as e:
        raise TemplateError(str(e), _at(where, e)) from None
    except jinja2.UndefinedError as e:
        raise TemplateError(f"undefined variable: {e.message}", _at(where, e)) from None
    except jinja2.exceptions.SecurityError as e:
        raise TemplateError(f"blocked by the sandbox: {e}", _at(where, e)) from None
    except RecursionError as e:
        raise TemplateError("template recursion too deep", _at(where, e)) from None
    except (TypeError, ValueError, ZeroDivisionError, AttributeError, OverflowError, MemoryError) as e:
        raise TemplateError(f"{type(e).__name__}: {e}", _at(where, e)) from None
    return "".join(parts)


def _at(where: str, exc: BaseException) -> str:
    line = _template_line(exc.__traceback__)
    return f"{where}, line {line}" if line else where


def _require(cond: bool, message: str, where: str) -> None:
    if not cond:
        raise TemplateError(message, where)


def prompt_from_dict(data: Any, path: str = "<prompt>") -> Prompt:
    """Validate the structure of a parsed prompt file; every problem names the file and key."""
    _require(isinstance(data, dict), "a prompt file must be a mapping with `name` and `messages`", path)
    _require(isinstance(data.get("messages"), list) and data["messages"], "`messages` must be a non-empty list", path)
    unknown = set(data) - {"name", "description", "messages", "examples", "examples_as", "example_turns", "params",
                           "knowledge"}
    _require(not unknown, f"unknown keys: {', '.join(sorted(unknown))}", path)
    messages = []
    for i, m in enumerate(data["messages"], 1):
        where = f"{path}: message {i}"
        _require(isinstance(m, dict) and isinstance(m.get("content"), str), "needs `role` and string `content`", where)
        _require(m.get("role") in ROLES, f"role must be one of {', '.join(ROLES)}, got {m.get('role')!r}", where)
        messages.append(Message(m["role"], m["content"]))
    examples = data.get("examples") or []
    _require(isinstance(examples, list) and all(isinstance(e, dict) for e in examples),
             "`examples` must be a list of records", path)
    examples_as = data.get("examples_as", "inline")
    _require(examples_as in ("inline", "turns"), "`examples_as` must be `inline` or `turns`", path)
    params = data.get("params") or {}
    _require(isinstance(params, dict), "`params` must be a mapping", path)
    prompt = Prompt(
        name=str(data.get("name") or Path(path).stem),
        description=str(data.get("description") or ""),
        messages=messages,
        examples=examples,
        examples_as=examples_as,
        params=params,
        path=path,
        knowledge=knowledge_section(data.get("knowledge"), path),
    )
    if "example_turns" in data:
        turns = data["example_turns"]
        _require(isinstance(turns, dict) and {"user", "assistant"} <= set(turns),
                 "`example_turns` needs `user` and `assistant` templates", path)
        prompt.example_turns = {"user": str(turns["user"]), "assistant": str(turns["assistant"])}
    prompt.compiled()  # syntax errors surface at load time, with their line
    return prompt


KNOWLEDGE_METHODS = ("bm25", "dense", "hybrid")  # dense and hybrid: English only (see workbench.knowledge.dense)


def knowledge_section(section: Any, path: str) -> dict[str, Any] | None:
    """`knowledge: {base: NAME, query: "{{ question }}", k: 3, method: bm25}`: passages retrieved per row."""
    if section is None:
        return None
    where = f"{path}: knowledge"
    _require(isinstance(section, dict), "`knowledge` must be a mapping with `base`", where)
    unknown = set(section) - {"base", "query", "k", "method"}
    _require(not unknown, f"unknown keys: {', '.join(sorted(unknown))}", where)
    _require(isinstance(section.get("base"), str) and section["base"].strip() != "", "needs `base`: a knowledge "
             "base name (workbench kb list)", where)
    query = section.get("query", "{{ question }}")
    _require(isinstance(query, str) and query.strip() != "", "`query` must be a template", where)
    k = section.get("k", 3)
    _require(isinstance(k, int) and not isinstance(k, bool) and 1 <= k <= 50, f"`k` must be 1-50, got {k!r}", where)
    method = section.get("method", "bm25")
    _require(method in KNOWLEDGE_METHODS, f"`method` {method!r} is not available (this version retrieves with: "
             f"{', '.join(KNOWLEDGE_METHODS)})", where)
    return {"base": section["base"], "query": query, "k": k, "method": method}


def parse_prompt(text: str, path: str = "<prompt>") -> Prompt:
    if len(text) > MAX_PROMPT_FILE_CHARS:
        raise TemplateError(f"prompt file has {len(text):,} characters (limit {MAX_PROMPT_FILE_CHARS:,})", path)
    try:
        data = load_yaml(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else path
        context, cmark = getattr(e, "context", None), getattr(e, "context_mark", None)
        started = f" ({context} that starts on line {cmark.line + 1})" if context and cmark else ""
        raise TemplateError(f"invalid YAML: {getattr(e, 'problem', e)}{started}", where) from None
    return prompt_from_dict(data, path)


def read_utf8(path: str | Path, kind: str) -> str:
    """A prompt or rubric file's text; a missing or non-UTF-8 file is one TemplateError naming it."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TemplateError(f"{kind} file not found", str(path)) from None
    except UnicodeDecodeError:
        raise TemplateError(f"{kind} file is not UTF-8", str(path)) from None


def load_prompt(path: str | Path) -> Prompt:
    return parse_prompt(read_utf8(path, "prompt"), str(path))

"""Judge rubrics: YAML files in prompts/judges/ that turn an answer into a judge's prompt.

A rubric file holds ``name``, ``description``, ``scale`` (``1-5`` or ``pass/fail``), ``criteria`` (text, what
each score means), ``template`` (Jinja over ``question``, ``answer``, ``reference``, ``references``, the row's
own fields, ``prompt`` (the last user message the answer replied to) and, for knowledge prompts,
``passages``), an optional ``pairwise_template`` (over ``question``, ``answer_a``, ``answer_b``,
``reference``...) and ``lang`` (``en`` or ``zh``: the language of the instructions wrapped around it).

Language: the bundled rubrics come in pairs, ``correctness`` and ``correctness_zh``; a rubric's ``lang`` picks
the instructions (English or Chinese) that ask for the JSON reply. Nothing is picked automatically: the user
names the rubric, so a score's label says which one judged.

The judge is asked for a JSON object ``{"reasoning": "...", "score": N}`` (pairwise: ``"winner": "A" | "B" |
"tie"``). Templates render through the same sandbox as prompts (workbench.authoring.templates). A bad file
is one TemplateError naming file:line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from workbench.authoring.templates import Message, Prompt, _compile, read_utf8
from workbench.authoring.yaml_limits import load_yaml
from workbench.errors import TemplateError, UserError

RUBRIC_DIR = Path("prompts/judges")
SCALES = ("1-5", "pass/fail")
LANGS = ("en", "zh")
KEYS = {"name", "description", "scale", "criteria", "template", "pairwise_template", "lang"}
MAX_RUBRIC_CHARS = 200_000
_REPO = Path(__file__).resolve().parents[2]

_INSTRUCTIONS = {
    "en": ("You are a strict, fair evaluator. {description}\n\nCriteria:\n{criteria}\n\n"
           "Think about the answer against the criteria, then reply with ONLY a JSON object, no other text: "
           '{{"reasoning": "<two or three sentences>", "score": {score}}}'),
    "zh": ("你是一位严格而公正的评审。{description}\n\n评分标准：\n{criteria}\n\n"
           "请对照评分标准思考这个回答，然后只回复一个 JSON 对象，不要有其他文字："
           '{{"reasoning": "<两三句话的理由>", "score": {score}}}'),
}
_SCORE_HINT = {"1-5": "<an integer from 1 to 5>", "pass/fail": '<"pass" or "fail">'}
_SCORE_HINT_ZH = {"1-5": "<1 到 5 的整数>", "pass/fail": '<"pass" 或 "fail">'}
_PAIRWISE = {
    "en": ("You are a strict, fair evaluator comparing two answers to the same request. {description}\n\n"
           "Criteria:\n{criteria}\n\nThe order in which the answers are shown says nothing about their quality. "
           "Reply with ONLY a JSON object, no other text: "
           '{{"reasoning": "<two or three sentences>", "winner": "A" or "B" or "tie"}}'),
    "zh": ("你是一位严格而公正的评审，要比较同一请求的两个回答。{description}\n\n评分标准：\n{criteria}\n\n"
           "回答出现的先后顺序与质量无关。只回复一个 JSON 对象，不要有其他文字："
           '{{"reasoning": "<两三句话的理由>", "winner": "A" 或 "B" 或 "tie"}}'),
}
_PAIRWISE_TEMPLATE = {
    "en": ("Request: {{ question | default(prompt) }}\n{% if reference is defined and reference %}"
           "Reference answer: {{ reference }}\n{% endif %}\n[Answer A]\n{{ answer_a }}\n\n[Answer B]\n{{ answer_b }}"),
    "zh": ("请求：{{ question | default(prompt) }}\n{% if reference is defined and reference %}"
           "参考答案：{{ reference }}\n{% endif %}\n【回答 A】\n{{ answer_a }}\n\n【回答 B】\n{{ answer_b }}"),
}


@dataclass(frozen=True)
class Rubric:
    name: str
    description: str
    scale: str
    criteria: str
    template: str
    lang: str = "en"
    pairwise_template: str | None = None
    path: str = "<rubric>"

    @property
    def bounds(self) -> tuple[float, float]:
        return (1.0, 5.0) if self.scale == "1-5" else (0.0, 1.0)

    def _system(self, pairwise: bool) -> str:
        # The criteria are text, not a template: kept out of Jinja by {% raw %} (a closing tag in them is refused
        # at load time).
        hint = (_SCORE_HINT_ZH if self.lang == "zh" else _SCORE_HINT)[self.scale]
        text = (_PAIRWISE if pairwise else _INSTRUCTIONS)[self.lang].format(
            description=self.description, criteria=self.criteria.strip(), score=hint)
        return "{% raw %}" + text + "{% endraw %}"

    def prompt(self, params: dict[str, Any] | None = None) -> Prompt:
        """The judge's prompt for one answer: the instructions as system message, the template as user message."""
        return Prompt(f"judge:{self.name}", [Message("system", self._system(False)), Message("user", self.template)],
                      description=self.description, params=dict(params or {}), path=self.path)

    def pairwise_prompt(self, params: dict[str, Any] | None = None) -> Prompt:
        """The judge's prompt for two answers (A, B) to one request."""
        template = self.pairwise_template or _PAIRWISE_TEMPLATE[self.lang]
        return Prompt(f"judge-pairwise:{self.name}", [Message("system", self._system(True)),
                                                      Message("user", template)],
                      description=self.description, params=dict(params or {}), path=self.path)

    def json_schema(self, pairwise: bool = False) -> dict[str, Any]:
        """response_format for servers with structured output (OpenAI's json_schema)."""
        if pairwise:
            answer: dict[str, Any] = {"type": "string", "enum": ["A", "B", "tie"]}
            key = "winner"
        else:
            answer = ({"type": "integer", "minimum": 1, "maximum": 5} if self.scale == "1-5"
                      else {"type": "string", "enum": ["pass", "fail"]})
            key = "score"
        return {"type": "json_schema", "json_schema": {
            "name": "judgement", "strict": True,
            "schema": {"type": "object", "properties": {"reasoning": {"type": "string"}, key: answer},
                       "required": ["reasoning", key], "additionalProperties": False}}}


def rubric_path(name: str) -> Path:
    """A rubric by name (prompts/judges/NAME.yaml here, else the bundled one) or by path."""
    if name.endswith((".yaml", ".yml")) or "/" in name:
        return Path(name)
    for base in (RUBRIC_DIR, _REPO / RUBRIC_DIR):
        for ext in (".yaml", ".yml"):
            if (base / f"{name}{ext}").is_file():
                return base / f"{name}{ext}"
    known = ", ".join(list_rubrics()) or "none"
    raise UserError(f"no rubric named {name!r} in {RUBRIC_DIR}/ (known: {known})", setting="rubric")


def list_rubrics() -> list[str]:
    names: set[str] = set()
    for base in (RUBRIC_DIR, _REPO / RUBRIC_DIR):
        if base.is_dir():
            names |= {p.stem for p in base.iterdir() if p.suffix in (".yaml", ".yml")}
    return sorted(names)


def load_rubric(name: str) -> Rubric:
    path = rubric_path(name)
    return parse_rubric(read_utf8(path, "rubric"), str(path))


def parse_rubric(text: str, path: str = "<rubric>") -> Rubric:
    """A rubric from its YAML text; every problem is one TemplateError naming path:line."""
    if len(text) > MAX_RUBRIC_CHARS:
        raise TemplateError(f"rubric file has {len(text):,} characters (limit {MAX_RUBRIC_CHARS:,})", path)
    try:
        data = load_yaml(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise TemplateError(f"invalid YAML: {getattr(e, 'problem', e)}", f"{path}:{mark.line + 1}" if mark else path) \
            from None
    lines = _key_lines(text)

    def at(key: str | None) -> str:
        return f"{path}:{lines.get(key, (1, 1))[0]}" if key else f"{path}:1"

    if not isinstance(data, dict):
        raise TemplateError("a rubric file is a mapping with name, scale, criteria and template", at(None))
    unknown = sorted(set(data) - KEYS)
    if unknown:
        raise TemplateError(f"unknown key {unknown[0]!r} (known: {', '.join(sorted(KEYS))})", at(unknown[0]))
    for key in ("scale", "criteria", "template"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise TemplateError(f"`{key}` is required (text)", at(key if key in data else None))
    if data["scale"] not in SCALES:
        raise TemplateError(f"`scale` must be one of {', '.join(SCALES)}, got {data['scale']!r}", at("scale"))
    lang = data.get("lang", "en")
    if lang not in LANGS:
        raise TemplateError(f"`lang` must be one of {', '.join(LANGS)}, got {lang!r}", at("lang"))
    if "endraw" in data["criteria"] or "endraw" in str(data.get("description", "")):
        raise TemplateError("criteria and description are plain text: `endraw` is not allowed in them", at("criteria"))
    pairwise = data.get("pairwise_template")
    if pairwise is not None and not isinstance(pairwise, str):
        raise TemplateError("`pairwise_template` must be text", at("pairwise_template"))
    for key in ("template", "pairwise_template"):
        if isinstance(data.get(key), str):
            _check_template(data[key], path, key, lines.get(key, (1, 1)))
    return Rubric(str(data.get("name") or Path(path).stem), str(data.get("description") or "").strip(),
                  data["scale"], data["criteria"], data["template"], lang, pairwise, path)


def _key_lines(text: str) -> dict[str, tuple[int, int]]:
    """Top-level key -> (its line, the line its value's text starts on), 1-based."""
    try:
        node = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError:
        return {}
    out: dict[str, tuple[int, int]] = {}
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            block = isinstance(v, yaml.ScalarNode) and v.style in ("|", ">")
            out[str(k.value)] = (k.start_mark.line + 1, v.start_mark.line + 1 + block)
    return out


def _check_template(source: str, path: str, key: str, lines: tuple[int, int]) -> None:
    try:
        _compile(source, key)
    except TemplateError as e:
        inner = (e.where or "").rpartition("line ")[2]
        line = lines[1] + int(inner) - 1 if inner.isdigit() else lines[0]
        raise TemplateError(f"`{key}`: {e.message}", f"{path}:{line}") from None

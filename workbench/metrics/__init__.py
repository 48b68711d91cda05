"""Metrics: the registry (entry-point group ``workbench.metrics``), metric sets as users type them and
as runs store them, and scoring.

Scale: quality scores (exact, contains, regex, json_valid, bleu, chrf, rouge1/2/L) are in [0, 1].
Measurements keep their unit: length (characters), latency_ms, tokens_out.
An output that errored gets no scores; `show` counts errors separately.
ALL, NEEDS_REFERENCE, LOWER_IS_BETTER, HIGHER_IS_BETTER, UNIT_INTERVAL (sets of names) and UNITS
(name -> unit) are read from the registered classes, plugins included, when used.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from collections.abc import Set as AbstractSet
from typing import Any

from workbench.errors import UserError
from workbench.metrics.base import Metric, MetricSet, batch_memo, check_class
from workbench.plugins import Registry

__all__ = ["DEFAULT", "REGISTRY", "Metric", "MetricSet", "base_name", "batch_memo", "dataset_signatures", "metric_class", "metric_set",
           "parse_metrics", "reference_count", "score", "signatures", "with_gold_passage"]

DEFAULT = ["exact", "contains", "bleu", "chrf", "rouge1", "rouge2", "rougeL", "length", "latency_ms", "tokens_out"]
ALIASES = {"rouge": ("rouge1", "rouge2", "rougeL")}
# The built-ins, as pyproject.toml declares them (see workbench.plugins.Registry for why they are also here).
BUILTIN = {name: f"workbench.metrics.builtin:{cls}" for name, cls in [
    ("exact", "Exact"), ("contains", "Contains"), ("regex", "Regex"), ("json_valid", "JsonValid"),
    ("bleu", "Bleu"), ("chrf", "Chrf"), ("chrfpp", "ChrfPP"), ("corpus_bleu", "CorpusBleu"),
    ("corpus_chrf", "CorpusChrf"),
    ("rouge1", "Rouge1"), ("rouge1_p", "Rouge1P"), ("rouge1_r", "Rouge1R"),
    ("rouge2", "Rouge2"), ("rouge2_p", "Rouge2P"), ("rouge2_r", "Rouge2R"),
    ("rougeL", "RougeL"), ("rougeL_p", "RougeLP"), ("rougeL_r", "RougeLR"),
    ("rougeLsum", "RougeLsum"), ("rougeLsum_p", "RougeLsumP"), ("rougeLsum_r", "RougeLsumR"),
    ("length", "Length"), ("latency_ms", "LatencyMs"), ("tokens_out", "TokensOut")]}
BUILTIN.update({name: f"workbench.metrics.retrieval:{cls}" for name, cls in [
    ("retrieval_hit", "RetrievalHit"), ("retrieval_mrr", "RetrievalMrr"), ("retrieval_recall", "RetrievalRecall"),
    ("grounded", "Grounded")]})
BUILTIN["semsim"] = "workbench.metrics.semsim:SemSim"
BUILTIN["check"] = "workbench.metrics.checks:CheckMetric"  # --check TEXT: a 0/1 metric named after TEXT
BUILTIN["judge"] = "workbench.metrics.judge:JudgeMetric"  # judge:RUBRIC, scored by a model (evaluation/judging.py)
REGISTRY = Registry("workbench.metrics", BUILTIN, "metric")


def metric_class(name: str) -> type[Metric]:
    return check_class(REGISTRY.load(name, "metrics"), name)


def _make(name: str, options: dict[str, Any]) -> Metric:
    if name.startswith("judge:"):  # judge:RUBRIC is the judge metric with that rubric
        name, options = "judge", {"rubric": name.partition(":")[2], **options}
    if name not in REGISTRY:
        raise UserError(f"unknown metric {name!r} (known: {', '.join(REGISTRY.names())}, "
                        f"{', '.join(ALIASES)}; regex=PATTERN; judge:RUBRIC)", setting="metrics")
    return metric_class(name)(**options)


def parse_metrics(values: list[str] | str | None) -> MetricSet:
    """What a user types: `bleu,chrf` or several values; `rouge` is rouge1, rouge2 and rougeL. A value that
    starts with `NAME=` gives metric NAME's first option the rest of the value, commas included
    (`regex=^\\d+,\\d+$`). `NAME(opt=value,...)` sets options by name (`bleu(tok=intl,smooth=floor)`,
    `rouge(stem=yes)`). None: the DEFAULT set."""
    if values is None:
        return MetricSet(tuple(_make(n, {}) for n in DEFAULT))
    if isinstance(values, str):
        values = [values]
    made: dict[str, Metric] = {}
    for value in values:
        head = value.partition("=")[0]
        items = [value] if "=" in value and "," not in head and "(" not in head else _split_top(value)
        for item in items:
            name, eq, option = item.partition("=")
            if eq and "(" not in name:
                m = _with_option(name.strip(), option)
                made[m.label] = m
                continue
            base, options = _call(item)
            for name in ALIASES.get(base, (base,) if base else ()):
                m = _make(name, options)
                made.setdefault(m.label, m)
    return MetricSet(tuple(made.values()))


def _split_top(value: str) -> list[str]:
    """`bleu(tok=intl,smooth=floor),chrf` -> the two items: commas inside parentheses stay."""
    items, depth, start = [], 0, 0
    for i, c in enumerate(value):
        depth += (c == "(") - (c == ")")
        if c == "," and depth == 0:
            items.append(value[start:i].strip())
            start = i + 1
    items.append(value[start:].strip())
    return [i for i in items if i]


def _call(item: str) -> tuple[str, dict[str, str]]:
    """`bleu(tok=intl, smooth=floor)` -> ("bleu", {"tok": "intl", "smooth": "floor"}); `bleu` -> ("bleu", {})."""
    name, paren, rest = item.partition("(")
    if not paren:
        return item.strip(), {}
    if not rest.endswith(")"):
        raise UserError(f"metric {item!r}: options go in parentheses, e.g. bleu(tok=intl,smooth=floor)", setting="metrics")
    options: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in rest[:-1].split(","))):
        key, eq, val = part.partition("=")
        if not eq or not key.strip():
            raise UserError(f"metric {item!r}: option {part!r} is not NAME=VALUE", setting="metrics")
        options[key.strip()] = val.strip()
    return name.strip(), options


def base_name(label: str) -> str:
    """The registered name of a score's label: `bleu(tok=intl)` -> `bleu`, `judge:correctness` -> `judge`."""
    name = label.partition("(")[0]
    return "judge" if name.startswith("judge:") else name


def dataset_signatures(metrics: MetricSet, dataset: Any, rows: Sequence[int]) -> dict[str, str]:
    """signatures() for these rows of a dataset (its `lang`, and nrefs counted from `references(row)`)."""
    return metrics.signatures(dataset.lang, reference_count([dataset.references(r) for r in rows]))


def reference_count(references_lists: Sequence[Sequence[str]]) -> int | str:
    """What sacrebleu's signature calls nrefs for these rows: the number of references when every row
    with references has that many, 'var' when they differ (rows without references are not scored)."""
    counts = {len(refs) for refs in references_lists if refs}
    return counts.pop() if len(counts) == 1 else ("var" if counts else 1)


def _with_option(name: str, value: str) -> Metric:
    """`NAME=VALUE`: VALUE is the metric's first declared option (regex: its pattern)."""
    if name not in REGISTRY:
        return _make(name, {})  # the unknown-metric error
    cls = metric_class(name)
    if not cls.options:
        raise UserError(f"metric {name!r} takes no option (got {name}={value})", setting="metrics")
    return cls(**{next(iter(cls.options)): value})


def metric_set(stored: str | list[dict[str, Any]], where: str = "runs.metrics") -> MetricSet:
    """The one reader of a stored metric set: JSON (or its decoded list) of {"name": ..., option: value}."""
    try:
        specs = json.loads(stored) if isinstance(stored, str) else stored
    except ValueError:
        specs = None
    if not isinstance(specs, list) or not all(isinstance(s, dict) and isinstance(s.get("name"), str) for s in specs):
        raise UserError(f"not a stored metric set (a JSON list of objects with a name): {str(stored)[:200]}", where)
    return MetricSet(tuple(_make(s["name"], {k: v for k, v in s.items() if k != "name"}) for s in specs))


def with_gold_passage(metrics: MetricSet, field: str | None) -> MetricSet:
    """The set with its retrieval metrics (retrieval_hit, _mrr, _recall) reading gold passage ids from
    dataset field `field` (`--gold-passage`); None leaves it as it is (default `faq_id`)."""
    if field is None:
        return metrics
    takes = [m for m in metrics.metrics if "gold" in m.options]
    if not takes:
        raise UserError("a gold passage field is read by retrieval_hit, retrieval_mrr and retrieval_recall: "
                        "add one of them to the metrics", setting="gold_passage")
    return MetricSet(tuple(type(m)(**{**m.config, "gold": field}) if m in takes else m for m in metrics.metrics))


def score(prediction: str, references: list[str], metrics: MetricSet, lang: str = "en",
          latency_ms: float | None = None, tokens_out: int | None = None, passages: list[dict] | None = None,
          row: dict | None = None) -> dict[str, float]:
    """Scores of one output (metrics.batch scores many at once, with the same values); `passages` (retrieved
    for it, each with an `id` and `text`) and `row` (its dataset row) for the retrieval metrics."""
    return metrics.score_batch([prediction], [references], lang, latency_ms=[latency_ms],
                               tokens_out=[tokens_out], passages=[passages], row=[row])[0]


def signatures(metrics: MetricSet, lang: str = "en", nrefs: int | str = 1) -> dict[str, str]:
    """How each score was computed: library, version, tokenizer, options, scale; `nrefs` as
    reference_count gives it for the rows scored."""
    return metrics.signatures(lang, nrefs)


def _class_or_none(name: str) -> type[Metric] | None:
    name = base_name(name)
    try:
        return metric_class(name) if name in REGISTRY else None
    except UserError:  # a broken plugin says so when it is used, not on every page that reads these sets
        return None


class _Declared(AbstractSet):
    """The registered metrics whose class declares something (needs a reference, lower is better...).
    `name in S` loads that one class (a built-in without scanning the installed packages); iterating
    loads them all. Follows the registry, so a metric added at run time shows up."""

    def __init__(self, test: Callable[[type[Metric]], bool]):
        self._test = test

    @classmethod
    def _from_iterable(cls, it) -> set:  # what `|`, `&` and `-` return: a plain set
        return set(it)

    def __contains__(self, name: object) -> bool:
        cls = _class_or_none(name) if isinstance(name, str) else None
        return cls is not None and self._test(cls)

    def _names(self) -> list[str]:
        return [n for n in REGISTRY.names() if n in self]

    def __iter__(self):
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())

    def __repr__(self) -> str:
        return f"{{{', '.join(map(repr, self._names()))}}}"


ALL = _Declared(lambda c: True)
NEEDS_REFERENCE = _Declared(lambda c: c.needs_reference)
LOWER_IS_BETTER = _Declared(lambda c: c.direction == "lower")
HIGHER_IS_BETTER = _Declared(lambda c: c.direction == "higher")
UNIT_INTERVAL = _Declared(lambda c: c.scale == "0-1")  # scores on the 0-1 scale


def __getattr__(name: str) -> Any:
    if name == "UNITS":  # metric -> unit, for the measurements
        # a judge's scale is its rubric's (1-5, pass/fail), not a unit of measurement
        return {n: c.scale for n in REGISTRY.names() if (c := _class_or_none(n)) and c.scale not in ("0-1", "rubric")}
    raise AttributeError(f"module 'workbench.metrics' has no attribute {name!r}")

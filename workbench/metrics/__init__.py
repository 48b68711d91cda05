"""Metric registry: parse a metric list, score one output, describe each metric's signature.

Scale: quality scores (exact, contains, regex, json_valid, bleu, chrf, rouge1/2/L) are in [0, 1].
Measurements keep their unit: length (characters), latency_ms, tokens_out.
An output that errored gets no scores; `show` counts errors separately.
"""

from __future__ import annotations

from dataclasses import dataclass

from workbench.errors import UserError
from workbench.metrics import overlap, text

DEFAULT = ["exact", "contains", "bleu", "chrf", "rouge1", "rouge2", "rougeL", "length", "latency_ms", "tokens_out"]
NEEDS_REFERENCE = {"exact", "contains", "bleu", "chrf", "rouge1", "rouge2", "rougeL"}
ALL = NEEDS_REFERENCE | {"regex", "json_valid", "length", "latency_ms", "tokens_out"}
UNITS = {"length": "chars", "latency_ms": "ms", "tokens_out": "tokens"}
LOWER_IS_BETTER = {"latency_ms"}
UNIT_INTERVAL = ALL - set(UNITS)  # scores on the 0-1 scale


@dataclass(frozen=True)
class MetricSet:
    names: tuple[str, ...]
    regex: str | None = None

    @property
    def needs_reference(self) -> bool:
        return any(n in NEEDS_REFERENCE for n in self.names)

    def as_text(self) -> str:
        return ",".join(f"regex={self.regex}" if n == "regex" else n for n in self.names)


def parse_metrics(values: list[str] | str | None) -> MetricSet:
    """`bleu,chrf` or several values; `regex=PATTERN` takes the rest of its value (commas included)."""
    if values is None:
        return MetricSet(tuple(DEFAULT))
    if isinstance(values, str):
        values = [values]
    names: list[str] = []
    pattern = None
    for value in values:
        items = [value] if value.startswith("regex=") else [v.strip() for v in value.split(",") if v.strip()]
        for item in items:
            if item.startswith("regex="):
                pattern = item[len("regex="):]
                try:
                    text.compile_pattern(pattern)
                except Exception as e:
                    raise UserError(f"bad regular expression {pattern!r}: {e}", "--metrics") from None
                item = "regex"
            if item == "rouge":
                names += ["rouge1", "rouge2", "rougeL"]
                continue
            if item not in ALL:
                raise UserError(f"unknown metric {item!r} (known: {', '.join(sorted(ALL))}, regex=PATTERN)", "--metrics")
            if item == "regex" and pattern is None:
                raise UserError("regex needs a pattern: --metrics regex=PATTERN", "--metrics")
            names.append(item)
    return MetricSet(tuple(dict.fromkeys(names)), pattern)


def score(
    prediction: str,
    references: list[str],
    metrics: MetricSet,
    lang: str = "en",
    latency_ms: float | None = None,
    tokens_out: int | None = None,
    chrf: float | None = None,
) -> dict[str, float]:
    """Scores of one output. Reference metrics are skipped when the row has no reference.
    `chrf`: its value when already computed for a batch (overlap.chrf_many)."""
    out: dict[str, float] = {}
    names = metrics.names
    has_ref = bool(references)
    if has_ref:
        if "exact" in names:
            out["exact"] = text.exact(prediction, references)
        if "contains" in names:
            out["contains"] = text.contains(prediction, references)
        if "bleu" in names:
            out["bleu"] = overlap.bleu(prediction, references, lang)
        if "chrf" in names:
            out["chrf"] = overlap.chrf(prediction, references, lang) if chrf is None else chrf
        if {"rouge1", "rouge2", "rougeL"} & set(names):
            out.update({k: v for k, v in overlap.rouge(prediction, references).items() if k in names})
    if "regex" in names:
        out["regex"] = text.regex(prediction, metrics.regex or "")
    if "json_valid" in names:
        out["json_valid"] = text.json_valid(prediction)
    if "length" in names:
        out["length"] = text.length(prediction)
    if "latency_ms" in names and latency_ms is not None:
        out["latency_ms"] = float(latency_ms)
    if "tokens_out" in names and tokens_out is not None:
        out["tokens_out"] = float(tokens_out)
    return out


def signatures(metrics: MetricSet, lang: str = "en") -> dict[str, str]:
    """How each score was computed: library, version, tokenizer, options, scale."""
    sig = {}
    for n in metrics.names:
        if n in ("bleu", "chrf", "rouge1", "rouge2", "rougeL"):
            sig[n] = overlap.signature(n, lang)
        elif n in ("exact", "contains"):
            sig[n] = f"{n}|casefold|collapse-whitespace|any-reference|scale:0-1"
        elif n == "regex":
            sig[n] = f"regex|re.search|DOTALL|pattern:{metrics.regex}|scale:0-1"
        elif n == "json_valid":
            sig[n] = "json.loads|scale:0-1"
        else:
            sig[n] = f"{n}|unit:{UNITS[n]}"
    return sig

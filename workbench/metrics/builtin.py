"""The built-in metrics, registered like any plugin's (pyproject.toml, group ``workbench.metrics``).

Quality scores are on the 0-1 scale; measurements keep their unit (length: chars, latency_ms: ms,
tokens_out: tokens). The computations live in text.py and overlap.py; these classes declare them.
"""

from __future__ import annotations

from collections.abc import Sequence

from workbench.metrics import overlap, text
from workbench.metrics.base import Metric, batch_memo

Preds = Sequence[str]
Refs = Sequence[Sequence[str]]


class Exact(Metric):
    name = "exact"

    def score_batch(self, predictions: Preds, references_lists: Refs, lang: str) -> list[float | None]:
        return [text.exact(p, list(r)) for p, r in zip(predictions, references_lists)]

    def signature(self, lang: str) -> str:
        return "exact|casefold|collapse-whitespace|any-reference|scale:0-1"


class Contains(Metric):
    name = "contains"

    def score_batch(self, predictions: Preds, references_lists: Refs, lang: str) -> list[float | None]:
        return [text.contains(p, list(r)) for p, r in zip(predictions, references_lists)]

    def signature(self, lang: str) -> str:
        return "contains|casefold|collapse-whitespace|any-reference|scale:0-1"


def _pattern(value: str) -> str:
    try:
        text.compile_pattern(str(value))
    except Exception as e:  # re.error, RecursionError, OverflowError...
        raise ValueError(f"bad regular expression: {e}") from None
    return str(value)


class Regex(Metric):
    """1 when the pattern matches anywhere in the output (re.search, DOTALL)."""

    name = "regex"
    needs_reference = False
    options = {"pattern": _pattern}
    required = ("pattern",)

    def score_batch(self, predictions: Preds, references_lists: Refs, lang: str) -> list[float | None]:
        pattern = self.config["pattern"]
        return [text.regex(p, pattern) for p in predictions]

    def signature(self, lang: str) -> str:
        return f"regex|re.search|DOTALL|pattern:{self.config['pattern']}|scale:0-1"


class JsonValid(Metric):
    name = "json_valid"
    needs_reference = False

    def score_batch(self, predictions: Preds, references_lists: Refs, lang: str) -> list[float | None]:
        return [text.json_valid(p) for p in predictions]

    def signature(self, lang: str) -> str:
        return "json.loads|scale:0-1"


class Bleu(Metric):
    name = "bleu"

    def score_batch(self, predictions: Preds, references_lists: Refs, lang: str) -> list[float | None]:
        return [overlap.bleu(p, list(r), lang) for p, r in zip(predictions, references_lists)]

    def signature(self, lang: str) -> str:
        return overlap.signature("bleu", lang)


class Chrf(Metric):
    """Counted for the whole batch at once (overlap.chrf_many): the same values, ~3x faster."""

    name = "chrf"

    def score_batch(self, predictions: Preds, references_lists: Refs, lang: str) -> list[float | None]:
        return overlap.chrf_many([(p, list(r)) for p, r in zip(predictions, references_lists)])

    def signature(self, lang: str) -> str:
        return overlap.signature("chrf", lang)


class _Rouge(Metric):
    """ROUGE-1, -2 and -L come from one tokenization per pair (overlap.rouge): within one MetricSet
    batch the first of the three computes all of them and the others take theirs from the batch memo."""

    def score_batch(self, predictions: Preds, references_lists: Refs, lang: str) -> list[float | None]:
        memo = batch_memo()
        key = ("rouge", id(predictions), id(references_lists))
        scores = memo.get(key) if memo is not None else None
        if scores is None:
            scores = [overlap.rouge(p, list(r)) for p, r in zip(predictions, references_lists)]
            if memo is not None:
                memo[key] = scores
        return [s[self.name] for s in scores]

    def signature(self, lang: str) -> str:
        return overlap.signature(self.name, lang)


class Rouge1(_Rouge):
    name = "rouge1"


class Rouge2(_Rouge):
    name = "rouge2"


class RougeL(_Rouge):
    name = "rougeL"


class Length(Metric):
    name = "length"
    needs_reference = False
    scale = "chars"
    direction = None

    def score_batch(self, predictions: Preds, references_lists: Refs, lang: str) -> list[float | None]:
        return [text.length(p) for p in predictions]


class LatencyMs(Metric):
    name = "latency_ms"
    needs_reference = False
    scale = "ms"
    direction = "lower"
    wants = ("latency_ms",)

    def score_batch(self, predictions: Preds, references_lists: Refs, lang: str, *,
                    latency_ms: Sequence[float | None]) -> list[float | None]:
        return list(latency_ms)


class TokensOut(Metric):
    name = "tokens_out"
    needs_reference = False
    scale = "tokens"
    direction = None
    wants = ("tokens_out",)

    def score_batch(self, predictions: Preds, references_lists: Refs, lang: str, *,
                    tokens_out: Sequence[int | None]) -> list[float | None]:
        return list(tokens_out)

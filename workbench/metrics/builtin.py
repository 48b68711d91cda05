"""The built-in metrics, registered like any plugin's (pyproject.toml, group ``workbench.metrics``).

Quality scores are on the 0-1 scale; measurements keep their unit (length: chars, latency_ms: ms,
tokens_out: tokens). The computations live in text.py, overlap.py and rouge.py; these classes declare them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from workbench.metrics import overlap, rouge, text
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


def _choice(*allowed: str):
    def convert(value: Any) -> str:
        if str(value) not in allowed:
            raise ValueError(f"one of {', '.join(allowed)}")
        return str(value)
    return convert


def _yes_no(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in ("yes", "true", "1", "on"):
        return True
    if word in ("no", "false", "0", "off"):
        return False
    raise ValueError("yes or no")


def _int_in(low: int, high: int):
    def convert(value: Any) -> int:
        n = int(value)
        if not low <= n <= high:
            raise ValueError(f"an integer from {low} to {high}")
        return n
    return convert


def _non_negative(value: Any) -> float:
    x = float(value)
    if not x >= 0:
        raise ValueError("a number >= 0")
    return x


class Bleu(Metric):
    """sacrebleu sentence BLEU; options as sacrebleu's BLEU() takes them (tok overrides --lang)."""

    name = "bleu"
    labelled = True
    options = {"tok": _choice(*overlap.TOKENIZERS), "smooth": _choice(*overlap.SMOOTHINGS),
               "smooth_value": _non_negative, "lowercase": _yes_no, "max_ngram_order": _int_in(1, 9),
               "eff": _yes_no}
    defaults = {k: v for k, v in overlap.BLEU_DEFAULTS.items() if v is not None}

    def score_batch(self, predictions: Preds, references_lists: Refs, lang: str) -> list[float | None]:
        return overlap.bleu_many([(p, list(r)) for p, r in zip(predictions, references_lists)], lang, **self.config)

    def signature(self, lang: str) -> str:
        return overlap.signature("bleu", lang, 1, **self.config)

    def signature_for(self, lang: str, nrefs: int | str) -> str:
        return overlap.signature("bleu", lang, nrefs, **self.config)


class Chrf(Metric):
    """sacrebleu sentence chrF. Counted for the whole batch at once (overlap.chrf_many): the same values, ~3x faster."""

    name = "chrf"
    labelled = True
    options = {"char_order": _int_in(1, 9), "word_order": _int_in(0, 4), "beta": _int_in(1, 9),
               "lowercase": _yes_no, "whitespace": _yes_no, "eps_smoothing": _yes_no}
    defaults = dict(overlap.CHRF_DEFAULTS)

    def score_batch(self, predictions: Preds, references_lists: Refs, lang: str) -> list[float | None]:
        return overlap.chrf_many([(p, list(r)) for p, r in zip(predictions, references_lists)], **self._sacrebleu())

    def _sacrebleu(self) -> dict[str, Any]:
        return self.config

    def signature(self, lang: str) -> str:
        return overlap.signature("chrf", lang, 1, **self._sacrebleu())

    def signature_for(self, lang: str, nrefs: int | str) -> str:
        return overlap.signature("chrf", lang, nrefs, **self._sacrebleu())


class ChrfPP(Chrf):
    """chrF++: chrF with word n-grams up to 2 (sacrebleu's CHRF(word_order=2))."""

    name = "chrfpp"
    defaults = {**overlap.CHRF_DEFAULTS, "word_order": 2}

    def _sacrebleu(self) -> dict[str, Any]:
        return {"word_order": 2, **self.config}


class CorpusBleu(Metric):
    """sacrebleu corpus BLEU: one value per run (metrics.corpus), none per row; options as `bleu`, but
    effective order off by default, as sacrebleu's corpus BLEU."""

    name = "corpus_bleu"
    labelled = True
    corpus = "bleu"
    options = Bleu.options
    defaults = {**Bleu.defaults, "eff": False}

    def score_batch(self, predictions: Preds, references_lists: Refs, lang: str) -> list[float | None]:
        return [None] * len(predictions)  # computed over the run's rows (metrics.corpus.corpus_score)

    def corpus_options(self) -> dict[str, Any]:
        return {"eff": False, **self.config}

    def signature(self, lang: str) -> str:
        return self.signature_for(lang, 1)

    def signature_for(self, lang: str, nrefs: int | str) -> str:
        return "corpus:" + overlap.signature("bleu", lang, nrefs, **self.corpus_options())


class CorpusChrf(CorpusBleu):
    """sacrebleu corpus chrF (chrF++ with word_order=2): one value per run."""

    name = "corpus_chrf"
    corpus = "chrf"
    options = Chrf.options
    defaults = Chrf.defaults

    def corpus_options(self) -> dict[str, Any]:
        return self.config

    def signature_for(self, lang: str, nrefs: int | str) -> str:
        return "corpus:" + overlap.signature("chrf", lang, nrefs, **self.config)


class _Rouge(Metric):
    """ROUGE-1, -2 and -L (P, R, F) come from one tokenization per pair (rouge.scores): within one
    MetricSet batch the first of them computes all and the others take theirs from the batch memo.
    ROUGE-Lsum is computed apart (its own sentence split and tables)."""

    labelled = True
    kind: ClassVar[str] = "rouge1"
    stat: ClassVar[int] = 2  # 0 precision, 1 recall, 2 F-measure
    options = {"stem": _yes_no}
    defaults = {"stem": False}

    def score_batch(self, predictions: Preds, references_lists: Refs, lang: str) -> list[float | None]:
        memo = batch_memo()
        stem = self.config.get("stem", False)
        key = ("rouge", id(predictions), id(references_lists), stem)
        scores = memo.get(key) if memo is not None else None
        if scores is None:
            scores = rouge.scores_many([(p, list(r)) for p, r in zip(predictions, references_lists)], stem)
            if memo is not None:
                memo[key] = scores
        return [s[self.kind][self.stat] for s in scores]

    def signature(self, lang: str) -> str:
        return rouge_signature(self.kind, self.stat, self.config)


def rouge_signature(kind: str, stat: int, config: dict[str, Any]) -> str:
    from workbench.versions import version

    split = f"|split:{config.get('split', 'newline')}" if kind == "rougeLsum" else ""
    return (f"rouge:workbench={version('workbench')},as-rouge-score-0.1.2|{kind}|"
            f"{('precision', 'recall', 'f-measure')[stat]}|tok:cjk-char+word|"
            f"stem:{'porter' if config.get('stem') else 'no'}{split}|scale:0-1")


class Rouge1(_Rouge):
    name = "rouge1"


class Rouge1P(_Rouge):
    name, stat = "rouge1_p", 0


class Rouge1R(_Rouge):
    name, stat = "rouge1_r", 1


class Rouge2(_Rouge):
    name, kind = "rouge2", "rouge2"


class Rouge2P(_Rouge):
    name, kind, stat = "rouge2_p", "rouge2", 0


class Rouge2R(_Rouge):
    name, kind, stat = "rouge2_r", "rouge2", 1


class RougeL(_Rouge):
    name, kind = "rougeL", "rougeL"


class RougeLP(_Rouge):
    name, kind, stat = "rougeL_p", "rougeL", 0


class RougeLR(_Rouge):
    name, kind, stat = "rougeL_r", "rougeL", 1


class RougeLsum(_Rouge):
    """ROUGE-Lsum: sentences at newlines (`split=punct`: also after . ! ? and 。！？); None for a row whose
    sentence pair would need a table over rouge.LSUM_MAX_CELLS."""

    name, kind = "rougeLsum", "rougeLsum"
    options = {"stem": _yes_no, "split": _choice("newline", "punct")}
    defaults = {"stem": False, "split": "newline"}

    def score_batch(self, predictions: Preds, references_lists: Refs, lang: str) -> list[float | None]:
        memo = batch_memo()
        stem, split = self.config.get("stem", False), self.config.get("split", "newline")
        key = ("rougeLsum", id(predictions), id(references_lists), stem, split)
        scores = memo.get(key) if memo is not None else None
        if scores is None:
            scores = [rouge.lsum_scores(p, list(r), stem, split) for p, r in zip(predictions, references_lists)]
            if memo is not None:
                memo[key] = scores
        return [None if s is None else s[self.stat] for s in scores]


class RougeLsumP(RougeLsum):
    name, stat = "rougeLsum_p", 0


class RougeLsumR(RougeLsum):
    name, stat = "rougeLsum_r", 1


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

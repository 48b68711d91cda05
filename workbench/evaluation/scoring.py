"""Scoring predictions made elsewhere: `workbench.score_rows` (and so `workbench score`). Kept apart from the
API module, whose imports (templates, providers, the engine) a file of predictions does not need."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workbench.errors import UserError

if TYPE_CHECKING:
    from workbench import metrics as metric_lib


@dataclass
class Scores:
    """What `score_rows` gives: the values of each row ({metric label: value}) and how they were computed."""

    rows: list[dict[str, float]]
    metrics: metric_lib.MetricSet
    lang: str  # en or zh for every row, or auto: BLEU's tokenizer chosen per row from its references
    references: list[list[str]]


def score_rows(predictions: Sequence[str], references: Sequence[str | Sequence[str]], metrics: Any = None,
               lang: str = "auto", workers: list | None = None) -> Scores:
    """`score` without the DataFrame (what `workbench score` calls: pandas costs its start-up ~0.3 s).

    Under lang ``auto`` a file whose references are all English or all Chinese is scored in that language,
    and a mixed one row by row (each row's BLEU tokenizer from its own references, as a run does). Many
    rows are scored in worker processes, one per core: the caller waits, so every core scores. `workers`:
    ones the caller started early (metrics.batch.start_workers), used whatever the number of rows, and closed."""
    from workbench import metrics as metric_lib
    from workbench.authoring.datasets import detect_lang, row_langs
    from workbench.metrics.batch import POOL_MIN_ITEMS, BatchScorer, default_workers

    if isinstance(predictions, str) or isinstance(references, str):
        raise UserError("give lists: one prediction and one reference (or list of them) per item",
                        setting="predictions")
    if len(predictions) != len(references):
        raise UserError(f"{len(predictions)} predictions but {len(references)} references", setting="references")
    refs = [[str(r)] if isinstance(r, str) else [str(x) for x in r] for r in references]
    ms = as_metric_set(metrics, default=[m for m in metric_lib.DEFAULT if m not in ("latency_ms", "tokens_out")])
    if any(m.scored_later for m in ms.metrics):
        raise UserError("judges score stored runs (workbench judge score RUN --rubric NAME), not loose predictions",
                        setting="metrics")
    if lang in (None, "auto"):
        langs = row_langs(refs)
        lang = (langs.pop() if len(langs) == 1 else "auto") if langs else detect_lang([str(p) for p in
                                                                                        predictions[:200]])
    pool = len(refs) >= POOL_MIN_ITEMS
    with BatchScorer(ms, lang, pool=pool, workers=default_workers(caller_waits=True) if pool else None,
                     started=workers) as scorer:
        values = scorer.score_now([(str(p), r, None, None) for p, r in zip(predictions, refs)])
    return Scores(values, ms, lang, refs)


def as_metric_set(metrics: Any, default: list[str] | None = None) -> metric_lib.MetricSet:
    """A MetricSet as given, or parsed from a list or comma-separated text (`default` when None)."""
    from workbench import metrics as metric_lib

    if isinstance(metrics, metric_lib.MetricSet):
        return metrics
    if metrics is None and default is not None:
        metrics = default
    return metric_lib.parse_metrics(list(metrics) if isinstance(metrics, (list, tuple)) else metrics)

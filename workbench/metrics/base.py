"""The metric contract and a run's set of metrics.

A metric is a class registered under its name (entry-point group ``workbench.metrics``). It declares
whether it needs a reference, its scale (``0-1``, or the unit of a measurement: ``ms``, ``chars``,
``tokens``), which direction is better (``higher``, ``lower``, or None for a measurement with no
better side, such as length), the options it takes (name -> converter), and which of an output's
measurements it reads besides the text (``wants``: ``latency_ms``, ``tokens_out``; ``passages``, the
passages a knowledge prompt retrieved for it, and ``row``, its dataset row). It implements
`score_batch`: one value per prediction (None: no score for that one).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, ClassVar

from workbench.errors import UserError

# What a metric may read besides the text and the references: the output's own measurements, the passages
# retrieved for it (a list of {id, text, ...}, None without knowledge) and its dataset row (a dict).
MEASUREMENTS = ("latency_ms", "tokens_out", "passages", "row")
DIRECTIONS = ("higher", "lower", None)
_BATCH_MEMO: ContextVar[dict | None] = ContextVar("metric_batch_memo", default=None)


def batch_memo() -> dict | None:
    """Work shared by the metrics of one MetricSet.score_batch call (ROUGE-1/2/L tokenize once), keyed by
    what a metric chooses (the ids of the lists it got: they live as long as the call); None outside one."""
    return _BATCH_MEMO.get()


class Metric:
    """Base class of every metric; subclasses set the class attributes and write `score_batch`."""

    name: ClassVar[str] = ""
    needs_reference: ClassVar[bool] = True  # rows without a reference get no score (score_batch never sees them)
    scale: ClassVar[str] = "0-1"
    direction: ClassVar[str | None] = "higher"
    options: ClassVar[dict[str, Callable[[Any], Any]]] = {}
    required: ClassVar[tuple[str, ...]] = ()  # options that must be given
    wants: ClassVar[tuple[str, ...]] = ()  # measurements passed to score_batch as keyword lists
    defaults: ClassVar[dict[str, Any]] = {}  # option values that are the same as not giving the option
    # Options show in the score's name (`bleu(smooth=floor,tok=intl)`), so one run can hold several
    # configurations; off by default (a plugin's scores keep its plain name, as before labels existed).
    labelled: ClassVar[bool] = False
    # Scored after the outputs are stored, not by score_batch (judges): an output without its scores is complete.
    scored_later: ClassVar[bool] = False

    def __init__(self, **options: Any):
        missing = [o for o in self.required if o not in options]
        if missing:
            raise UserError(f"metric {self.name!r} needs option {missing[0]!r} "
                            f"(e.g. --metrics {self.name}=VALUE)", setting="metrics")
        self.config: dict[str, Any] = {}
        for key, value in options.items():
            if key not in self.options:
                accepted = ", ".join(sorted(self.options)) or "none"
                raise UserError(f"unknown option {key!r} for metric {self.name!r} (accepted: {accepted})", setting="metrics")
            try:
                converted = self.options[key](value)
            except (TypeError, ValueError) as e:
                raise UserError(f"bad value {value!r} for option {key!r} of metric {self.name!r}: {e}",
                                setting="metrics") from None
            if key not in self.defaults or converted != self.defaults[key]:
                self.config[key] = converted

    @property
    def label(self) -> str:
        """The name its scores are stored and shown under: the name, with the options that differ from
        the defaults when the class is `labelled` (regex keeps its plain name)."""
        if not self.config or not self.labelled:
            return self.name
        return f"{self.name}({','.join(f'{k}={_shown(v)}' for k, v in sorted(self.config.items()))})"

    def score_batch(self, predictions: Sequence[str], references_lists: Sequence[Sequence[str]], lang: str,
                    **measurements: Sequence[Any]) -> list[float | None]:
        raise NotImplementedError(f"metric {self.name!r} does not implement score_batch")

    def signature(self, lang: str) -> str:
        """How the score was computed (library, version, tokenizer, options, scale); stored with it."""
        opts = "".join(f"|{k}:{v}" for k, v in sorted(self.config.items()))
        return f"{self.name}{opts}|{'scale:0-1' if self.scale == '0-1' else 'unit:' + self.scale}"

    def signature_for(self, lang: str, nrefs: int | str) -> str:
        """The signature for a run whose rows have `nrefs` references each ('var': different numbers);
        metrics whose signature states it (sacrebleu's) override this."""
        return self.signature(lang)

    def spec(self) -> dict[str, Any]:
        """What a run stores to rebuild this metric: its name and options."""
        return {"name": self.name, **self.config}

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.spec() == other.spec()  # type: ignore[union-attr]

    def __hash__(self) -> int:
        return hash(json.dumps(self.spec(), sort_keys=True))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.spec()})"


def _shown(value: Any) -> str:
    return ("yes" if value else "no") if isinstance(value, bool) else str(value)


def check_class(cls: Any, name: str) -> type[Metric]:
    """A registered metric class, checked once: a plugin's mistake is named here, not mid-run."""
    if not (isinstance(cls, type) and issubclass(cls, Metric)):
        raise UserError(f"metric {name!r} is registered as {cls!r}, which is not a Metric class", setting="metrics")
    if cls.score_batch is Metric.score_batch:
        raise UserError(f"metric class {cls.__name__} does not implement score_batch", setting="metrics")
    if cls.name != name:
        raise UserError(f"metric registered as {name!r} names itself {cls.name!r}", setting="metrics")
    if cls.direction not in DIRECTIONS or set(cls.wants) - set(MEASUREMENTS):
        raise UserError(f"metric {name!r}: direction must be one of {DIRECTIONS} and wants within "
                        f"{MEASUREMENTS}", setting="metrics")
    return cls


@dataclass(frozen=True)
class MetricSet:
    """The metrics of a run, in order. Stored as JSON: ``[{"name": "bleu"}, {"name": "regex", "pattern": ...}]``."""

    metrics: tuple[Metric, ...]

    @property
    def names(self) -> tuple[str, ...]:
        """The score names (labels: `bleu`, `bleu(tok=intl)`), in order."""
        return tuple(m.label for m in self.metrics)

    @property
    def needs_reference(self) -> bool:
        return any(m.needs_reference for m in self.metrics)

    @property
    def wants(self) -> frozenset[str]:
        """The measurements any of the metrics reads (callers skip gathering passages and rows otherwise)."""
        return frozenset(w for m in self.metrics for w in m.wants)

    def specs(self) -> list[dict[str, Any]]:
        return [m.spec() for m in self.metrics]

    def to_json(self) -> str:
        return json.dumps(self.specs(), ensure_ascii=False)

    def signatures(self, lang: str, nrefs: int | str = 1) -> dict[str, str]:
        return {m.label: m.signature_for(lang, nrefs) for m in self.metrics}

    def score_batch(self, predictions: Sequence[str], references_lists: Sequence[Sequence[str]], lang: str,
                    **measurements: Sequence[Any]) -> list[dict[str, float]]:
        """Per prediction, {metric: value}; reference metrics skip rows without references, and a None
        (e.g. no latency recorded) leaves that metric out of its row."""
        token = _BATCH_MEMO.set({})
        try:
            return self._score_batch(predictions, references_lists, lang, measurements)
        finally:
            _BATCH_MEMO.reset(token)

    def _score_batch(self, predictions: Sequence[str], references_lists: Sequence[Sequence[str]], lang: str,
                     measurements: dict[str, Sequence[Any]]) -> list[dict[str, float]]:
        n = len(predictions)
        with_refs = [i for i, refs in enumerate(references_lists) if refs]
        if len(with_refs) == n:
            ref_preds, ref_refs = predictions, references_lists
        else:
            ref_preds = [predictions[i] for i in with_refs]
            ref_refs = [references_lists[i] for i in with_refs]
        out: list[dict[str, float]] = [{} for _ in range(n)]
        for m in self.metrics:
            extra = {k: measurements.get(k, [None] * n) for k in m.wants}
            if m.needs_reference:
                if not with_refs:
                    continue
                if len(with_refs) != n:
                    extra = {k: [v[i] for i in with_refs] for k, v in extra.items()}
                values = m.score_batch(ref_preds, ref_refs, lang, **extra)
                rows = with_refs
            else:
                values = m.score_batch(predictions, references_lists, lang, **extra)
                rows = range(n)
            if len(values) != len(rows):
                raise ValueError(f"metric {m.name!r} returned {len(values)} values for {len(rows)} outputs")
            name = m.label
            for i, v in zip(rows, values):
                if v is not None:
                    out[i][name] = float(v)
        return out

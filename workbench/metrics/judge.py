"""Judges: metrics scored by a model with a rubric (`--metrics judge:correctness`).

A JudgeMetric is declared in a run's metric set like any other (so the run stores it and `--resume`
finds it), but its values do not come from `score_batch`: after the answers are stored, the judge's
requests go through the batch engine as a run of their own (workbench.evaluation.judging), and each reply is
read here by `read_reply`. The score is stored on the judged output under the label `judge:RUBRIC`, on the
rubric's scale (1-5, or pass/fail as 1/0), with the judge's reasoning beside it. A reply that does not parse,
or whose score is off the scale, is an error of kind `bad_judge_reply`, never a score.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any, ClassVar

from workbench.metrics.base import Metric

BAD_JUDGE_REPLY = "bad_judge_reply"
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S)


class JudgeReplyError(ValueError):
    """A judge reply that gives no usable score (stored as a `bad_judge_reply` error)."""


def _yes_no(value: Any) -> bool:
    text = str(value).strip().lower()
    if text in ("yes", "true", "1", "on"):
        return True
    if text in ("no", "false", "0", "off"):
        return False
    raise ValueError("expected yes or no")


class JudgeMetric(Metric):
    """`judge:RUBRIC` (options: rubric, model = the judge's model spec, schema = ask for structured output)."""

    name: ClassVar[str] = "judge"
    needs_reference: ClassVar[bool] = False  # the rubric says what it needs; rows without it are not judged
    scale: ClassVar[str] = "rubric"  # 1-5, or 0/1 for pass/fail: the rubric's own
    direction: ClassVar[str | None] = "higher"
    options: ClassVar[dict] = {"rubric": str, "model": str, "schema": _yes_no}
    required: ClassVar[tuple[str, ...]] = ("rubric",)
    defaults: ClassVar[dict] = {"schema": True}
    scored_later: ClassVar[bool] = True

    @property
    def label(self) -> str:
        return f"judge:{self.config['rubric']}"

    @property
    def model(self) -> str | None:
        return self.config.get("model")

    def score_batch(self, predictions: Sequence[str], references_lists: Sequence[Sequence[str]], lang: str,
                    **measurements: Sequence[Any]) -> list[float | None]:
        return [None] * len(predictions)  # scored by the judge run after the answers are stored

    def signature(self, lang: str) -> str:
        return f"judge|rubric:{self.config['rubric']}|model:{self.model or 'default'}|scale:rubric"


def is_judge(metric: Metric) -> bool:
    return isinstance(metric, JudgeMetric)


def _json_object(text: str) -> dict[str, Any]:
    """The JSON object in a reply: the whole text, a fenced block, or the outermost {...}."""
    candidates = [text.strip()]
    candidates += [m.strip() for m in _FENCE.findall(text)]
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        candidates.append(text[start:end + 1])
    for c in candidates:
        try:
            value = json.loads(c)
        except (ValueError, RecursionError):
            continue
        if isinstance(value, dict):
            return value
    raise JudgeReplyError(f"reply is not a JSON object: {text[:200]!r}")


def read_reply(text: str, scale: str) -> tuple[float, str]:
    """(score, reasoning) from a judge's reply on `scale` (`1-5`: an integer 1..5; `pass/fail`: 1 or 0)."""
    data = _json_object(text)
    if "score" not in data:
        raise JudgeReplyError(f"reply has no `score`: {text[:200]!r}")
    raw = data["score"]
    reasoning = data.get("reasoning")
    reasoning = "" if reasoning is None else str(reasoning)
    if scale == "pass/fail":
        word = str(raw).strip().lower()
        table = {"pass": 1.0, "fail": 0.0, "true": 1.0, "false": 0.0, "1": 1.0, "0": 0.0}
        if isinstance(raw, (dict, list)) or word not in table:
            raise JudgeReplyError(f"score {raw!r} is not pass or fail")
        return table[word], reasoning
    if isinstance(raw, bool):
        raise JudgeReplyError(f"score {raw!r} is not a number from 1 to 5")
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise JudgeReplyError(f"score {raw!r} is not a number from 1 to 5") from None
    if not (value.is_integer() and 1 <= value <= 5):
        raise JudgeReplyError(f"score {raw!r} is outside the scale 1-5")
    return value, reasoning


def read_verdict(text: str) -> tuple[str, str]:
    """(winner, reasoning) from a pairwise reply: winner A, B (the positions shown) or tie."""
    data = _json_object(text)
    raw = data.get("winner")
    word = str(raw).strip().upper() if raw is not None else ""
    if word in ("A", "B"):
        winner = word
    elif word in ("TIE", "EQUAL", "BOTH"):
        winner = "tie"
    else:
        raise JudgeReplyError(f"winner {raw!r} is not A, B or tie")
    reasoning = data.get("reasoning")
    return winner, "" if reasoning is None else str(reasoning)

"""Example workbench plugin: provider kind ``echo`` and metric ``chars``."""

from __future__ import annotations

from workbench.metrics import Metric
from workbench.providers import Completion, Provider


class EchoProvider(Provider):
    """``echo:ANYTHING``: the answer is the last user message, unchanged."""

    max_concurrency = 64  # nothing to wait for

    def __init__(self, rest: str):
        self.spec = f"echo:{rest}"

    async def complete(self, messages, params):
        text = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
        return Completion(text=text, finish_reason="stop", tokens_out=len(text.split()), latency_ms=0.0)


class Chars(Metric):
    """The number of characters of the output: a measurement in chars, no reference, no better side."""

    name = "chars"
    needs_reference = False
    scale = "chars"
    direction = None

    def score_batch(self, predictions, references_lists, lang):
        return [float(len(p)) for p in predictions]

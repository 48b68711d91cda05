"""A real tiny model for the tests: built from scratch and fine-tuned for a few dozen steps in seconds.

Shared by tests/test_hf.py, tests/test_finetune.py and tests/test_default_model.py through the
session fixture `tiny_model` in conftest.py, so the suite trains it once.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ZERO_SHOT = ROOT / "prompts" / "support_zero_shot.yaml"
INTENTS = ("reset_password", "track_order", "cancel_order", "gift_card")


def small_dataset(path: Path) -> Path:
    """Four intents of the bundled English data (train and test rows): small enough to learn in seconds."""
    rows = [json.loads(line) for line in (ROOT / "datasets" / "support_en.jsonl").read_text().splitlines() if line]
    keep = [r for r in rows if r["intent"] in INTENTS]
    path.write_text("".join(json.dumps(r) + "\n" for r in keep), encoding="utf-8")
    return path


def train_tiny(folder: Path) -> tuple[Path, dict, float]:
    """(model folder, model card, seconds): fine-tuned from scratch through the zero-shot prompt."""
    from workbench.finetune import finetune
    from workbench.finetune.tiny import TinySpec
    from workbench.finetune.train import FinetuneConfig

    data = small_dataset(folder / "small.jsonl")
    cfg = FinetuneConfig(data=str(data), out=str(folder / "tiny"), base="tiny", prompts=[str(ZERO_SHOT)],
                         optimizer="adamw", lr=1e-2, epochs=12, batch_size=8, eval_split=0.15, progress=False,
                         tiny=TinySpec(vocab_size=600, hidden_size=64, layers=2, heads=2, intermediate_size=128,
                                       context=512))
    start = time.perf_counter()
    result = finetune(cfg)
    return result.out, result.card, time.perf_counter() - start

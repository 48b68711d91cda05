"""Training: supervised fine-tuning (full or LoRA), DPO from pairwise votes, and the default local model."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from workbench.finetune.train import FinetuneConfig, FinetuneResult


def finetune(cfg: FinetuneConfig) -> FinetuneResult:
    """Train by `cfg.method` (sft or dpo) and save. Raises UserError for bad input before any training starts.
    The dispatch lives here so that train.py and dpo.py (which shares train.py's helpers) import one way only."""
    from workbench.finetune.train import check_config, train_sft

    if cfg.method == "dpo":
        from workbench.finetune.dpo import train_dpo

        check_config(cfg)
        return train_dpo(cfg)
    return train_sft(cfg)

"""The embedded default model: a tiny support bot trained from scratch on datasets/support_en.jsonl.

With no API key set, the CLI demo and the app run this model (`hf:models/support-tiny`).

Decision: the trained files are shipped in git (models/support-tiny, 1.7 MB: model, tokenizer,
chat template, model card, loss curve) rather than trained on first run. A new user then has a
working model the moment the install finishes, CI and the app's tests do not spend minutes training
it on every fresh machine, and every clone evaluates the same weights, so the figures in the README
and the model card are the ones a user reproduces. `ensure_default_model` still trains it (in about
2-3 minutes on 2 CPU cores, with a progress bar) when the folder is missing, e.g. after it was
deleted or when $WORKBENCH_MODELS_DIR points somewhere new; `python -m workbench.finetune.default_model
--retrain` rebuilds it after the data changes.

It is trained on the `train` rows rendered through both bundled English support prompts (zero-shot
and few-shot, chat template applied), so it answers in the format those prompts produce; the `test`
rows are held-out paraphrases it never saw, used for its evaluation loss and by `workbench demo`.

English only, for now: a bilingual recipe (SOURCES_BILINGUAL: both languages through their zero-shot,
few-shot and knowledge prompts, a 4,096-token vocabulary) was trained and measured on 2026-12-03 and not
shipped: held-out exact match fell from 0.47 to 0.24-0.29 on English while Chinese reached only
0.00-0.04 (ROUGE-L 0.07-0.13). The card records the languages a model was trained on (`data.languages`);
`workbench eval` and the app warn when a dataset's language is not among them.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

from workbench.defaults import API_DEFAULT, uses_local_default

DEFAULT_MODEL_DIR = Path("models/support-tiny")
DATA = "datasets/support_en.jsonl"
PROMPTS = ("prompts/support_zero_shot.yaml", "prompts/support_few_shot.yaml")  # what `workbench demo` runs
# What it is trained on: each dataset through the prompts of its language.
SOURCES = ((DATA, PROMPTS),)
LANGUAGES = ("en",)
# The bilingual recipe measured and not shipped (see above); TINY_BILINGUAL is its vocabulary.
SOURCES_BILINGUAL = (
    (DATA, (*PROMPTS, "prompts/support_knowledge.yaml")),
    ("datasets/support_zh.jsonl", ("prompts/support_zh_zero_shot.yaml", "prompts/support_zh_few_shot.yaml",
                                   "prompts/support_zh_knowledge.yaml")),
)
# The knowledge bases the knowledge prompts name, built from these files with the defaults of `workbench kb add`.
BASES = {"faq_en": "datasets/faq_en.jsonl", "faq_zh": "datasets/faq_zh.jsonl"}
# The recipe; the model card records it along with what it produced.
RECIPE = {"optimizer": "adamw", "lr": 6e-3, "epochs": 16.0, "batch_size": 16, "weight_decay": 0.1, "eval_split": "test",
          "seed": 0}
# One layer: on 144 questions, deeper models (2-4 layers tried) fit the training answers as well but
# answered fewer held-out paraphrases; a single attention layer behaves more like a bag of words.
TINY = {"vocab_size": 2048, "hidden_size": 128, "layers": 1, "heads": 4, "intermediate_size": 384, "context": 1024}
# 4096 tokens: byte-level BPE needs about two merges per Chinese character (~520 in the data) on top of English.
TINY_BILINGUAL = {**TINY, "vocab_size": 4096}
_REPO = Path(__file__).resolve().parents[2]


def default_model_dir() -> Path:
    """$WORKBENCH_MODELS_DIR/support-tiny, else models/support-tiny here, else the one in this checkout."""
    env = os.environ.get("WORKBENCH_MODELS_DIR")
    if env:
        return Path(env) / DEFAULT_MODEL_DIR.name
    if DEFAULT_MODEL_DIR.exists() or not (_REPO / DEFAULT_MODEL_DIR).exists():
        return DEFAULT_MODEL_DIR
    return _REPO / DEFAULT_MODEL_DIR


def default_model_spec() -> str:
    return f"hf:{default_model_dir().as_posix()}"


def default_spec() -> str:
    """The model to use when none is chosen: API_DEFAULT with a key, else the local default model."""
    return default_model_spec() if uses_local_default() else API_DEFAULT


def is_complete(folder: Path) -> bool:
    """A folder that `hf:` can load: config, weights and tokenizer all written."""
    return all((folder / f).is_file() for f in ("config.json", "model.safetensors", "tokenizer.json",
                                                "tokenizer_config.json"))


def _bundled(path: str) -> str:
    """A bundled file, found from the current folder or else from this checkout."""
    return path if Path(path).exists() else str(_REPO / path)


def train_default_model(out: Path, progress: bool = True, bilingual: bool = False):
    """Train the default model into `out` (replacing it); `bilingual` trains the measured, unshipped
    English + Chinese recipe instead. Returns the FinetuneResult."""
    from workbench.finetune import finetune
    from workbench.finetune.tiny import TinySpec
    from workbench.finetune.train import FinetuneConfig

    out = Path(out)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    (first, first_prompts), *more = SOURCES_BILINGUAL if bilingual else SOURCES
    scratch = tempfile.mkdtemp(prefix="workbench-default-model-")
    db = str(Path(scratch) / "bases.duckdb")  # the FAQ bases, for the passages of the knowledge prompts
    cfg = FinetuneConfig(data=_bundled(first), out=str(tmp), base="tiny", prompts=[_bundled(p) for p in first_prompts],
                         more_sources=[(_bundled(d), [_bundled(p) for p in ps]) for d, ps in more], db=db,
                         tiny=TinySpec(**(TINY_BILINGUAL if bilingual else TINY)), progress=progress, name=out.name, **RECIPE)
    try:
        add_bases(db)
        result = finetune(cfg)
        if out.exists():
            shutil.rmtree(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(scratch, ignore_errors=True)
    result.out = out
    return result


def add_bases(db: str | None = None) -> None:
    """The FAQ bases the bundled knowledge prompts use, in `db` (a new version only when a file changed)."""
    from workbench.knowledge import add_base

    for name, path in BASES.items():
        add_base(name, [_bundled(path)], db=db)


def ensure_default_model(progress: bool = True) -> Path:
    """The default model's folder, trained first if it is not there (a couple of minutes on a CPU)."""
    folder = default_model_dir()
    if is_complete(folder):
        return folder
    if progress:
        print(f"workbench: training the default local model into {folder} (first run only; about 2-3 minutes "
              "on 2 CPU cores)", file=sys.stderr)
    train_default_model(folder, progress=progress)
    return folder


def main(argv: list[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python -m workbench.finetune.default_model", description=__doc__.split("\n\n")[0])
    p.add_argument("--retrain", action="store_true", help="train again even if the model is there")
    p.add_argument("--bilingual", metavar="OUT", help="train the English + Chinese recipe into folder OUT instead "
                   "(measured, not shipped: see the module's docstring)")
    args = p.parse_args(argv)
    if args.retrain or args.bilingual:
        from workbench.finetune.train import summary_line

        out = Path(args.bilingual) if args.bilingual else default_model_dir()
        print(summary_line(train_default_model(out, bilingual=bool(args.bilingual))))
    else:
        print(ensure_default_model())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

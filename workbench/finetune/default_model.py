"""The embedded default models: tiny support bots trained from scratch on the bundled support data, one per
language: `models/support-tiny` (English, datasets/support_en.jsonl) and `models/support-tiny-zh` (Chinese,
datasets/support_zh.jsonl); and for English knowledge prompts `models/support-tiny-kb` (KNOWLEDGE_MODELS, the
last figures below), which answers from passages it was not trained on.

With no API key set, the CLI demo and the app run the one for the dataset's language (`hf:models/support-tiny`
or `hf:models/support-tiny-zh`; English for a dataset that mixes both).

Decision: the trained files are shipped in git (each folder 1.5-2 MB: model, tokenizer, chat template, model
card, loss curve) rather than trained on first run. A new user then has a working model the moment the install
finishes, CI and the app's tests do not spend minutes training it on every fresh machine, and every clone
evaluates the same weights, so the figures in the README and the model cards are the ones a user reproduces.
`ensure_default_model` still trains a missing one (in about 2-3 minutes on 2 CPU cores, with a progress bar),
e.g. after it was deleted or when $WORKBENCH_MODELS_DIR points somewhere new;
`python -m workbench.finetune.default_model --retrain [--lang zh]` rebuilds one after the data changes.

Each is trained on the `train` rows of its dataset rendered through the bundled support prompts of its
language (zero-shot and few-shot, and for Chinese the knowledge prompt with the FAQ passages retrieved for each
question; chat template applied), so it answers in the format those prompts produce;
the `test` rows are held-out paraphrases it never saw, used for its evaluation loss and by `workbench demo`.

Chinese, measured on 2026-12-03 (held-out exact / ROUGE-L on the 26 Chinese test paraphrases through the
zero-shot, few-shot [and knowledge] prompts; `bench/default_model_scores.py`; 1-6 CPU-minutes of training each):
- the English recipe as it is (byte-level BPE, 2,048 tokens, 1 layer): 0.08 / 0.22, 0.04 / 0.17. BPE over
  Chinese, which has no spaces, learns chunks of whole training sentences; a paraphrase shares few of them;
- the same with every Chinese character a token of its own before BPE (TinySpec.split_cjk): 0.69 / 0.73,
  0.62 / 0.73 [knowledge prompt, never trained on: 0.00 / 0.26]: a paraphrase shares characters with its
  training question, which a small model reads much like a bag of words;
- that, trained through the knowledge prompt too (passages in the context): 0.65 / 0.73, 0.65 / 0.73
  [0.58 / 0.67];
- that with 2 layers: 0.69 / 0.79, 0.69 / 0.75 [0.69 / 0.80]. Shipped (TINY_ZH, sources below).
English trained through the knowledge prompt too fell on the plain prompts, so it stays as it was (TINY,
zero-shot and few-shot only): 1 layer 0.35 / 0.44 and 0.38 / 0.47 (from 0.47 / 0.54), 0.44 / 0.52 through the
knowledge prompt; 2 layers 0.41 / 0.49 and 0.41 / 0.48, 0.47 / 0.54 through the knowledge prompt.
None of these answers a FAQ entry added after training (bench/demo_new_faq.py [--lang zh]: the new fact in 0
of 6 answers, although retrieval put the new entry in every prompt): they write their training answers.
Copy-teaching, English, measured on 2026-12-03 (workbench.finetune.copy_data: the knowledge prompt's rows again
with the numbers of their own passage changed in passage and reference alike, plus synthetic FAQ entries whose
answer is their first sentence with some of its words swapped for other FAQ words, so that only copying from
the context answers them; 2 layers; held-out exact zero-shot / few-shot / knowledge; "new fact": answers to the
six questions about faq-19 of bench/demo_new_faq.py that state its 14 days; CPU seconds of one thread on the
shared 2-core machine, wall in brackets):
- 8 epochs, 2 perturbed copies per row, 300 synthetic entries (30% of the words swapped): 0.26 / 0.24 / 0.35,
  new fact 0 of 6 through the knowledge prompt (0 without); 493 CPU-s (855 s);
- 10 epochs, 3 copies, 600 synthetic entries (50% swapped): 0.29 / 0.24 / 0.21, new fact 0 of 6; 888 CPU-s
  (1,877 s). Its answers to the new questions are training answers, or splices of them with FAQ sentences
  ("You can change the delivery address until the order within 30 days."), and its last training loss was
  1.39: with 500-800 steps the from-scratch model did not learn to copy a sentence it had not seen;
- the knowledge prompt only (no plain prompts), 10 epochs, 3 copies, 800 synthetic entries (70% swapped): new
  fact 0 of 6 (it writes the warranty answer, once with a number changed: "a 8-year Northwind warranty"),
  last training loss 1.77; 828 CPU-s (922 s). The first two lower
  the plain prompts (from 0.47), so the shipped English model stays as it was; DefaultModel.copy_data (None
  for both shipped models) retrains with such data.
A copy curriculum, English, measured on 2026-12-03 (a from-scratch model copies once it has induction heads,
which form fast on data that only copying predicts; 2 layers, hidden 128, lr 3e-3, batch 16; CPU seconds of
one thread, nice 10 on the shared machine, wall 2-4 times that):
- in a hand-written loop (a script, not shipped), the knowledge prompt with synthetic passages (FAQ sentences
  with 30-100% of their words swapped for other FAQ words) answered by the first sentence of passage [1]:
  one passage, 600 steps, loss 7.0 -> 4.4, 0 of 8 fresh examples copied (286 CPU-s); answered by the whole
  passage, 375 steps: 3.7 (266 CPU-s). No sign of copying;
- a repeat warm-up first (copy_data.repeat_conversation: 6-30 random FAQ words, word pieces [and numbers] as
  the system turn, the same line as the answer): the loss fell from 4.4 to 1.3 between steps 375 and 725 and
  to 0.45 by 1,075 (210 CPU-s): the copying heads formed. Twice (with and without numbers and the user turn:
  0.78 at step 1,200, 288 CPU-s). Then the knowledge prompt, 300 steps with one passage (loss 1.2) and 300
  with three (0.9): its answers to the faq-19 questions copy pieces of that entry's first sentence ("Return the
  same item for a lower price at a ma.") but not yet the 14 days; 0 of 8 synthetic copied (796 CPU-s);
- the same through `workbench finetune` (FinetuneConfig.first, as DefaultModel.warmup): with the
  tokenizer learned from the warm-up lines too, every random word was one token and the warm-up loss stayed
  at 5.1-5.3 for 1,500 steps (lr 6e-3 and 3e-3; AdamW beta2 0.98 or no length grouping, 800 steps: the
  same), so the tokenizer now learns from the main data alone. Then (19,200 repeat lines, 1,200 steps) the
  loss reached about 2.5 by step 950 and rose to about 4.5 over the last 200 steps; the main phase (the plain
  prompts, the 144 train rows through the knowledge prompt answered by their top passage's first sentence,
  300 synthetic entries; 12 epochs, 552 steps; held-out loss 0.27): new fact 0 of 6, the knowledge variant
  writes first sentences of trained FAQ entries (memorised), zero-shot 0 of 6; 546 CPU-s. Without the 144
  rows and with 600 synthetic entries: the warm-up stayed at about 4.5 (1,200 steps), and the main phase after it
  (the plain prompts and the synthetic entries, 12 epochs, 672 steps; held-out loss 0.18, last training loss
  0.12: the same 600 entries every epoch are memorised too) states the new fact in 0 of 6 (knowledge
  variant: splices of training answers) and 0 of 6 zero-shot; 676 CPU-s.
  The Trainer's run and the hand-written loop differed in AdamW's beta2 (0.999 / 0.98), parameter groups (no
  decay on norms), the schedule, length-grouped batches, and, in the default model's recipe, the learning rate
  (6e-3 / 3e-3). Measured on the warm-up alone through the Trainer (a script, not shipped: 2 layers, the
  tokenizer of the main data, seed 0, batch 16, the schedule of 1,200 steps; mean loss over 25 steps, the
  hand-written loop's 4.2 at step 450 and 1.0 at 1,050; 90-145 CPU-s each):
  - all four of the loop's settings (beta2 0.98, decay on all, its schedule, random batches), lr 3e-3: 3.2 at
    400, 1.1 at 600: copying formed, sooner than in the loop (143 CPU-s for 600 steps);
  - the Trainer as it was (length-grouped), lr 3e-3: 4.4 at 450 (4.3 at 600 with the loop's tokenizer);
    beta2 0.98 alone: 4.4;
  - random batches alone (beta2 0.999, no decay on norms, the Trainer's schedule), lr 3e-3: 3.0 at 450;
  - the same at lr 6e-3: 5.0 at 450; and the whole recipe (first phase at 6e-3, random batches): 4.52 over
    the last 20 of 1,200 steps, then (the plain prompts and 600 synthetic entries, 12 epochs) new fact 0 of 6
    and held-out exact zero-shot / few-shot 0.03 / 0.03 (main phase in random batches; 963 CPU-s) or 0.00 /
    0.03 (length-grouped; 856 CPU-s), against the shipped model's 0.47 / 0.47.
  So length-grouped batches and the 6e-3 rate each keep the copying heads from forming: the first phase now
  always trains in random batches (FinetuneConfig.first, train_first) and takes its own rate (first_lr).
- With both fixed (first phase at 3e-3 in random batches: loss 7.6 -> 0.20 over its last 20 steps, the
  copying heads formed), the main phase as above (the plain prompts and 600 synthetic entries, 12 epochs at
  6e-3, random batches; its loss 5.5 over its first 50 steps, 0.13 over its last 22: the synthetic entries
  memorised) still states the new fact in 0 of 6 (knowledge variant: "Orders placed before 3 pm ET on a
  business day ship the same day; ...", splices of trained sentences) and 0 of 6 zero-shot; held-out exact
  0.15 / 0.09 / 0.00 (zero-shot / few-shot / knowledge); 1,002 CPU-s (1,128 s). The copying the warm-up
  teaches does not survive a main phase that can memorise its copy data.
- The same with the main phase at 3e-3 too and 1,200 synthetic entries for 8 epochs (744 steps; loss 5.8 over
  the first 50, 0.08 over the last 44; warm-up 0.18): the knowledge variant now copies from the new entry
  but loses its place ("If you f the same item for a soon before you a ... send support a link to the
  purchase, send support a link to the purchase"), new fact 0 of 6, zero-shot 0 of 6; held-out exact 0.15 /
  0.12 / 0.00; 1,206 CPU-s (1,326 s). Not shipped: the shipped one-layer model stays (0.47 / 0.47).
- Fresh copy data each epoch (DefaultModel.fresh, FinetuneConfig.fresh: 12 files, one per epoch, each of
  600 new synthetic entries and the perturbed rows with new numbers; warm-up as above; main phase 12 epochs at
  3e-3 in random batches; measured 2026-12-04 through train_default_model, the six questions of
  bench/demo_new_faq.py and bench/default_model_scores.py's measure; two runs side by side on the shared
  machine, about 50% of a core each):
  - with the plain prompts (732 steps; warm-up loss 0.13, main phase 5.9 -> 0.17): new fact 0 of 6 through
    the knowledge prompt (mostly the warranty answer with its number changed, "a 8-year Northwind warranty"),
    0 of 6 zero-shot; held-out exact 0.12 / 0.06 / 0.38 (zero-shot / few-shot / knowledge); 1,326 CPU-s
    (2,639 s). One model cannot keep the plain prompts and copy;
  - through the knowledge prompt only (624 steps; warm-up 0.09, main phase 5.7 -> 0.28): new fact 4 of 6
    through the knowledge prompt, in broken sentences copied from faq-19 ("If you Mastercard, price at a link
    to Friday 14 days of the purchase ..."); held-out exact / ROUGE-L through it 0.32 / 0.55 (support-tiny:
    see the README); 1,203 CPU-s (2,511 s). Shipped as models/support-tiny-kb (KNOWLEDGE_MODELS), the model
    for knowledge prompts; support-tiny stays as it was for the plain prompts (0.47 / 0.47). Its
    `--retrain --knowledge` (1,103 CPU-s, 1,475 s wall) gave the same losses and the same scores.
A single bilingual model was tried before (both languages through one 4,096-token byte-level BPE): English
fell from 0.47 to 0.24-0.29 exact and Chinese reached 0.00-0.04, so each language has a model of its own.
The cards record the languages each was trained on (`data.languages`); `workbench eval` and the app warn
when a dataset's language is not among them.
"""

from __future__ import annotations

import math
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from workbench.defaults import API_DEFAULT, uses_local_default

# The recipe; the model card records it along with what it produced.
RECIPE = {"optimizer": "adamw", "lr": 6e-3, "epochs": 16.0, "batch_size": 16, "weight_decay": 0.1, "eval_split": "test",
          "seed": 0}
# One layer: on 144 questions, deeper models (2-4 layers tried) fit the training answers as well but
# answered fewer held-out paraphrases; a single attention layer behaves more like a bag of words.
TINY = {"vocab_size": 2048, "hidden_size": 128, "layers": 1, "heads": 4, "intermediate_size": 384, "context": 1024}
# Chinese: a token per character (see the measurements above) and two layers, which answered more held-out
# paraphrases than one once the knowledge prompt's passages were in the training contexts.
TINY_ZH = {**TINY, "layers": 2, "split_cjk": True}


@dataclass(frozen=True)
class DefaultModel:
    """One language's default local model: where it lives, what `workbench demo` runs on it, what it is trained on."""

    lang: str
    folder: Path
    data: str
    prompts: tuple[str, ...]  # what `workbench demo` runs, and the held-out scores are measured through
    sources: tuple[tuple[str, tuple[str, ...]], ...]  # training: each dataset through these prompts
    tiny: dict
    knowledge: str  # the prompt that answers from the FAQ passages retrieved for the question
    copy_data: dict | None = None  # copy-teaching conversations through `knowledge`: write_copy_data's options
    warmup: int = 0  # repeat conversations (copy_data.repeat_conversation) trained on first, with copy_data
    fresh: bool = False  # copy_data made anew for each epoch (never the same synthetic entry twice)
    recipe: dict = field(default_factory=dict)  # what this model changes of RECIPE


MODELS = {
    "en": DefaultModel("en", Path("models/support-tiny"), "datasets/support_en.jsonl",
                       ("prompts/support_zero_shot.yaml", "prompts/support_few_shot.yaml"),
                       (("datasets/support_en.jsonl", ("prompts/support_zero_shot.yaml",
                                                       "prompts/support_few_shot.yaml")),), TINY,
                       "prompts/support_knowledge.yaml"),
    "zh": DefaultModel("zh", Path("models/support-tiny-zh"), "datasets/support_zh.jsonl",
                       ("prompts/support_zh_zero_shot.yaml", "prompts/support_zh_few_shot.yaml"),
                       (("datasets/support_zh.jsonl", ("prompts/support_zh_zero_shot.yaml",
                                                       "prompts/support_zh_few_shot.yaml",
                                                       "prompts/support_zh_knowledge.yaml")),),
                       TINY_ZH, "prompts/support_zh_knowledge.yaml"),
}
# A model of its own for the knowledge prompt (English): the plain prompts' model cannot learn to copy from its
# passages without falling on them (see the figures above). Trained through support_knowledge only, with copy
# data made anew each epoch after a repeat warm-up; `workbench eval` runs it for knowledge prompts when no
# --model is given, and bench/demo_new_faq.py for the knowledge variant.
KNOWLEDGE_MODELS = {
    "en": DefaultModel("en", Path("models/support-tiny-kb"), "datasets/support_en.jsonl",
                       ("prompts/support_knowledge.yaml",),
                       (("datasets/support_en.jsonl", ("prompts/support_knowledge.yaml",)),), {**TINY, "layers": 2},
                       "prompts/support_knowledge.yaml", copy_data={"copies": 1, "synthetic": 600, "swap": 0.5},
                       warmup=19200, fresh=True,
                       recipe={"epochs": 12, "lr": 3e-3, "first_lr": 3e-3, "group_by_length": False}),
}
# The knowledge bases the knowledge prompts name, built from these files with the defaults of `workbench kb add`.
BASES = {"faq_en": "datasets/faq_en.jsonl", "faq_zh": "datasets/faq_zh.jsonl"}
_REPO = Path(__file__).resolve().parents[2]


def model_for(lang: str | None) -> DefaultModel:
    """The default model for a dataset's language: Chinese for 'zh', English for anything else (a dataset that
    mixes both languages, 'auto', gets English and the language warning for its Chinese rows)."""
    return MODELS.get(lang or "en", MODELS["en"])


def default_model_dir(lang: str | None = "en") -> Path:
    return model_dir(model_for(lang))


def model_dir(model: DefaultModel) -> Path:
    """$WORKBENCH_MODELS_DIR/NAME, else models/NAME here, else the one in this checkout."""
    folder = model.folder
    env = os.environ.get("WORKBENCH_MODELS_DIR")
    if env:
        return Path(env) / folder.name
    if folder.exists() or not (_REPO / folder).exists():
        return folder
    return _REPO / folder


def default_model_spec(lang: str | None = "en") -> str:
    return f"hf:{default_model_dir(lang).as_posix()}"


def knowledge_model_spec(lang: str | None = "en") -> str | None:
    """The local model for knowledge prompts in `lang` (KNOWLEDGE_MODELS), when that language has one."""
    model = KNOWLEDGE_MODELS.get(lang or "en")
    return f"hf:{model_dir(model).as_posix()}" if model else None


def default_model_specs() -> list[str]:
    """Every language's default local model, English first."""
    return [default_model_spec(lang) for lang in MODELS]


def default_spec(lang: str | None = "en") -> str:
    """The model to use when none is chosen: API_DEFAULT with a key, else the local default model for `lang`."""
    return default_model_spec(lang) if uses_local_default() else API_DEFAULT


def local_model_for(prompts: list, lang: str | None = "en") -> str:
    """The bundled local model to run `prompts` (files) on: the language's knowledge model when every prompt has a
    `knowledge:` section and that model is there, else its default model."""
    from workbench.authoring.templates import load_prompt

    kb = KNOWLEDGE_MODELS.get(lang or "en")
    if kb and prompts and is_complete(model_dir(kb)) and all(load_prompt(p).knowledge for p in prompts):
        return knowledge_model_spec(lang)
    return default_model_spec(lang)


def chosen_because(spec: str, lang: str | None) -> str:
    """Why `default_spec(lang)` (or local_model_for) chose `spec`, in a few words for a message."""
    if spec == knowledge_model_spec(lang):
        return "the bundled local model for knowledge prompts; no OPENAI_API_KEY set"
    if spec not in default_model_specs():
        return "OPENAI_API_KEY is set"
    return f"the bundled local model for {'Chinese' if model_for(lang).lang == 'zh' else 'English'}; no OPENAI_API_KEY set"


def is_complete(folder: Path) -> bool:
    """A folder that `hf:` can load: config, weights and tokenizer all written."""
    return all((folder / f).is_file() for f in ("config.json", "model.safetensors", "tokenizer.json",
                                                "tokenizer_config.json"))


def _bundled(path: str) -> str:
    """A bundled file, found from the current folder or else from this checkout."""
    return path if Path(path).exists() else str(_REPO / path)


def train_default_model(out: Path, progress: bool = True, lang: str = "en", knowledge: bool = False):
    """Train the default model for `lang` (with `knowledge`, its KNOWLEDGE_MODELS one) into `out` (replacing it).
    Returns the FinetuneResult."""
    from workbench.finetune import finetune
    from workbench.finetune.tiny import TinySpec
    from workbench.finetune.train import FinetuneConfig

    model = KNOWLEDGE_MODELS[lang] if knowledge else model_for(lang)
    out = Path(out)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    (first, first_prompts), *more = model.sources
    scratch = tempfile.mkdtemp(prefix="workbench-default-model-")
    db = str(Path(scratch) / "bases.duckdb")  # the FAQ bases, for the passages of knowledge prompts
    cfg = FinetuneConfig(data=_bundled(first), out=str(tmp), base="tiny", prompts=[_bundled(p) for p in first_prompts],
                         more_sources=[(_bundled(d), [_bundled(p) for p in ps]) for d, ps in more], db=db,
                         tiny=TinySpec(**model.tiny), progress=progress, name=out.name, **{**RECIPE, **model.recipe})
    try:
        add_bases(db)
        if model.copy_data and model.fresh:
            cfg.fresh = [str(f) for f in copy_slices(model, Path(scratch), db, math.ceil(cfg.epochs))]
        elif model.copy_data:
            cfg.more_sources.append((str(copy_source(model, Path(scratch), db)), []))
        if model.copy_data and model.warmup:
            cfg.first = str(warmup_source(model, Path(scratch)))
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


def copy_source(model: DefaultModel, folder: Path, db: str) -> Path:
    """The copy-teaching conversations `model` trains on too, written into `folder`."""
    from workbench.finetune.copy_data import write_copy_data

    faq = BASES[f"faq_{model.lang}"]
    return write_copy_data(folder / "copy_data.jsonl", _bundled(model.data), _bundled(faq), _bundled(model.knowledge), db,
                           **model.copy_data)


def copy_slices(model: DefaultModel, folder: Path, db: str, n: int) -> list[Path]:
    """`n` files of copy-teaching conversations, one per epoch, each with new synthetic entries and numbers."""
    from workbench.finetune.copy_data import write_copy_slices

    faq = BASES[f"faq_{model.lang}"]
    return write_copy_slices(folder, n, _bundled(model.data), _bundled(faq), _bundled(model.knowledge), db,
                             **model.copy_data)


def warmup_source(model: DefaultModel, folder: Path) -> Path:
    """The repeat conversations `model` trains on first (its `warmup`), written into `folder`."""
    from workbench.finetune.copy_data import write_warmup_data

    return write_warmup_data(folder / "warmup.jsonl", _bundled(BASES[f"faq_{model.lang}"]), model.warmup,
                             model.copy_data.get("seed", 0))


def add_bases(db: str | None = None) -> None:
    """The FAQ bases the bundled knowledge prompts use, in `db` (a new version only when a file changed)."""
    from workbench.knowledge import add_base

    for name, path in BASES.items():
        add_base(name, [_bundled(path)], db=db)


def ensure_default_model(progress: bool = True, lang: str | None = "en") -> Path:
    """The folder of the default model for `lang`, trained first if it is not there (a couple of minutes on a CPU)."""
    folder = default_model_dir(lang)
    if is_complete(folder):
        return folder
    if progress:
        print(f"workbench: training the default local model into {folder} (first run only; about 2-3 minutes "
              "on 2 CPU cores)", file=sys.stderr)
    train_default_model(folder, progress=progress, lang=model_for(lang).lang)
    return folder


def main(argv: list[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python -m workbench.finetune.default_model", description=__doc__.split("\n\n")[0])
    p.add_argument("--retrain", action="store_true", help="train again even if the model is there")
    p.add_argument("--lang", choices=list(MODELS), default="en", help="which language's model (default en)")
    p.add_argument("--knowledge", action="store_true", help="the language's model for knowledge prompts")
    args = p.parse_args(argv)
    if args.knowledge and args.lang not in KNOWLEDGE_MODELS:
        p.error(f"no knowledge model for {args.lang}")
    folder = model_dir(KNOWLEDGE_MODELS[args.lang]) if args.knowledge else None
    if args.retrain or (folder and not is_complete(folder)):
        from workbench.finetune.train import summary_line

        out = folder or default_model_dir(args.lang)
        print(summary_line(train_default_model(out, lang=args.lang, knowledge=args.knowledge)))
    else:
        print(folder or ensure_default_model(lang=args.lang))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""workbench finetune: supervised fine-tuning of a local model on a dataset or on chat conversations."""

from __future__ import annotations

import argparse


def register(sub, common) -> None:
    p = sub.add_parser(
        "finetune", parents=[common], help="fine-tune a local model (or a tiny one from scratch) on your data",
        description="Supervised fine-tuning with the Hugging Face Trainer: cross-entropy on the assistant tokens "
                    "only. Rows are rendered through --prompt (the row's reference is the answer), or read as "
                    "OpenAI chat conversations ({\"messages\": [...]}). Rows with split 'test' are never trained on. "
                    "Saves model, tokenizer, chat template, model card and loss curve in --out; evaluate it with "
                    "--model hf:OUT. Multi-GPU: accelerate launch -m workbench finetune ...")
    p.add_argument("--data", required=True, metavar="DATASET", help="CSV, JSONL or Parquet file")
    p.add_argument("--prompt", action="append", default=[], metavar="PROMPT_FILE",
                   help="render rows through this prompt file (repeatable: each row once per prompt)")
    p.add_argument("--reference", default="reference", metavar="FIELD", help="column with the answer to learn")
    p.add_argument("--base", required=True, metavar="PATH|tiny",
                   help="a local transformers checkpoint folder, or 'tiny': a small model trained from scratch")
    p.add_argument("--optimizer", default="adamw", metavar="adamw|sgd|lamb",
                   help="adamw (torch), sgd with momentum 0.9 (torch) or lamb (pytorch-optimizer); default adamw")
    p.add_argument("--lr", type=float, metavar="RATE",
                   help="learning rate (default: 3e-3 adamw / 1e-2 lamb / 0.3 sgd for tiny; "
                        "2e-5 / 1e-3 / 1e-2 for a pretrained base)")
    p.add_argument("--epochs", type=float, default=3.0, metavar="N", help="default 3")
    p.add_argument("--batch-size", type=int, default=8, metavar="N", help="per device; default 8")
    p.add_argument("--eval-split", default="0.1", metavar="FRACTION|NAME",
                   help="held-out rows for the loss after each epoch: a fraction drawn at random, or the rows "
                        "whose split field is NAME (default 0.1)")
    p.add_argument("--weight-decay", type=float, default=0.0, metavar="W")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-steps", type=int, default=-1, metavar="N", help="stop after N optimizer steps")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    p.add_argument("--out", required=True, metavar="models/NAME", help="folder to save the model in")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print the model card as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from workbench.cli.output import print_json
    from workbench.finetune.train import FinetuneConfig, finetune, summary_line

    cfg = FinetuneConfig(
        data=args.data, out=args.out, base=args.base, prompts=args.prompt, reference_field=args.reference,
        optimizer=args.optimizer, lr=args.lr, epochs=args.epochs, batch_size=args.batch_size,
        eval_split=args.eval_split, weight_decay=args.weight_decay, seed=args.seed, device=args.device,
        max_steps=args.max_steps, progress=not (args.quiet or args.json),
    )
    result = finetune(cfg)
    if not result.card:  # not the main process under accelerate launch
        return 0
    if args.json:
        print_json(result.card)
    else:
        print(summary_line(result))
        print(f"evaluate it: workbench eval PROMPT_FILE --data DATASET --model hf:{result.out.as_posix()}")
    return 0

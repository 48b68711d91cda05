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
                    "--model hf:OUT. --lora trains a LoRA adapter instead of the whole model; --method dpo trains on "
                    "preference pairs. Multi-GPU: accelerate launch -m workbench finetune ...")
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
                        "2e-5 / 1e-3 / 1e-2 for a pretrained base; 2e-4 / 2e-3 / 2e-2 with --lora; "
                        "DPO: 1e-6 / 5e-5 / 5e-4, with --lora 5e-5 / 2.5e-3 / 2.5e-2)")
    p.add_argument("--epochs", type=float, default=3.0, metavar="N", help="default 3")
    p.add_argument("--batch-size", type=int, default=8, metavar="N", help="per device; default 8")
    p.add_argument("--eval-split", default="0.1", metavar="FRACTION|NAME",
                   help="held-out rows for the loss after each epoch: a fraction drawn at random, or the rows "
                        "whose split field is NAME (default 0.1)")
    p.add_argument("--weight-decay", type=float, default=0.0, metavar="W")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-steps", type=int, default=-1, metavar="N", help="stop after N optimizer steps")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    p.add_argument("--method", default="sft", choices=["sft", "dpo"],
                   help="sft: cross-entropy on the answers (default); dpo: preference pairs from --data, a JSONL of "
                        "{\"prompt\", \"chosen\", \"rejected\"} such as `workbench annotate export --format dpo` "
                        "writes (trl's DPOTrainer; the reference model is the base as it was before training)")
    p.add_argument("--beta", type=float, default=0.1, metavar="B",
                   help="dpo: how far the model may drift from the reference (default 0.1)")
    p.add_argument("--session", metavar="SESSION",
                   help="dpo: the pairwise session the pairs came from; its vote counts go on the model card")
    g = p.add_argument_group("LoRA adapters (peft)")
    g.add_argument("--lora", action="store_true",
                   help="train a LoRA adapter on a frozen --base instead of the whole model; --out then holds the "
                        "adapter, loaded with --model hf:OUT (the base is found from its card)")
    g.add_argument("--lora-r", type=int, default=16, metavar="R", help="rank of the adapter matrices (default 16)")
    g.add_argument("--lora-alpha", type=float, default=32.0, metavar="A", help="scaling, alpha/r (default 32)")
    g.add_argument("--lora-dropout", type=float, default=0.05, metavar="P", help="default 0.05")
    g.add_argument("--lora-targets", default="auto", metavar="auto|NAMES",
                   help="modules to adapt: auto = every linear layer but the output head, or e.g. q_proj,v_proj")
    g.add_argument("--merge", action="store_true", help="also write base + adapter as one model in OUT/merged")
    g.add_argument("--load-in-4bit", action="store_true",
                   help="QLoRA: load the base in 4-bit NF4 (needs bitsandbytes and a CUDA GPU)")
    p.add_argument("--gradient-checkpointing", action="store_true",
                   help="recompute activations in the backward pass: less memory, about 30%% more time")
    p.add_argument("--out", required=True, metavar="models/NAME", help="folder to save the model in")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print the model card as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from workbench.cli.output import print_json
    from workbench.errors import UserError
    from workbench.finetune import finetune
    from workbench.finetune.lora import LoraOptions
    from workbench.finetune.train import FinetuneConfig, summary_line

    cfg = FinetuneConfig(
        data=args.data, out=args.out, base=args.base, prompts=args.prompt, reference_field=args.reference,
        optimizer=args.optimizer, lr=args.lr, epochs=args.epochs, batch_size=args.batch_size,
        eval_split=args.eval_split, weight_decay=args.weight_decay, seed=args.seed, device=args.device,
        max_steps=args.max_steps, progress=not (args.quiet or args.json), method=args.method, beta=args.beta,
        session=args.session, db=args.db, merge=args.merge, gradient_checkpointing=args.gradient_checkpointing,
        lora=LoraOptions(r=args.lora_r, alpha=args.lora_alpha, dropout=args.lora_dropout, targets=args.lora_targets,
                         load_in_4bit=args.load_in_4bit) if args.lora else None,
    )
    if args.load_in_4bit and not args.lora:
        raise UserError("4-bit loading is for QLoRA: add --lora", setting="load_in_4bit")
    result = finetune(cfg)
    if not result.card:  # not the main process under accelerate launch
        return 0
    if args.json:
        print_json(result.card)
    else:
        print(summary_line(result))
        print(f"evaluate it: workbench eval PROMPT_FILE --data DATASET --model hf:{result.out.as_posix()}")
    return 0

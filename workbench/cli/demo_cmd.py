"""workbench demo: the bundled prompts over the held-out questions, on the local model when there is no key."""

from __future__ import annotations

import argparse
import sys


def register(sub, common) -> None:
    p = sub.add_parser(
        "demo", parents=[common], help="run the bundled prompts on held-out questions (no key needed)",
        description="Runs prompts/support_zero_shot.yaml and prompts/support_few_shot.yaml over the rows of "
                    "datasets/support_en.jsonl whose split is 'test' (paraphrases no model here was trained on). "
                    "Without OPENAI_API_KEY the model is the bundled local one (hf:models/support-tiny), trained "
                    "first if it is missing. A Chinese --data (datasets/support_zh.jsonl) gets the Chinese prompts "
                    "and local model (hf:models/support-tiny-zh).")
    p.add_argument("--model", action="append", metavar="SPEC", help="models to run instead (repeatable)")
    p.add_argument("--prompt", action="append", metavar="PROMPT_FILE", help="prompts to run instead (repeatable)")
    p.add_argument("--data", metavar="DATASET", help="default datasets/support_en.jsonl; its language picks "
                   "the bundled prompts and local model")
    p.add_argument("--split", default="test", metavar="NAME", help="rows whose split field is NAME (default test)")
    p.add_argument("--json", action="store_true", help="print a machine-readable summary")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from workbench import store
    from workbench.cli.eval_cmd import _progress_printer
    from workbench.cli.output import print_json, table
    from workbench.demo import demo_models, run_conversation_demo, run_demo
    from workbench.evaluation import analysis

    show = not args.json and sys.stderr.isatty()
    run_ids = run_demo(args.db, models=args.model, prompts=args.prompt, data=args.data, split=args.split,
                       progress=not args.json, on_progress=_progress_printer() if show else None)
    conversation = None
    if not args.prompt and not args.data:  # the bundled data: also a conversation, turn by turn
        conversation = run_conversation_demo(args.db, demo_models(args.model, progress=False),
                                             on_progress=_progress_printer() if show else None)
    with store.connect(args.db) as con:
        summaries = [analysis.summarize(con, r) for r in run_ids]
        talk = analysis.summarize(con, conversation) if conversation else None
    if args.json:
        print_json({"db": store.db_path(args.db), "runs": [s.to_dict() for s in summaries],
                    "conversation_run": talk.to_dict() if talk else None})
        return 0
    names = [m.metric for m in summaries[0].metrics] if summaries else []
    table(["run", "prompt", "model", "rows", "errors", *names],
          [[s.run["id"], s.run["prompt_name"], s.run["model_spec"], s.n_outputs, s.n_errors]
           + [next((m.mean for m in s.metrics if m.metric == n), None) for n in names] for s in summaries])
    if talk:
        from workbench.cli.output import fmt
        from workbench.cli.runs_cmd import _show_conversations

        print(f"\nconversations: run {talk.run['id']}, {talk.n_outputs} assistant turns of 8 bundled conversations "
              "(datasets/support_conversations_en.jsonl), each answered after the model's own earlier answers")
        _show_conversations(talk, fmt, table)
    print(f"\nstored in {store.db_path(args.db)}; details: workbench show RUN; side by side: workbench compare "
          f"{run_ids[0]} {run_ids[-1]}" if len(run_ids) > 1 else f"\nstored in {store.db_path(args.db)}",
          file=sys.stderr)
    return 0

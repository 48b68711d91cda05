"""workbench eval: prompts x models over a dataset, scored and stored."""

from __future__ import annotations

import argparse
import sys


def register(sub, common) -> None:
    p = sub.add_parser("eval", parents=[common], help="run prompt variants over a dataset and score them",
                       description="Run every PROMPT_FILE x --model over the dataset; store outputs and scores.")
    p.add_argument("prompts", nargs="+", metavar="PROMPT_FILE")
    p.add_argument("--data", required=True, metavar="DATASET", help="CSV, JSONL or Parquet file")
    p.add_argument("--model", action="append", required=True, metavar="SPEC",
                   help="openai:MODEL, openai:MODEL@BASE_URL, hf:PATH (repeatable)")
    p.add_argument("--metrics", action="append", metavar="LIST",
                   help="comma-separated metrics (default: exact,contains,bleu,chrf,rouge1,rouge2,rougeL,length,"
                        "latency_ms,tokens_out); regex=PATTERN")
    p.add_argument("--limit", type=int, metavar="N", help="only the first N rows")
    p.add_argument("--reference", default="reference", metavar="FIELD", help="column with the reference answer")
    p.add_argument("--lang", choices=["auto", "en", "zh"], default="auto", help="tokenizer language for BLEU")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="override a generation parameter, e.g. temperature=0.7 (repeatable)")
    p.add_argument("-j", "--concurrency", type=int, metavar="N", help="requests in flight per provider")
    p.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS", help="per request")
    p.add_argument("--retries", type=int, default=2, metavar="N", help="retries per request (429, 5xx, timeouts)")
    p.add_argument("--json", action="store_true", help="print a machine-readable summary")
    p.set_defaults(func=run)


def parse_params(items: list[str]) -> dict:
    import yaml

    from workbench.errors import UserError

    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UserError(f"expected KEY=VALUE, got {item!r}", "--param")
        out[key] = yaml.safe_load(value)
    return out


def run(args: argparse.Namespace) -> int:
    import asyncio

    from workbench import analysis, runner, store
    from workbench.cli.output import print_json, table
    from workbench.datasets import load_dataset
    from workbench.errors import UserError
    from workbench.metrics import parse_metrics
    from workbench.templates import load_prompt

    if args.limit is not None and args.limit < 1:
        raise UserError("must be at least 1", "--limit")
    prompts = [load_prompt(p) for p in args.prompts]
    dataset = load_dataset(args.data, reference_field=args.reference, lang=args.lang)
    metrics = parse_metrics(args.metrics)
    plan = runner.plan_eval(prompts, dataset, args.model, metrics, limit=args.limit, params=parse_params(args.param),
                            provider_options={"timeout": args.timeout, "retries": args.retries})
    # Build providers before creating runs: a bad spec or missing key must leave nothing behind.
    from workbench.providers import make_provider
    for spec in dict.fromkeys(args.model):
        make_provider(spec, timeout=args.timeout, retries=args.retries)
    show_progress = not args.json and sys.stderr.isatty()
    run_ids = asyncio.run(runner.execute(plan, args.db, concurrency=args.concurrency,
                                         on_progress=_progress_printer() if show_progress else None))
    with store.connect(args.db) as con:
        summaries = [analysis.summarize(con, r) for r in run_ids]
    if args.json:
        print_json({"db": store.db_path(args.db), "dataset": dataset.path, "runs": [s.to_dict() for s in summaries]})
        return 0
    metric_names = [m.metric for m in summaries[0].metrics] if summaries else []
    rows = [[s.run["id"], s.run["prompt_name"], s.run["model_spec"], s.n_outputs, s.n_errors]
            + [next((m.mean for m in s.metrics if m.metric == n), None) for n in metric_names] for s in summaries]
    table(["run", "prompt", "model", "rows", "errors", *metric_names], rows)
    print(f"\nstored in {store.db_path(args.db)}; details: workbench show RUN", file=sys.stderr)
    return 0


def _progress_printer():
    import time

    last = [0.0]

    def show(progress) -> None:
        now = time.monotonic()
        done = sum(p.done for p in progress)
        total = sum(p.total for p in progress)
        if now - last[0] < 0.2 and done < total:
            return
        last[0] = now
        errors = sum(p.errors for p in progress)
        elapsed = now - min(p.started for p in progress)
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = (total - done) / rate if rate > 0 else 0.0
        width = 30
        filled = int(width * done / total) if total else width
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}  {rate:.1f} rows/s  "
                         f"ETA {eta:.0f}s  errors {errors} ")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show

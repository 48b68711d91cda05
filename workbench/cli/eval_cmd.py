"""workbench eval: prompts x models over a dataset, scored and stored."""

from __future__ import annotations

import argparse
import atexit
import gc
import sys
import threading
import time


def register(sub, common) -> None:
    p = sub.add_parser("eval", parents=[common], help="run prompt variants over a dataset and score them",
                       description="Run every PROMPT_FILE x --model over the dataset; store outputs and scores. "
                                   "With --resume RUN or --retry-errors RUN, finish or repair a stored run instead "
                                   "(no PROMPT_FILE, --data or --model: they come from the store).")
    p.add_argument("prompts", nargs="*", metavar="PROMPT_FILE")
    p.add_argument("--data", metavar="DATASET", help="CSV, JSONL or Parquet file")
    p.add_argument("--model", action="append", metavar="SPEC",
                   help="openai:MODEL, openai:MODEL@BASE_URL, hf:PATH (repeatable)")
    p.add_argument("--metrics", action="append", metavar="LIST",
                   help="comma-separated metrics (default: exact,contains,bleu,chrf,rouge1,rouge2,rougeL,length,"
                        "latency_ms,tokens_out); regex=PATTERN")
    p.add_argument("--limit", type=int, metavar="N", help="only the first N rows")
    p.add_argument("--reference", default="reference", metavar="FIELD", help="column with the reference answer")
    p.add_argument("--lang", choices=["auto", "en", "zh"], default="auto", help="tokenizer language for BLEU")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="override a generation parameter, e.g. temperature=0.7 (repeatable)")
    p.add_argument("-j", "--concurrency", type=int, metavar="N",
                   help="requests in flight per provider (default 16 for API models)")
    p.add_argument("--rpm", type=float, metavar="N", help="at most N requests per minute per provider")
    p.add_argument("--tpm", type=float, metavar="N", help="at most N tokens per minute per provider (estimated "
                                                           "before each request, corrected with the reported usage)")
    p.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS", help="per request (default 60)")
    p.add_argument("--retries", type=int, default=2, metavar="N",
                   help="retries per request on 429, 5xx, timeouts, dropped connections and garbled replies, "
                        "with exponential backoff and jitter that honours Retry-After (default 2)")
    p.add_argument("--no-cache", action="store_true",
                   help="neither read nor fill the response cache (used by default at temperature 0)")
    p.add_argument("--repeat", type=int, default=1, metavar="N",
                   help="run every row N times (bypasses the cache); `show` then reports per-row variance")
    resume = p.add_mutually_exclusive_group()
    resume.add_argument("--resume", metavar="RUN", help="finish a cancelled or killed run: only rows without output")
    resume.add_argument("--retry-errors", metavar="RUN", help="redo only the rows of RUN that ended in an error")
    p.add_argument("--json", action="store_true", help="print a machine-readable summary (and no progress bar)")
    p.set_defaults(func=run)


def parse_params(items: list[str]) -> dict:
    import yaml

    from workbench.authoring.yaml_limits import load_yaml
    from workbench.errors import UserError

    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UserError(f"expected KEY=VALUE, got {item!r}", "--param")
        try:
            out[key] = load_yaml(value)
        except yaml.YAMLError as e:
            raise UserError(f"{key}: invalid YAML value ({getattr(e, 'problem', None) or e})", "--param") from None
    return out


def run(args: argparse.Namespace) -> int:
    import asyncio

    from workbench.cli.output import print_json, table
    from workbench.engine import runner
    from workbench.errors import UserError
    from workbench.providers import make_provider

    # At exit, skip the final garbage collections over the ~1M objects of openai, pandas and pyarrow
    # (~0.2 s of every eval's wall time); everything of ours is closed explicitly before that.
    atexit.register(gc.freeze)
    # What the summary needs afterwards (numpy, scipy's t quantile) loads while requests are in flight.
    requests_out = threading.Event()
    threading.Thread(target=_prefetch, args=(requests_out,), daemon=True).start()

    options = {"timeout": args.timeout, "retries": args.retries, "rpm": args.rpm, "tpm": args.tpm}
    if args.concurrency is not None and args.concurrency < 1:
        raise UserError("must be at least 1", "-j/--concurrency")
    target = args.resume or args.retry_errors
    if target:
        given = [name for name, value in (("PROMPT_FILE", args.prompts), ("--data", args.data),
                                          ("--model", args.model), ("--limit", args.limit),
                                          ("--metrics", args.metrics), ("--param", args.param)) if value]
        if given or args.repeat != 1:
            flag = "--resume" if args.resume else "--retry-errors"
            raise UserError(f"{', '.join(given) or '--repeat'} cannot be changed for a stored run", flag)
        plan = runner.plan_from_run(args.db, target, errors_only=bool(args.retry_errors), provider_options=options,
                                    use_cache=not args.no_cache)
        dataset_path = plan.dataset.path
    else:
        plan = _plan_new(args, options)
        dataset_path = plan.dataset.path
    # Build providers before creating runs: a bad spec or missing key must leave nothing behind.
    providers = {spec: make_provider(spec, **options) for spec in dict.fromkeys(v.model_spec for v in plan.variants)}
    printer = _progress_printer() if not args.json and sys.stderr.isatty() else None

    def on_progress(progress) -> None:
        requests_out.set()
        if printer:
            printer(progress)

    started = time.perf_counter()
    try:
        run_ids = asyncio.run(runner.execute(plan, args.db, concurrency=args.concurrency, providers=providers,
                                             on_progress=on_progress))
    finally:
        requests_out.set()
    elapsed = time.perf_counter() - started
    from workbench import store
    from workbench.evaluation import analysis

    with store.connect(args.db) as con:
        summaries = [analysis.summarize(con, r) for r in run_ids]
    if args.json:
        print_json({"db": store.db_path(args.db), "dataset": dataset_path, "elapsed_s": elapsed,
                    "runs": [s.to_dict() for s in summaries]})
        return 0
    metric_names = [m.metric for m in summaries[0].metrics] if summaries else []
    rows = [[s.run["id"], s.run["prompt_name"], s.run["model_spec"], s.n_outputs, s.n_errors, s.n_cached]
            + [next((m.mean for m in s.metrics if m.metric == n), None) for n in metric_names] for s in summaries]
    table(["run", "prompt", "model", "rows", "errors", "cached", *metric_names], rows)
    unfinished = [s.run["id"] for s in summaries if s.n_outputs < s.n_rows]
    failed = [s.run["id"] for s in summaries if s.n_errors]
    print(f"\nstored in {store.db_path(args.db)}; details: workbench show RUN", file=sys.stderr)
    for run_id in unfinished:
        print(f"run {run_id} is incomplete: workbench eval --resume {run_id}", file=sys.stderr)
    for run_id in failed:
        print(f"run {run_id} has errors (workbench show {run_id}); retry them: workbench eval --retry-errors {run_id}",
              file=sys.stderr)
    return 0


def _prefetch(after: threading.Event) -> None:
    import importlib

    after.wait()

    for name in ("numpy", "scipy.special"):
        try:
            importlib.import_module(name)
        except ImportError:  # the summary will say so itself
            return


def _plan_new(args: argparse.Namespace, options: dict):
    from workbench.authoring.datasets import load_dataset
    from workbench.authoring.templates import load_prompt
    from workbench.engine import runner
    from workbench.errors import UserError
    from workbench.metrics import parse_metrics

    if not args.prompts:
        raise UserError("needs at least one PROMPT_FILE (or --resume RUN / --retry-errors RUN)", "eval")
    if not args.data:
        raise UserError("is required: the dataset to run over", "--data")
    if not args.model:
        raise UserError("is required: at least one model spec", "--model")
    if args.limit is not None and args.limit < 1:
        raise UserError("must be at least 1", "--limit")
    if args.repeat < 1:
        raise UserError("must be at least 1", "--repeat")
    prompts = [load_prompt(p) for p in args.prompts]
    dataset = load_dataset(args.data, reference_field=args.reference, lang=args.lang)
    metrics = parse_metrics(args.metrics)
    return runner.plan_eval(prompts, dataset, args.model, metrics, limit=args.limit, params=parse_params(args.param),
                            repeats=args.repeat, provider_options=options, use_cache=not args.no_cache,
                            db=args.db)


def _progress_printer():
    """A one-line bar on stderr: rows done / total, rows/s, ETA, errors (and cached answers) so far."""
    last = [0.0]
    ended = [False]

    def show(progress) -> None:
        now = time.monotonic()
        done = sum(p.done for p in progress)
        total = sum(p.total for p in progress)
        if ended[0] or (now - last[0] < 0.2 and done < total):
            return
        last[0] = now
        errors = sum(p.errors for p in progress)
        cached = sum(p.cached for p in progress)
        elapsed = now - min(p.started for p in progress)
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = (total - done) / rate if rate > 0 else 0.0
        width = 30
        filled = int(width * done / total) if total else width
        extra = f"  cached {cached}" if cached else ""
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}  {rate:.1f} rows/s  "
                         f"ETA {eta:.0f}s  errors {errors}{extra} ")
        if done >= total:
            sys.stderr.write("\n")
            ended[0] = True
        sys.stderr.flush()

    return show

"""workbench eval: prompts x models over a dataset, scored and stored."""

from __future__ import annotations

import argparse
import atexit
import contextlib
import gc
import os
import sys
import threading
import time

from workbench.defaults import DEFAULT_RETRIES, DEFAULT_TIMEOUT_S


def register(sub, common) -> None:
    p = sub.add_parser("eval", parents=[common], help="run prompt variants over a dataset and score them",
                       description="Run every PROMPT_FILE x --model over the dataset; store outputs and scores. "
                                   "With --resume RUN or --retry-errors RUN, finish or repair a stored run instead "
                                   "(no PROMPT_FILE, --data or --model: they come from the store).")
    p.add_argument("prompts", nargs="*", metavar="PROMPT_FILE")
    p.add_argument("--config", metavar="EVAL_FILE",
                   help="an eval file (YAML): prompts, data, models, metrics, checks, gates, limits in one place; "
                        "paths are relative to it and flags given here override it")
    p.add_argument("--data", metavar="DATASET", help="CSV, JSONL or Parquet file")
    p.add_argument("--model", action="append", metavar="SPEC",
                   help="openai:MODEL, openai:MODEL@BASE_URL, hf:PATH (repeatable; default: the app's default, "
                        "openai:gpt-4o-mini with OPENAI_API_KEY set, else the bundled local model)")
    p.add_argument("--metrics", action="append", metavar="LIST",
                   help="comma-separated metrics (default: exact,contains,bleu,chrf,rouge1,rouge2,rougeL,length,"
                        "latency_ms,tokens_out); regex=PATTERN")
    p.add_argument("--gold-passage", metavar="FIELD",
                   help="dataset field with the gold passage id(s) for retrieval_hit, retrieval_mrr and "
                        "retrieval_recall (default faq_id)")
    p.add_argument("--judge-model", metavar="SPEC",
                   help="the model that scores judge:RUBRIC metrics (default: openai:gpt-4o-mini with OPENAI_API_KEY, "
                        "else the tiny local model, a smoke test, not a judge)")
    p.add_argument("--limit", type=int, metavar="N", help="only the first N rows (after --where / --split)")
    p.add_argument("--where", metavar="EXPR", help="only rows that match, e.g. \"split == 'test'\" or "
                                                   "\"intent in ['refund', 'returns'] and split != 'train'\"")
    p.add_argument("--split", metavar="NAME", help="only rows whose split column is NAME (= --where \"split == 'NAME'\")")
    p.add_argument("--reference", default="reference", metavar="FIELD", help="column with the reference answer")
    p.add_argument("--lang", choices=["auto", "en", "zh"], default="auto", help="tokenizer language for BLEU")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="override a generation parameter, e.g. temperature=0.7 (repeatable)")
    p.add_argument("-j", "--concurrency", type=int, metavar="N",
                   help="requests in flight per provider (default 16 for API models)")
    p.add_argument("--rpm", type=float, metavar="N", help="at most N requests per minute per provider")
    p.add_argument("--tpm", type=float, metavar="N", help="at most N tokens per minute per provider (estimated "
                                                           "before each request, corrected with the reported usage)")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, metavar="SECONDS",
                   help=f"per request (default {DEFAULT_TIMEOUT_S:g})")
    p.add_argument("--retries", type=int, default=DEFAULT_RETRIES, metavar="N",
                   help="retries per request on 429, 5xx, timeouts, dropped connections and garbled replies, "
                        f"with exponential backoff and jitter that honours Retry-After (default {DEFAULT_RETRIES})")
    p.add_argument("--no-cache", action="store_true",
                   help="neither read nor fill the response cache (used by default at temperature 0)")
    p.add_argument("--repeat", type=int, default=1, metavar="N",
                   help="run every row N times (bypasses the cache); `show` then reports per-row variance")
    p.add_argument("--history", choices=["gold", "own"], default=None,
                   help="conversation datasets: each assistant turn from the reference turns before it (gold, the "
                        "default; turns run in parallel) or from the model's own earlier answers (own; in order)")
    resume = p.add_mutually_exclusive_group()
    resume.add_argument("--resume", metavar="RUN", help="finish a cancelled or killed run: only rows without output")
    resume.add_argument("--retry-errors", metavar="RUN", help="redo only the rows of RUN that ended in an error")
    p.add_argument("--check", action="append", default=[], metavar="CHECK",
                   help="a pass/fail check of every output, stored as a 0/1 score named after it: contains:TEXT, "
                        "not-contains:, icontains:, equals:, starts-with:, contains-any:A,B, contains-all:A,B, "
                        "regex:, is-json[:SCHEMA], json-path:$.key=VALUE, max-length:N (repeatable); a dataset's "
                        "__expected column or JSONL `checks` list adds a row's own")
    p.add_argument("--gate", action="append", default=[], metavar="GATE",
                   help="fail (exit 3) unless METRIC[.STAT] OP NUMBER holds for every run, e.g. exact>=0.6, "
                        "bleu.ci_low>=0.15, pass_rate>=0.95, latency_ms.p95<=2000 (repeatable)")
    p.add_argument("--gate-vs", nargs=2, action="append", default=[], metavar=("RUN", "GATE"),
                   help="a gate on the paired per-row difference against baseline RUN, e.g. RUN 'bleu>=-0.01'")
    p.add_argument("--prices", metavar="FILE",
                   help="model prices (YAML: SPEC: {input: USD, output: USD} per million tokens) over the built-in "
                        "OpenAI list prices; default $WORKBENCH_PRICES")
    p.add_argument("--junit", metavar="FILE", help="write JUnit XML: a test case per gate and per failing check")
    p.add_argument("--json", action="store_true", help="print a machine-readable summary (and no progress bar)")
    p.set_defaults(func=run)
    DEFAULTS.update({a.dest: a.default for a in p._actions})


DEFAULTS: dict = {}  # each flag's default: a flag still at it takes the eval file's value
# eval file key -> flag destination
CONFIG_FLAGS = {"prompts": "prompts", "data": "data", "models": "model", "metrics": "metrics", "checks": "check",
                "gates": "gate", "limit": "limit", "repeat": "repeat", "concurrency": "concurrency",
                "retries": "retries", "timeout": "timeout", "rpm": "rpm", "tpm": "tpm", "reference": "reference",
                "lang": "lang", "junit": "junit", "db": "db", "prices": "prices",
                "judge_model": "judge_model", "gold_passage": "gold_passage"}


def apply_config(args: argparse.Namespace) -> dict:
    """Fill the flags left at their defaults from --config; returns the eval file's generation parameters."""
    if not args.config:
        return {}
    from workbench.authoring.eval_config import load_eval_config

    config = load_eval_config(args.config)
    for key, dest in CONFIG_FLAGS.items():
        if key in config and getattr(args, dest) in (DEFAULTS.get(dest), [], None):
            setattr(args, dest, config[key])
    if "cache" in config and not args.no_cache:
        args.no_cache = not config["cache"]
    if "gate_vs" in config and not args.gate_vs:
        args.gate_vs = [[g["run"], g["gate"]] for g in config["gate_vs"]]
    return config.get("params", {})


def parse_params(items: list[str]) -> dict:
    import yaml

    from workbench.authoring.yaml_limits import load_yaml
    from workbench.errors import UserError

    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UserError(f"expected KEY=VALUE, got {item!r}", setting="params")
        try:
            out[key] = load_yaml(value)
        except yaml.YAMLError as e:
            raise UserError(f"{key}: invalid YAML value ({getattr(e, 'problem', None) or e})", setting="params") from None
    return out


def run(args: argparse.Namespace) -> int:
    from workbench import store
    from workbench.providers.pricing import price_file

    config_params = apply_config(args)
    # price_file: costs in the summary and gates use it; a bad file is named before any run.
    # kept_open: the eval's units of work, its summary and gates open the file once.
    with price_file(args.prices), store.kept_open(args.db), _imports_frozen(args.model or []):
        return _run(args, config_params)


@contextlib.contextmanager
def _imports_frozen(specs: list[str]):
    """Import the models' provider modules first, then keep the garbage collector off what imports made.

    openai's SDK alone leaves ~1M objects that every full collection walks again: a cached re-run of 10,000
    rows spent 0.6 s of its 2 s in the collector. Frozen for the command only (tests run it in-process)."""
    from workbench.errors import UserError
    from workbench.providers import provider_class, split_spec

    for spec in specs:
        try:
            provider_class(split_spec(spec)[0])
        except UserError:
            pass  # the run names a bad spec, with its context
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _run(args: argparse.Namespace, config_params: dict) -> int:
    from workbench import api
    from workbench.authoring.row_filter import where_text
    from workbench.cli.output import print_json, table
    from workbench.errors import UserError

    # At exit, skip the final garbage collections over the ~1M objects of openai, pandas and pyarrow
    # (~0.2 s of every eval's wall time); everything of ours is closed explicitly before that.
    atexit.register(gc.freeze)
    # What the summary needs afterwards (numpy, scipy's t quantile) loads while requests are in flight.
    requests_out, prefetch_late = threading.Event(), threading.Event()
    threading.Thread(target=_prefetch, args=(requests_out, prefetch_late), daemon=True).start()
    printer = _progress_printer() if not args.json and sys.stderr.isatty() else None

    def on_progress(progress) -> None:
        # only while requests are in flight: not for 1 row (no interval, no scipy) nor answers all from the cache
        if sum(p.total - p.cached for p in progress) > 1:
            requests_out.set()
        if printer:
            printer(progress)

    options = {"timeout": args.timeout, "retries": args.retries, "rpm": args.rpm, "tpm": args.tpm,
               "concurrency": args.concurrency, "cache": not args.no_cache, "on_progress": on_progress}
    gates = parse_gates(args)
    if args.concurrency is not None and args.concurrency < 1:
        raise UserError("must be at least 1", setting="concurrency")
    target = args.resume or args.retry_errors
    started = time.perf_counter()
    if target:
        _check_stored(args)
        evaluation = api.resume(target, args.db, errors_only=bool(args.retry_errors), **options)
    else:
        _check_new(args)
        evaluation = api.evaluate(args.prompts, args.data, args.model, args.metrics, args.db, args.limit,
                                  params={**config_params, **parse_params(args.param)}, repeats=args.repeat,
                                  reference=args.reference, lang=args.lang, where=where_text(args.where, args.split),
                                  checks=args.check, history=args.history or "gold", judge_model=args.judge_model,
                                  gold_passage=args.gold_passage, **options)
    # A prefetch not started by now has no use: the summary imports what it needs. (Never start it later either:
    # a daemon thread inside a C extension's import while the interpreter exits on an error can crash it, -11 seen.)
    prefetch_late.set()
    requests_out.set()
    elapsed = time.perf_counter() - started
    summaries = evaluation.summaries()
    results = _gate_results(evaluation, gates, args.junit, summaries)
    code = 3 if any(not r.passed for r in results) else 0
    if args.json:
        print_json({"db": evaluation.db, "dataset": evaluation.dataset, "elapsed_s": elapsed,
                    "runs": [s.to_dict() for s in summaries],
                    "gates": [{"run_id": r.run_id, "gate": r.gate.label, "value": r.value, "passed": r.passed,
                               "note": r.note} for r in results]})
        return code
    metric_names = [m.metric for m in summaries[0].metrics] if summaries else []
    rows = [[s.run["id"], s.run["prompt_name"], s.run["model_spec"], s.n_outputs, s.n_errors, s.n_cached]
            + [next((m.mean for m in s.metrics if m.metric == n), None) for n in metric_names]
            + ["unknown" if s.cost_usd is None else f"{s.cost_usd:.6f}"] for s in summaries]
    table(["run", "prompt", "model", "rows", "errors", "cached", *metric_names, "cost_usd"], rows)
    unfinished = [s.run["id"] for s in summaries if s.n_outputs < s.n_rows]
    failed = [s.run["id"] for s in summaries if s.n_errors]
    print(f"\nstored in {evaluation.db}; details: workbench show RUN", file=sys.stderr)
    for run_id in unfinished:
        print(f"run {run_id} is incomplete: workbench eval --resume {run_id}", file=sys.stderr)
    for run_id in failed:
        print(f"run {run_id} has errors (workbench show {run_id}); retry them: workbench eval --retry-errors {run_id}",
              file=sys.stderr)
    if results:
        print()
        for r in results:
            print(r.line())
        print(f"{sum(not r.passed for r in results)} of {len(results)} gates failed" if code else
              f"all {len(results)} gates passed")
    return code


def _check_stored(args: argparse.Namespace) -> None:
    """--resume / --retry-errors take the stored run's settings: a setting given again is refused."""
    from workbench.errors import UserError

    given = [name for name, value in (("PROMPT_FILE", args.prompts), ("--data", args.data),
                                      ("--model", args.model), ("--limit", args.limit),
                                      ("--where", args.where), ("--split", args.split),
                                      ("--metrics", args.metrics), ("--param", args.param),
                                      ("--check", args.check), ("--judge-model", args.judge_model),
                                      ("--gold-passage", args.gold_passage), ("--history", args.history))
             if value]
    if given or args.repeat != 1:
        raise UserError(f"{', '.join(given) or '--repeat'} cannot be changed for a stored run",
                        setting="resume" if args.resume else "retry_errors")


def parse_gates(args: argparse.Namespace) -> list:
    from workbench.evaluation.gates import parse_gate

    return ([parse_gate(g) for g in args.gate]
            + [parse_gate(g, baseline=run, where="--gate-vs") for run, g in args.gate_vs])


def _gate_results(evaluation, gates: list, junit: str | None, summaries) -> list:
    """Gates on every run of the evaluation; with `junit`, the JUnit file (gates and failing checks)."""
    from workbench.evaluation import gates as gate_lib

    results = gate_lib.evaluate_gates(evaluation.db, evaluation.runs, gates) if gates else []
    if junit:
        from workbench.authoring.datasets import load_dataset
        from workbench.evaluation.junit import write_junit
        from workbench.evaluation.row_checks import failed_row_checks

        own = None
        if evaluation.dataset and os.path.isfile(evaluation.dataset):
            own = failed_row_checks(load_dataset(evaluation.dataset))
        failures = gate_lib.failed_checks(evaluation.db, evaluation.runs, own)
        labels = {s.run["id"]: f"{s.run['prompt_name']} x {s.run['model_spec']}" for s in summaries}
        write_junit(junit, results, failures, labels)
    return results


def _prefetch(after: threading.Event, late: threading.Event) -> None:
    import importlib

    after.wait()
    if late.is_set():
        return
    for name in ("numpy", "scipy.special"):
        try:
            importlib.import_module(name)
        except ImportError:  # the summary will say so itself
            return


def _check_new(args: argparse.Namespace) -> None:
    """What a new evaluation needs from the command line (the rest is checked by workbench.api.evaluate)."""
    from workbench.errors import UserError

    if not args.prompts:
        raise UserError("needs at least one PROMPT_FILE (or --resume RUN / --retry-errors RUN)", "eval")
    if not args.data:
        raise UserError("is required: the dataset to run over", setting="data")
    lang = None
    if not args.model:
        lang = _dataset_lang(args)
        args.model = [_default_model(lang, args.prompts)]
    _warn_languages(args, lang)


def _dataset_lang(args: argparse.Namespace) -> str | None:
    """The dataset's language (en, zh, auto for mixed rows), None when it cannot be read (the evaluation says why)."""
    from workbench.authoring.datasets import load_dataset
    from workbench.errors import UserError

    if not os.path.isfile(args.data):
        return None
    try:
        return load_dataset(args.data, args.reference, args.lang).lang
    except UserError:
        return None


def _default_model(lang: str | None, prompts: list[str]) -> str:
    """The app's default when no --model is given: the API model with a key, else the bundled local model for the
    dataset's language (for knowledge prompts, its knowledge model where there is one)."""
    from workbench.finetune.default_model import (
        chosen_because,
        default_model_specs,
        default_spec,
        ensure_default_model,
        local_model_for,
    )

    spec = default_spec(lang)
    if spec in default_model_specs():
        spec = local_model_for(prompts, lang)
    print(f"workbench: no --model given: using {spec} ({chosen_because(spec, lang)})", file=sys.stderr)
    if spec in default_model_specs():
        ensure_default_model(progress=sys.stderr.isatty(), lang=lang)
    return spec


def _warn_languages(args: argparse.Namespace, lang: str | None = None) -> None:
    """A local model whose card names its languages, on a dataset in another one (`lang`, read here when not
    given): say so before the run."""
    from workbench.finetune.card import language_warnings, trained_languages

    if not any(trained_languages(spec) for spec in args.model):
        return
    lang = lang or _dataset_lang(args)
    for line in language_warnings(args.model, lang) if lang else []:
        print(f"workbench: warning: {line}", file=sys.stderr)


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

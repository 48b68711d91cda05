"""workbench judge score | pairwise | list | rubrics: LLM-as-judge on stored runs (workbench.evaluation.judging,
workbench.evaluation.pairwise_judge)."""

from __future__ import annotations

import argparse
import sys

from workbench.defaults import DEFAULT_RETRIES, DEFAULT_TIMEOUT_S


def _engine_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--judge-model", metavar="SPEC",
                   help="the judge (default: openai:gpt-4o-mini with OPENAI_API_KEY, else the tiny local model: "
                        "a smoke test, not a judge)")
    p.add_argument("-j", "--concurrency", type=int, metavar="N", help="judge requests in flight")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, metavar="SECONDS")
    p.add_argument("--retries", type=int, default=DEFAULT_RETRIES, metavar="N")
    p.add_argument("--no-cache", action="store_true", help="neither read nor fill the response cache")
    p.add_argument("--json", action="store_true", help="print a machine-readable result")


def register(sub, common) -> None:
    p = sub.add_parser("judge", help="judge stored runs with a rubric (scores, or pairwise with both orders)")
    jsub = p.add_subparsers(dest="judge_command", metavar="SUBCOMMAND")
    s = jsub.add_parser("score", parents=[common], help="score a run's answers with rubrics (judge:RUBRIC metrics)")
    s.add_argument("runs", nargs="+", metavar="RUN")
    s.add_argument("--rubric", action="append", required=True, metavar="NAME",
                   help="a rubric in prompts/judges/ (or a path); repeatable")
    _engine_flags(s)
    s.set_defaults(func=score)
    pw = jsub.add_parser("pairwise", parents=[common], help="which run answered each row better, asked in both orders")
    pw.add_argument("run_a", metavar="RUN_A")
    pw.add_argument("run_b", metavar="RUN_B")
    pw.add_argument("--rubric", required=True, metavar="NAME")
    _engine_flags(pw)
    pw.set_defaults(func=pairwise)
    ls = jsub.add_parser("list", parents=[common], help="pairwise judge comparisons made so far")
    ls.set_defaults(func=list_comparisons)
    r = jsub.add_parser("rubrics", help="the rubrics available here")
    r.set_defaults(func=rubrics)
    p.set_defaults(func=lambda args: (p.print_help(), 0)[1])


def _options(args: argparse.Namespace) -> dict:
    from workbench.errors import UserError

    if args.concurrency is not None and args.concurrency < 1:
        raise UserError("must be at least 1", setting="concurrency")
    return {"concurrency": args.concurrency, "timeout": args.timeout, "retries": args.retries,
            "cache": not args.no_cache}


def score(args: argparse.Namespace) -> int:
    from workbench import api
    from workbench.cli.output import print_json, table

    results = api.judge(args.runs, args.rubric, args.judge_model, args.db, **_options(args))
    if args.json:
        print_json([vars(r) for r in results])
        return 0
    table(["run", "metric", "judged", "errors", "skipped", "judge run"],
          [[r.run_id, r.metric, r.judged, r.errors, r.skipped, r.judge_run] for r in results])
    if any(r.errors for r in results):
        print("errors per kind: workbench show RUN", file=sys.stderr)
    return 0


def pairwise(args: argparse.Namespace) -> int:
    from workbench import api
    from workbench.cli.output import print_json

    rep = api.judge_pairwise(args.run_a, args.run_b, args.rubric, args.judge_model, args.db, **_options(args))
    if args.json:
        print_json(rep.to_dict())
        return 0
    for line in rep.lines():
        print(line)
    print(f"rank with it: workbench leaderboard --judge {rep.comparison_id}", file=sys.stderr)
    return 0


def list_comparisons(args: argparse.Namespace) -> int:
    from workbench import store
    from workbench.cli.output import table

    with store.connect(args.db) as con:
        df = store.list_comparisons(con)
    table(["comparison", "run_a", "run_b", "rubric", "judge", "created"],
          [[c.id, c.run_a, c.run_b, c.rubric, c.judge_model, str(c.created_at)[:19]] for c in df.itertuples()])
    return 0


def rubrics(args: argparse.Namespace) -> int:
    from workbench.authoring.rubrics import list_rubrics, load_rubric
    from workbench.cli.output import table

    rows = []
    for name in list_rubrics():
        r = load_rubric(name)
        rows.append([name, r.scale, r.lang, r.description])
    table(["rubric", "scale", "lang", "description"], rows)
    return 0

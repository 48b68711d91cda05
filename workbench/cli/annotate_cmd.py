"""workbench annotate create | list | agreement | export; workbench leaderboard | trust | significance."""

from __future__ import annotations

import argparse
import sys


def register(sub, common) -> None:
    p = sub.add_parser("annotate", help="blind human rating sessions: create, list, agreement, export",
                       description="Rate outputs by hand in the app (Annotate page); create sessions, measure "
                                   "agreement and export ratings or training data here.")
    asub = p.add_subparsers(dest="annotate_command", metavar="ACTION")
    p.set_defaults(func=lambda args: p.print_help() or 0)

    c = asub.add_parser("create", parents=[common], help="a session over one or more runs (or pairs of runs)")
    c.add_argument("--runs", nargs="+", required=True, metavar="RUN", help="run ids (or unique prefixes)")
    c.add_argument("--pairwise", action="store_true", help="compare the runs' answers to the same row side by side")
    c.add_argument("--scale", choices=["likert", "thumbs"], help="single outputs: Likert 1-5 (default) or thumbs")
    c.add_argument("--unit", choices=["conversation", "turn"], help="conversation runs: rate whole conversations "
                                                                  "(default) or single turns, each after the "
                                                                  "conversation so far")
    c.add_argument("--k", type=int, default=1, metavar="N", help="annotators per item (default 1)")
    c.add_argument("--seed", type=int, metavar="S", help="item order and A/B sides (default: random, stored)")
    c.add_argument("--annotators", metavar="NAMES", help="comma-separated roster: items are dealt out now; "
                                                         "without it anyone can join and claims items as they go")
    c.add_argument("--rubric", metavar="TEXT", help="shown to annotators (default: a short rubric for the scale)")
    c.add_argument("--tags", metavar="LIST", help="comma-separated tag choices")
    c.add_argument("--lang", choices=["en", "zh"], default="en",
                   help="language of the default rubric and tags (default en; zh: Simplified Chinese)")
    c.add_argument("--show-fields", metavar="LIST",
                   help="comma-separated row fields raters see (default: the variables of the runs' prompts; a "
                        "field such as intent hints at the expected answer, so it is hidden unless named)")
    c.add_argument("--name", metavar="NAME")
    c.add_argument("--claim-timeout", type=float, default=900.0, metavar="SECONDS",
                   help="open sessions: an unrated claim goes back to the pool after this long (default 900 = "
                        "15 minutes), or at once when its rater stops")
    c.add_argument("--passages", action="store_true",
                   help="show annotators the passages a knowledge prompt retrieved for each answer")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=create)

    ls = asub.add_parser("list", parents=[common], help="sessions with their progress")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=list_sessions)

    a = asub.add_parser("agreement", parents=[common], help="Cohen's kappa, Krippendorff's alpha, disputed items")
    a.add_argument("session", metavar="SESSION")
    a.add_argument("--min-spread", type=int, default=2, metavar="N", help="Likert: points apart to count as a "
                                                                          "dispute (default 2)")
    a.add_argument("--json", action="store_true")
    a.set_defaults(func=agreement)

    e = asub.add_parser("export", parents=[common], help="ratings (CSV/JSONL), SFT chat JSONL or DPO pairs")
    e.add_argument("session", metavar="SESSION")
    e.add_argument("--format", choices=["ratings", "sft", "dpo"], default="ratings")
    e.add_argument("-o", "--output", metavar="FILE", help="default: SESSION-FORMAT.jsonl; - for standard output; "
                                                              "ratings go to CSV when FILE ends in .csv")
    e.add_argument("--min-rating", type=float, metavar="N", help="sft: mean rating at least N (Likert default 4; "
                                                                 "thumbs default 1 = every annotator up)")
    e.set_defaults(func=export)

    lb = sub.add_parser("leaderboard", parents=[common], help="Bradley-Terry ranking of variants from pairwise votes")
    lb.add_argument("sessions", nargs="*", metavar="SESSION")
    lb.add_argument("--judge", action="append", default=[], metavar="COMPARISON",
                    help="a pairwise judge comparison (workbench judge list): ranked on its own, apart from the "
                         "humans, unless --mix-judge (repeatable)")
    lb.add_argument("--mix-judge", action="store_true", help="one ranking from human and judge votes together")
    lb.add_argument("--boot", type=int, default=500, metavar="N", help="bootstrap resamples (default 500)")
    lb.add_argument("--seed", type=int, default=0)
    lb.add_argument("--json", action="store_true")
    lb.set_defaults(func=leaderboard)

    t = sub.add_parser("trust", parents=[common], help="which automatic metric tracks the human ratings")
    t.add_argument("sessions", nargs="+", metavar="SESSION")
    t.add_argument("--json", action="store_true")
    t.set_defaults(func=trust)

    s = sub.add_parser("significance", parents=[common],
                       help="is B better than A? paired bootstrap CI and Wilcoxon/sign tests per metric")
    s.add_argument("run_a", metavar="RUN_A")
    s.add_argument("run_b", metavar="RUN_B")
    s.add_argument("--boot", type=int, default=2000, metavar="N", help="bootstrap resamples (default 2000)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=significance)


def _split(text: str | None) -> list[str] | None:
    return [x.strip() for x in text.split(",") if x.strip()] if text else None


def _a(unit: str) -> str:
    return {"output": "an output", "conversation": "a whole conversation", "turn": "one turn of a conversation"}[unit]


def create(args: argparse.Namespace) -> int:
    from workbench import store
    from workbench.cli.output import print_json
    from workbench.rating import annotation

    spec = annotation.SessionSpec(runs=args.runs, pairwise=args.pairwise, k=args.k, seed=args.seed,
                                  scale=args.scale, rubric=args.rubric, annotators=_split(args.annotators),
                                  name=args.name, claim_timeout=args.claim_timeout, unit=args.unit,
                                  show_passages=args.passages, lang=args.lang, tags=annotation.default_tags(args.lang),
                                  show_fields=None if args.show_fields is None else _split(args.show_fields) or [])
    if args.tags is not None:
        spec.tags = _split(args.tags) or []
    with store.connect(args.db) as con:
        sid = annotation.create_session(con, spec)
        info = store.get_session(con, sid)
    if args.json:
        print_json({k: info[k] for k in ("id", "kind", "scale", "runs", "seed", "k", "annotators", "n_items",
                                         "claim_timeout", "unit", "show_passages", "show_fields")})
        return 0
    print(sid)
    print(f"{info['n_items']} {info['kind']} items ({info['scale']}, each {_a(info['unit'])}), k={info['k']}, "
          f"seed {info['seed']}; "
          "rate them in `workbench app` (Annotate page)", file=sys.stderr)
    return 0


def list_sessions(args: argparse.Namespace) -> int:
    from workbench import store
    from workbench.cli.output import print_json, table

    with store.connect(args.db) as con:
        df = store.list_sessions(con)
    if args.json:
        print_json([{**r, "runs": list(r["runs"])} for r in df.to_dict(orient="records")])
        return 0
    if df.empty:
        print("no sessions yet: workbench annotate create --runs RUN [RUN ...]", file=sys.stderr)
        return 0
    table(["session", "name", "kind", "scale", "item", "runs", "items", "k", "ratings", "annotators", "created"],
          [[r.id, r.name or "", r.kind, r.scale, r.unit or "", len(r.runs), r.n_items, r.k,
            f"{r.n_ratings}/{r.n_items * r.k}",
            r.n_annotators, str(r.created_at)[:19]] for r in df.itertuples()])
    return 0


def agreement(args: argparse.Namespace) -> int:
    from workbench import store
    from workbench.cli.output import fmt, print_json, table
    from workbench.rating import agreement as agr

    with store.connect(args.db) as con:
        sid = store.resolve_session(con, args.session)
        result = agr.session_agreement(con, sid)
        disputed = agr.disagreements(con, sid, args.min_spread)
    if args.json:
        print_json({**result.to_dict(), "disagreements": disputed.to_dict(orient="records")})
        return 0
    if not result.n_ratings:
        print(f"session {sid}: no ratings yet (rate in `workbench app`, Annotate page)")
        return 0
    print(f"session {sid}: {result.n_ratings} {result.scale} ratings by {result.n_annotators} annotators; "
          f"{result.n_items} items rated by two or more")
    print(f"Krippendorff's alpha ({result.level}): {fmt(result.alpha, 3)}")
    if result.pairs:
        print()
        headers = ["annotator A", "annotator B", "items", "Cohen's kappa", "agree"]
        if result.scale == "likert":
            headers.insert(4, "weighted kappa")
        table(headers, [[p.annotator_a, p.annotator_b, p.n, fmt(p.kappa, 3),
                         *([fmt(p.weighted_kappa, 3)] if result.scale == "likert" else []), f"{p.percent:.0%}"]
                        for p in result.pairs])
    print(f"\n{len(disputed)} disputed items" + (" (adjudicate them on the Leaderboard page):" if len(disputed) else ""))
    for r in disputed.head(20).itertuples():
        votes = ", ".join(f"{k} {v}" for k, v in r.ratings.items())
        print(f"  item {r.item_idx} (row {r.row_idx}): {votes}")
    return 0


def export(args: argparse.Namespace) -> int:
    from workbench import store
    from workbench.files import shown
    from workbench.rating import training_data

    with store.connect(args.db) as con:
        sid = store.resolve_session(con, args.session)
        path = args.output or f"{sid}-{args.format}.jsonl"
        skipped: dict[str, int] = {}
        n = training_data.export(con, sid, args.format, path, args.min_rating, skipped)
    print(f"wrote {n} {args.format} records to {shown(path)}", file=sys.stderr)
    for why, count in skipped.items():
        what = {"identical": "pairs whose two answers are the same text",
                "duplicate": "conversations already written (the same prompt and answer)"}[why]
        print(f"skipped {count} {what}", file=sys.stderr)
    return 0


def leaderboard(args: argparse.Namespace) -> int:
    from workbench import store
    from workbench.cli.output import fmt, print_json, table
    from workbench.errors import UserError
    from workbench.rating import leaderboard as lb

    if not args.sessions and not args.judge:
        raise UserError("give a pairwise SESSION or a judge comparison", setting="judge")
    with store.connect(args.db) as con:
        sids = [store.resolve_session(con, s) for s in args.sessions]
        apart = args.judge and sids and not args.mix_judge
        boards = ([("humans", lb.build(con, sids, n_boot=args.boot, seed=args.seed)),
                   ("judge", lb.build(con, [], n_boot=args.boot, seed=args.seed, judge=args.judge))] if apart else
                  [("votes", lb.build(con, sids, n_boot=args.boot, seed=args.seed, judge=args.judge,
                                      mix=args.mix_judge))])
    if args.json:
        print_json({name: b.to_dict() for name, b in boards} if apart else boards[0][1].to_dict())
        return 0
    for name, board in boards:
        if apart:
            print(f"\n== {name} ==")
        _print_board(board, fmt, table, lb)
    return 0


def _print_board(board, fmt, table, lb) -> None:
    if not board.standings:
        print(lb.NO_VOTES)
        return
    print(f"{board.n_votes} votes ({board.n_ties} ties, {board.n_both_bad} both bad, each counted as half a win "
          f"per side); Bradley-Terry strength, {board.level:.0%} CI from {board.n_boot} bootstrap resamples")
    table(["rank", "prompt", "model", "run", "strength", "95% CI", "wins", "ties", "losses"],
          [[s.rank, s.prompt, s.model, s.run_id, f"{s.strength:+.3f}", f"[{fmt(s.ci_low, 3)}, {fmt(s.ci_high, 3)}]",
            s.wins, s.ties, s.losses] for s in board.standings])
    for note in board.notes:
        print(f"note: {note}", file=sys.stderr)


def trust(args: argparse.Namespace) -> int:
    from workbench import store
    from workbench.cli.output import fmt, print_json, table
    from workbench.rating import trust as tr

    with store.connect(args.db) as con:
        sids = [store.resolve_session(con, s) for s in args.sessions]
        rep = tr.report(con, sids)
    if args.json:
        print_json(rep.to_dict())
        return 0
    if rep.correlations:
        print(f"correlation with human ratings over {rep.n_outputs} outputs (95% CI by Fisher z):")
        table(["metric", "scale", "n", "Spearman", "95% CI", "Kendall", "95% CI"],
              [[c.metric, c.scale, c.n, fmt(c.spearman, 3), f"[{fmt(c.spearman_ci[0], 3)}, {fmt(c.spearman_ci[1], 3)}]",
                fmt(c.kendall, 3), f"[{fmt(c.kendall_ci[0], 3)}, {fmt(c.kendall_ci[1], 3)}]"]
               for c in rep.correlations])
    if rep.judges:
        print("\njudges against the human ratings (kappa vs the humans' median; alpha with the judge as one more "
              "annotator, next to the humans' alone):")
        table(["judge", "scale", "n", "kappa", "alpha with judge", "alpha humans", "Spearman", "note"],
              [[j.judge, j.scale, j.n, fmt(j.kappa, 3), fmt(j.alpha_with_judge, 3), fmt(j.alpha_humans, 3),
                fmt(j.spearman, 3), j.note] for j in rep.judges])
    if rep.votes:
        print(f"\nagreement with {rep.n_votes} decisive pairwise votes (95% Wilson CI):")
        table(["metric", "agrees", "votes", "95% CI", "metric ties"],
              [[v.metric, f"{v.rate:.0%}" if v.n else "-", v.n, f"[{fmt(v.ci[0], 3)}, {fmt(v.ci[1], 3)}]",
                v.metric_ties] for v in rep.votes])
    if not rep.correlations and not rep.votes:
        print("no ratings yet to compare the metrics with", file=sys.stderr)
    for note in rep.notes:
        print(f"note: {note}", file=sys.stderr)
    return 0


def significance(args: argparse.Namespace) -> int:
    from workbench import store
    from workbench.cli.output import print_json
    from workbench.evaluation import stats

    with store.connect(args.db) as con:
        a, b = store.resolve_run(con, args.run_a), store.resolve_run(con, args.run_b)
        results = stats.compare(con, a, b, n_boot=args.boot, seed=args.seed)
    if args.json:
        print_json({"run_a": a, "run_b": b, "metrics": [{**vars(r), "sentence": r.sentence(a, b)} for r in results]})
        return 0
    print(f"A = {a}, B = {b}; paired over the rows both scored")
    for r in results:
        print(r.sentence())
    return 0

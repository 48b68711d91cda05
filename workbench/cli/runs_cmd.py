"""workbench runs | show | compare | export: read stored runs."""

from __future__ import annotations

import argparse
import json
import sys


def register(sub, common) -> None:
    p = sub.add_parser("runs", parents=[common], help="list runs")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=runs)

    p = sub.add_parser("show", parents=[common], help="per-metric means with 95%% CIs, errors, latency of a run")
    p.add_argument("run", metavar="RUN", help="run id (or a unique prefix)")
    p.add_argument("--gold-passage", metavar="FIELD",
                   help="knowledge runs: the dataset field naming the right passage (default faq_id when present)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=show)

    p = sub.add_parser("compare", parents=[common], help="per-metric deltas and row-level wins/ties/losses, B vs A")
    p.add_argument("run_a", metavar="RUN_A")
    p.add_argument("run_b", metavar="RUN_B")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=compare)

    p = sub.add_parser("export", parents=[common], help="write a run's outputs and scores to a file")
    p.add_argument("run", metavar="RUN")
    p.add_argument("--format", choices=["csv", "jsonl", "parquet", "promptfoo"], default="jsonl",
                   help="promptfoo: the run as a promptfooconfig.yaml (prompt, model, tests and checks that map)")
    p.add_argument("-o", "--output", metavar="FILE",
                   help="default: RUN.FORMAT (RUN.promptfooconfig.yaml); - for standard output")
    p.add_argument("--encoding", choices=["utf-8-sig", "utf-8", "gbk"],
                   help="CSV text encoding: utf-8-sig (default for a file; UTF-8 with a BOM, which Excel opens as "
                        "UTF-8), utf-8 (no BOM; the default for -o -) or gbk (a character GBK lacks is an error "
                        "naming its row and field)")
    p.set_defaults(func=export)


def runs(args: argparse.Namespace) -> int:
    from workbench import store
    from workbench.cli.output import print_json, table

    with store.connect(args.db) as con:
        df = store.list_runs(con)
    if args.json:
        print_json(df.to_dict(orient="records"))
        return 0
    if df.empty:
        print("no runs yet: workbench eval PROMPT_FILE --data DATASET --model SPEC", file=sys.stderr)
        return 0
    table(["run", "prompt", "version", "model", "dataset", "rows", "outputs", "errors", "status", "created"],
          [[r.id, r.prompt_name, r.prompt_hash[:8], r.model_spec, r.dataset, r.n_rows * r.repeats, r.n_outputs,
            r.n_errors, r.status, str(r.created_at)[:19]] for r in df.itertuples()])
    return 0


def show(args: argparse.Namespace) -> int:
    from workbench import store
    from workbench.cli.output import fmt, print_json, table
    from workbench.evaluation import analysis

    with store.connect(args.db) as con:
        s = analysis.summarize(con, store.resolve_run(con, args.run))
        retrieval = _retrieval(con, s.run, args.gold_passage)
        judges = store.judge_runs(con, [s.run["id"]])
        judge_errors = store.judge_error_counts(con, s.run["id"])
    if args.json:
        extra = {"judges": [{**j, "errors_by_kind": judge_errors.get(j["metric"], {})}
                            for j in judges.drop(columns="created_at").to_dict("records")]}
        print_json({**s.to_dict(), **({"retrieval": retrieval} if retrieval else {}), **extra})
        return 0
    r = s.run
    print(f"run {r['id']}  {r['prompt_name']} ({r['prompt_hash'][:8]})  x  {r['model_spec']}  [{r['status']}]")
    if retrieval:
        _show_retrieval(retrieval, r, fmt)
    print(f"rows {s.n_rows}  outputs {s.n_outputs}  errors {s.n_errors}"
          + (f" ({', '.join(f'{k} {v}' for k, v in s.errors_by_kind.items())})" if s.errors_by_kind else "")
          + f"  latency p50 {fmt(s.latency_p50, 1)} ms  p95 {fmt(s.latency_p95, 1)} ms")
    print(f"cost {s.cost_note}" if s.cost_usd is None else f"cost ${s.cost_usd:.6f} ({s.cost_note})")
    _show_judges(judges, judge_errors, fmt)
    print()
    table(["metric", "mean", "95% CI", "n"],
          [[m.metric, m.mean, f"[{fmt(m.ci_low)}, {fmt(m.ci_high)}]", m.n] for m in s.metrics])
    _show_batch_facts(s, fmt, table)
    if s.conversations:
        _show_conversations(s, fmt, table)
    if r.get("signatures"):
        print()
        for metric, sig in r["signatures"].items():
            print(f"  {metric}: {sig}")
    return 0


def _show_judges(judges, errors: dict, fmt) -> None:
    """The judges' own cost (their requests are runs apart) and their failed judgements, per judge."""
    for j in judges.itertuples():
        kinds = errors.get(j.metric, {})
        failed = f"; failed judgements: {', '.join(f'{k} {v}' for k, v in kinds.items())}" if kinds else ""
        print(f"judge {j.metric} by {j.model_spec} (run {j.judge_run}): {j.calls} calls, {j.errors} request errors, "
              f"tokens {fmt(j.tokens_in, 0)} in / {fmt(j.tokens_out, 0)} out, latency mean "
              f"{fmt(j.latency_ms_mean, 1)} ms, cached {j.cached}{failed}")


def _retrieval(con, run: dict, gold_field: str | None) -> dict | None:
    if not run.get("knowledge"):  # no knowledge: nothing to import
        return None
    from workbench.knowledge import run_retrieval

    return run_retrieval(con, run["id"], gold_field)


def _show_retrieval(kb: dict, run: dict, fmt) -> None:
    """The base version the passages came from, how often the right passage was retrieved, how grounded."""
    method = json.loads(run["knowledge"])["method"]
    print(f"knowledge {kb['base']} version {kb['version']}  {method}, k={kb['k']}")
    if kb["gold_field"]:
        print(f"  retrieval vs {kb['gold_field']} ({kb['n_gold']} rows): hit@{kb['k']} {fmt(kb['retrieval_hit'], 3)}"
              f"  mrr {fmt(kb['retrieval_mrr'], 3)}  recall {fmt(kb['retrieval_recall'], 3)}")
    print(f"  grounded (answer bigrams found in its passages): {fmt(kb['grounded'], 3)} over {kb['n_grounded']} outputs")


def _show_batch_facts(s, fmt, table) -> None:
    """Cached outputs, an incomplete run's next step, and for repeated runs how stable the prompt is."""
    r = s.run
    if s.n_cached:
        print(f"\ncached {s.n_cached} of {s.n_outputs} outputs (served from the response cache)")
    if s.n_outputs < s.n_rows and r["status"] != "running":
        print(f"\nincomplete: workbench eval --resume {r['id']}")
    st = s.stability
    if st:
        share = f" ({st['changed_share']:.0%})" if st["changed_share"] is not None else ""
        print(f"\nrepeats {r['repeats']}: output changed in {st['changed_rows']} of {st['rows']} rows{share}")
        table(["metric", "mean per-row variance", "mean per-row sd", "max per-row variance", "rows"],
              [[m, v["mean_row_variance"], v["mean_row_sd"], v["max_row_variance"], v["rows"]]
               for m, v in st["metrics"].items()])


def _show_conversations(s, fmt, table) -> None:
    """Per-turn means, and per conversation: mean, worst turn, where checks first fail."""
    figures, names = s.conversations, [m.metric for m in s.metrics]
    print(f"\nper turn (history {s.run['history']}):")
    table(["turn", *names], [[t, *[(f.get(m) or {}).get("mean") for m in names]]
                             for t, f in figures["per_turn"].items()])
    print("\nper conversation:")
    rows = []
    for m in names:
        f = figures["per_conversation"].get(m)
        if f:
            first = ", ".join(f"turn {t}: {n}" for t, n in f.get("first_failure_at_turn", {}).items())
            failing = f"{f['failing_conversations']} of {f['conversations']}" if "failing_conversations" in f else ""
            rows.append([m, f["mean"], f["worst_turn_mean"], failing, first])
    table(["metric", "mean", "worst turn (mean)", "check fails in", "first failure at"], rows)


def compare(args: argparse.Namespace) -> int:
    from workbench import store
    from workbench.cli.output import print_json, table
    from workbench.evaluation import analysis

    with store.connect(args.db) as con:
        a, b = store.resolve_run(con, args.run_a), store.resolve_run(con, args.run_b)
        rows = analysis.compare_runs(con, a, b)
        costs = [analysis.run_cost(con, store.get_run(con, r)) for r in (a, b)]
    if args.json:
        print_json({"run_a": a, "run_b": b, "metrics": [vars(m) for m in rows],
                    "cost_usd": {"a": costs[0][0], "b": costs[1][0]}})
        return 0
    print(f"B = {b} vs A = {a} (wins: rows where B is better)")
    print("cost  " + "  ".join(f"{k} {'unknown' if c is None else f'${c:.6f}'}" for k, (c, _) in zip("AB", costs)))
    table(["metric", "A", "B", "B - A", "wins", "ties", "losses", "n"],
          [[m.metric, m.mean_a, m.mean_b, f"{m.delta:+.4f}", m.wins, m.ties, m.losses, m.n] for m in rows])
    return 0


def export(args: argparse.Namespace) -> int:
    from workbench import store
    from workbench.evaluation.export import run_records, write_frame
    from workbench.files import shown

    if args.format == "promptfoo":
        from workbench.evaluation.promptfoo_export import promptfoo_config
        from workbench.files import write_file

        with store.connect(args.db) as con:
            run_id = store.resolve_run(con, args.run)
            text = promptfoo_config(con, run_id)
        path = args.output or f"{run_id}.promptfooconfig.yaml"
        write_file(path, text)
        print(f"wrote a promptfoo config to {shown(path)}", file=sys.stderr)
        return 0
    with store.connect(args.db) as con:
        run_id = store.resolve_run(con, args.run)
        df = run_records(con, run_id)
    path = args.output or f"{run_id}.{args.format}"
    write_frame(df, args.format, path, encoding=args.encoding)
    print(f"wrote {len(df)} records to {shown(path)}", file=sys.stderr)
    return 0

"""workbench score: score predictions produced elsewhere (a CSV/JSONL with prediction + reference)."""

from __future__ import annotations

import argparse
import sys


def register(sub, common) -> None:
    p = sub.add_parser("score", parents=[common], help="score an existing file of predictions and references",
                       description="Score FILE (CSV/JSONL/Parquet with `prediction` and `reference` fields). "
                                   "A `workbench export` file is read as is: its `output` is the prediction and "
                                   "rows that ended in an error are skipped.")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--lang", choices=["auto", "en", "zh"], default="auto")
    p.add_argument("--metrics", action="append", metavar="LIST",
                   help="default: exact,contains,bleu,chrf,rouge1,rouge2,rougeL,length")
    p.add_argument("--prediction", metavar="FIELD", help="default: `prediction`, else `output` (an export file)")
    p.add_argument("--reference", default="reference", metavar="FIELD")
    p.add_argument("--json", action="store_true", help="JSON Lines: one object per input row")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from workbench import metrics as metric_lib
    from workbench.authoring.datasets import check_rows, load_dataset
    from workbench.cli.output import print_json, table
    from workbench.evaluation import export as exports
    from workbench.evaluation.analysis import mean_ci
    from workbench.metrics.batch import POOL_MIN_ITEMS, BatchScorer

    ds = load_dataset(args.file, reference_field=args.reference, lang=args.lang)
    ms = metric_lib.parse_metrics(args.metrics or ["exact,contains,bleu,chrf,rouge1,rouge2,rougeL,length"])
    prediction = args.prediction or exports.prediction_field(ds.columns)
    ds, skipped = exports.without_errors(ds, prediction)
    if skipped:
        print(f"skipped {skipped} rows that ended in an error (no output to score)", file=sys.stderr)
    check_rows(ds, {prediction}, need_reference=ms.needs_reference)
    with BatchScorer(ms, ds.lang, pool=len(ds.rows) >= POOL_MIN_ITEMS) as scorer:  # the runner's scoring path
        results = scorer.score_now([(str(row[prediction]), ds.references(i), None, None)
                                    for i, row in enumerate(ds.rows)])
    if args.json:
        for i, values in enumerate(results):
            print_json({"row": i + 1, **values})
        return 0
    import numpy as np

    table(["metric", "mean", "95% CI", "n"],
          [[n, *_ci(mean_ci(np.array([r[n] for r in results if n in r], dtype=float)))] for n in ms.names])
    print(f"\n{len(results)} rows, lang {ds.lang}", file=sys.stderr)
    for n, sig in metric_lib.signatures(ms, ds.lang).items():
        print(f"  {n}: {sig}", file=sys.stderr)
    return 0


def _ci(t):
    from workbench.cli.output import fmt

    m, lo, hi = t
    return [m, f"[{fmt(lo)}, {fmt(hi)}]", ""]

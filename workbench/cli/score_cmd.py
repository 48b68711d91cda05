"""workbench score: score predictions produced elsewhere (a CSV/JSONL with prediction + reference)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading

DEFAULT_METRICS = "exact,contains,bleu,chrf,rouge1,rouge2,rougeL,length"
# A file this big most likely has POOL_MIN_ITEMS (300) rows or more: its scoring workers start before it is read.
EARLY_WORKERS_BYTES = 64 * 1024


def register(sub, common) -> None:
    p = sub.add_parser("score", parents=[common], help="score an existing file of predictions and references",
                       description="Score FILE (CSV/JSONL/Parquet with `prediction` and `reference` fields). "
                                   "A `workbench export` file is read as is: its `output` is the prediction and "
                                   "rows that ended in an error are skipped.")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--lang", choices=["auto", "en", "zh"], default="auto",
                   help="BLEU's tokenizer: auto picks zh or 13a per row from its references (default)")
    p.add_argument("--metrics", action="append", metavar="LIST",
                   help=f"default: {DEFAULT_METRICS}; options by name: bleu(tok=intl,smooth=floor), "
                        "rouge(stem=yes); corpus_bleu, corpus_chrf give one value for the file")
    p.add_argument("--prediction", metavar="FIELD", help="default: `prediction`, else `output` (an export file)")
    p.add_argument("--reference", default="reference", metavar="FIELD")
    p.add_argument("--json", action="store_true", help="JSON Lines: one object per input row")
    p.add_argument("-o", "--output", metavar="FILE",
                   help="also write one JSON object per row to FILE (.csv: a CSV table); - for standard output")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from workbench import metrics as metric_lib
    from workbench.metrics.batch import stop_workers

    ms = metric_lib.parse_metrics(args.metrics or [DEFAULT_METRICS])
    workers = _early_workers(args.file)
    try:
        return _score_file(args, ms, workers)
    finally:
        stop_workers(workers)


def _early_workers(path: str) -> list:
    """Scoring workers started before a big file is read (their start-up overlaps the reading); none for a
    small file, which is scored in this process unless it turns out to have POOL_MIN_ITEMS rows."""
    from workbench.metrics.batch import default_workers, start_workers

    try:
        big = os.path.getsize(path) >= EARLY_WORKERS_BYTES
    except OSError:
        return []  # reading the file names the problem
    return start_workers(default_workers(caller_waits=True)) if big else []


def _score_file(args: argparse.Namespace, ms, workers: list) -> int:
    from workbench import metrics as metric_lib
    from workbench.authoring.datasets import check_rows, load_dataset
    from workbench.evaluation import export_fields as exports
    from workbench.evaluation.scoring import score_rows

    ds = load_dataset(args.file, reference_field=args.reference, lang=args.lang)
    prediction = args.prediction or exports.prediction_field(ds.columns)
    ds, skipped = exports.without_errors(ds, prediction)
    if skipped:
        print(f"skipped {skipped} rows that ended in an error (no output to score)", file=sys.stderr)
    check_rows(ds, {prediction}, need_reference=ms.needs_reference)
    preds = [str(row[prediction]) for row in ds.rows]
    prefetch = None if args.json or len(preds) < 2 else _prefetch_summary_imports()
    try:
        scored = score_rows(preds, [ds.references(i) for i in range(len(ds.rows))], ms, ds.lang,
                            workers=workers or None)
    finally:
        if prefetch:  # never exit (say on an error) while it is inside a C extension's import: that can crash
            prefetch.join()
    results, refs, lang = scored.rows, scored.references, scored.lang
    toks = _row_tokenizers(ms, refs, lang)
    rows = [{"row": i + 1, **values, **({"tok": toks[i]} if toks and toks[i] else {})}
            for i, values in enumerate(results)] if args.output or args.json else []
    if args.output:
        _write_rows(args.output, rows)
    if args.json:
        from workbench.cli.output import print_json

        for row in rows:
            print_json(row)
        return 0
    if args.output == "-":
        out = sys.stderr  # the rows went to standard output; the summary must not mix into them
    else:
        out = sys.stdout
    _summary(ms, preds, refs, results, lang, out)
    nrefs = metric_lib.reference_count(refs)
    mix = ", ".join(f"{t} {n}" for t, n in sorted(_count(toks).items())) if toks else ""
    print(f"\n{len(results)} rows, lang {lang}" + (f" (BLEU tokenizer per row: {mix})" if mix else ""),
          file=sys.stderr)
    for n, sig in metric_lib.signatures(ms, lang, nrefs).items():
        print(f"  {n}: {sig}", file=sys.stderr)
    return 0


def _prefetch_summary_imports() -> threading.Thread:
    """Import what the summary's intervals need (numpy, scipy.special for the t quantile: ~0.3 s) in a thread
    while the rows are scored: this process only waits for the scoring workers meanwhile."""

    def load() -> None:
        import importlib

        for name in ("numpy", "scipy.special"):
            try:
                importlib.import_module(name)
            except ImportError:  # the summary will say so itself
                return

    thread = threading.Thread(target=load, daemon=True)
    thread.start()
    return thread


def _summary(ms, preds, refs, results, lang, out) -> None:
    """Mean and 95% t-interval of each per-row metric; a corpus metric's value and bootstrap interval."""
    import numpy as np

    from workbench.cli.output import fmt, table
    from workbench.evaluation.intervals import mean_ci
    from workbench.metrics.corpus import corpus_score

    lines = []
    for m in ms.metrics:
        if getattr(m, "corpus", None):
            c = corpus_score(m.corpus, preds, refs, lang, m.corpus_options())
            lines.append([m.label, *([c.value, f"[{fmt(c.low)}, {fmt(c.high)}]", c.n] if c else ["-", "", 0])])
            continue
        label = m.label
        values = [r[label] for r in results if label in r]
        mean, lo, hi = mean_ci(np.array(values, dtype=float))
        lines.append([label, mean, f"[{fmt(lo)}, {fmt(hi)}]", len(values)])
    table(["metric", "mean", "95% CI", "n"], lines, out=out)


def _row_tokenizers(ms, refs, lang) -> list[str | None]:
    """Per row, the tokenizer BLEU used when it was chosen per row (lang auto or tok=auto); else []."""
    from workbench.metrics import overlap

    per_row = [m for m in ms.metrics if m.name in ("bleu", "corpus_bleu")
               and (m.config.get("tok") == "auto" or (lang == "auto" and "tok" not in m.config))]
    if not per_row:
        return []
    return [overlap.bleu_tokenizer(lang, r, "auto") if r else None for r in refs]


def _count(toks: list[str | None]) -> dict[str, int]:
    out: dict[str, int] = {}
    for t in toks:
        if t:
            out[t] = out.get(t, 0) + 1
    return out


def _write_rows(path: str, rows: list[dict]) -> None:
    from workbench.files import open_for_write

    with open_for_write(path) as f:
        if str(path).lower().endswith(".csv"):
            import csv

            names = list(dict.fromkeys(k for r in rows for k in r))
            w = csv.DictWriter(f, fieldnames=names, lineterminator="\n")
            w.writeheader()
            w.writerows(rows)
        else:
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")

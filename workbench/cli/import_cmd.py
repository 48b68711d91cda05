"""workbench import promptfoo CONFIG --out DIR: bring another tool's eval suite over."""

from __future__ import annotations

import argparse


def register(sub, common) -> None:
    p = sub.add_parser("import", help="turn a promptfoo config into prompt files, a dataset and an eval file",
                       description="Write prompt files, a dataset (tests.jsonl) and an eval file (eval.yaml) from a "
                                   "promptfoo config; everything that does not translate is listed in "
                                   "IMPORT_REPORT.txt and printed.")
    p.add_argument("source", choices=["promptfoo"], help="the tool the config is for")
    p.add_argument("config", metavar="CONFIG", help="promptfooconfig.yaml")
    p.add_argument("--out", required=True, metavar="DIR", help="folder to write into (created if missing)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from workbench.importers import import_promptfoo

    result = import_promptfoo(args.config, args.out)
    print(result.report.read_text(encoding="utf-8"), end="")
    print(f"\nrun it: workbench eval --config {result.eval_file}")
    return 0

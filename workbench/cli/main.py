"""`workbench` entry point: parse, dispatch, turn user errors into one line and exit code 2.

Exit codes: 0 success, 2 bad input (one line naming the place), 1 anything else.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

# Each module defines register(subparsers, common) and sets `func` on its parsers.
COMMAND_MODULES = ["eval_cmd", "runs_cmd", "score_cmd", "app_cmd", "finetune_cmd", "demo_cmd", "annotate_cmd",
                   "kb_cmd", "import_cmd", "judge_cmd"]
# A setting named in a UserError (workbench.errors) shown as the flag that sets it; others are --setting-name.
FLAGS = {"concurrency": "-j/--concurrency", "repeats": "--repeat", "params": "--param", "prompts": "PROMPT_FILE",
         "annotators_per_item": "--k", "learning_rate": "--lr"}


def flag_for(setting: str) -> str:
    return FLAGS.get(setting) or f"--{setting.replace('_', '-')}"


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", metavar="PATH", help="DuckDB file (default: $WORKBENCH_DB or ./workbench.duckdb)")
    parser = argparse.ArgumentParser(
        prog="workbench",
        description="Prompt engineering and evaluation workbench: run prompt variants over a dataset, score, compare.",
    )
    from workbench import __version__

    parser.add_argument("--version", action="version", version=f"workbench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"workbench.cli.{name}").register(sub, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    from workbench.errors import StoreBusyError, UserError
    from workbench.providers.keys import load_secrets, mask

    load_secrets()
    try:
        return int(args.func(args) or 0)
    except UserError as e:
        from workbench.cli.model_hint import hint

        suggestion = hint(getattr(args, "model", None)) if "model" in (e.setting, (e.where or "").lstrip("-")) else ""
        print(f"workbench: error: {mask(e.shown(flag_for), None)}{suggestion}", file=sys.stderr)
        return 2
    except StoreBusyError as e:
        print(f"workbench: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("workbench: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as e:
        if os.environ.get("WORKBENCH_DEBUG"):
            raise
        print(f"workbench: internal error: {type(e).__name__}: {mask(e)} (set WORKBENCH_DEBUG=1 for the traceback)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())

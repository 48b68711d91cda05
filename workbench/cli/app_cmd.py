"""workbench app: start the Streamlit app on a database (the README's `make app`)."""

from __future__ import annotations

import argparse
import os
import sys


def register(sub, common) -> None:
    p = sub.add_parser("app", parents=[common], help="open the workbench in the browser (Streamlit)",
                       description="Start the Streamlit app. Without OPENAI_API_KEY the bundled local model is "
                                   "prepared first, so there is a model to run with no key and no network.")
    p.add_argument("--port", type=int, default=8501, metavar="N", help="port to serve on (default 8501)")
    p.add_argument("--address", default="127.0.0.1", metavar="HOST",
                   help="interface to listen on (default 127.0.0.1; any other address, e.g. 0.0.0.0, shares it on "
                        "the network and needs WORKBENCH_PASSWORD or an [auth] OIDC login in .streamlit/secrets.toml)")
    p.add_argument("--annotate-only", action="store_true",
                   help="serve the Annotate page alone (no runs, prompts or models shown): for outside raters")
    p.set_defaults(func=run)


def streamlit_command(db: str, port: int, address: str, annotate_only: bool = False) -> tuple[list[str], dict[str, str]]:
    """The argv and environment that start the app on `db`."""
    from workbench import store
    from workbench.serving import ANNOTATE_ONLY_ENV

    main = os.path.join(os.path.dirname(os.path.dirname(__file__)), "app", "server.py")
    argv = [sys.executable, "-m", "streamlit", "run", main, "--server.port", str(port),
            "--server.address", address, "--browser.gatherUsageStats", "false",
            "--runner.postScriptGC", "false"]  # a full gc.collect after every rerun: ~100 ms per rating click
    env = {**os.environ, "WORKBENCH_DB": store.db_location(db), ANNOTATE_ONLY_ENV: "1" if annotate_only else ""}
    return argv, env


def prepare_default_model() -> str | None:
    """Without a key, make sure the local default models (one per language) exist; returns a line to print."""
    from workbench.defaults import uses_local_default

    if not uses_local_default():
        return None
    try:
        from workbench.finetune.default_model import MODELS, ensure_default_model
    except ImportError:
        return "no OPENAI_API_KEY and no bundled local model in this install: add a model on the Models page"
    from workbench.finetune.card import LANGUAGE_NAMES

    paths = ", ".join(f"{ensure_default_model(progress=True, lang=lang)} ({LANGUAGE_NAMES[lang]})" for lang in MODELS)
    return f"no OPENAI_API_KEY: the default model is the local one for the dataset's language: {paths}"


def run(args: argparse.Namespace) -> int:
    from workbench import serving as sharing
    from workbench.errors import UserError

    if not 0 < args.port < 65536:
        raise UserError("must be between 1 and 65535", setting="port")
    mode = sharing.check_serving(args.address, sharing.read_secrets())  # before any slow step
    note = prepare_default_model()
    if note:
        print(f"workbench: {note}", file=sys.stderr)
    argv, env = streamlit_command(args.db, args.port, args.address, args.annotate_only)
    extra = "".join([f", login: {mode}" if mode else "", ", Annotate page only" if args.annotate_only else ""])
    print(f"workbench: serving http://{args.address}:{args.port} on {env['WORKBENCH_DB']}{extra}", file=sys.stderr)
    sys.stderr.flush()
    os.execvpe(argv[0], argv, env)
    return 0  # not reached: exec replaces this process

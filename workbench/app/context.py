"""What every page shares: the database path, the process's job registry, model and run pickers."""

from __future__ import annotations

import gc
import importlib
import os
import threading
import time
from pathlib import Path

import pandas as pd
import streamlit as st
from streamlit.errors import StreamlitSecretNotFoundError

from workbench import serving as sharing
from workbench import store
from workbench.app import catalog, jobs
from workbench.app.i18n import _
from workbench.app.labels import label_for
from workbench.app.textdiff import markdown_literal
from workbench.errors import StoreBusyError, UserError
from workbench.providers.keys import mask

OPENAI_MODELS = ["openai:gpt-4o-mini", "openai:gpt-4o"]


def db() -> str:
    return store.db_path()


@st.cache_resource
def job_registry() -> jobs.Jobs:
    """One registry per Streamlit process: jobs outlive the page (and the browser tab) that started them."""
    return jobs.Jobs()


def show_error(e: Exception) -> None:
    """A user error as one line naming the place; anything else with its type."""
    if isinstance(e, UserError):
        st.error(markdown_literal(mask(e.shown(label_for), None)), icon=":material/error:")
    elif isinstance(e, StoreBusyError):
        st.error(markdown_literal(str(e)), icon=":material/lock:")
    else:
        st.error(markdown_literal(f"{type(e).__name__}: {mask(e)}"), icon=":material/error:")


def custom_models() -> list[str]:
    """OpenAI-compatible endpoints the user added on the Models page (kept in the database file)."""
    with store.connect(db()) as con:
        return store.list_endpoints(con)


def model_specs() -> list[str]:
    """Every model the user can pick: the default (the local model for the interface's language without a key)
    first, then the other language's, added endpoints, local models, OpenAI."""
    from workbench.app.i18n import current

    first = current()
    specs = [catalog.default_model_spec(lang) for lang in dict.fromkeys([first, *catalog.LOCAL_LANGS])]
    specs += custom_models() + [m.spec for m in catalog.local_models()]
    if catalog.openai_key_set():
        specs += OPENAI_MODELS
    from workbench.app import bots

    specs += bots.bot_specs()  # Rasa when it answers, ChatterBot per question/reference file
    return list(dict.fromkeys(s for s in specs if s))


def run_label(r) -> str:
    status = _(r["status"])
    return f"{r['prompt_name']}@{r['prompt_hash'][:6]} × {r['model_spec']} · {r['id']} ({status})"


def pick_runs(key: str) -> list[str]:
    """Choose a dataset that has runs, then runs on it (default: the newest four). Shared by Compare and Export."""
    with store.connect(db()) as con:
        runs = store.run_choices(con)
    if runs.empty:
        st.info(_("No runs yet. Start one on the Run page, or with `workbench eval` on the command line."))
        return []
    runs["dataset"] = runs["dataset"].fillna(_("(unknown)"))
    datasets = runs.drop_duplicates("dataset_hash")[["dataset_hash", "dataset"]]
    labels = {r.dataset_hash: f"{r.dataset} ({r.dataset_hash[:8]})" for r in datasets.itertuples()}
    ds = st.selectbox(_("Dataset"), list(labels), format_func=labels.get, key=f"{key}_dataset")
    on_ds = runs[runs["dataset_hash"] == ds]
    options = on_ds["id"].tolist()
    by_id = {r["id"]: r for r in on_ds.to_dict(orient="records")}
    remembered = [r for r in st.session_state.get("selected_runs", []) if r in by_id]
    labels = {r: run_label(by_id[r]) for r in options}
    chosen = st.multiselect(_("Runs (variants)"), options, default=remembered or options[:4], key=f"{key}_runs",
                            format_func=labels.get, placeholder=_("Choose options"))
    st.session_state["selected_runs"] = chosen
    return chosen


def main_metric(metrics: list[str]) -> str:
    """The metric pages open on: BLEU, chrF or ROUGE-L when scored (graded, unlike exact match)."""
    return next((m for m in ("bleu", "chrf", "rougeL") if m in metrics), metrics[0])


def runs_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A run listing for display (st.dataframe renders cells as text, never HTML)."""
    return df.rename(columns={"prompt_name": "prompt", "model_spec": "model"})


@st.cache_data(max_entries=32, show_spinner=False)
def _dataset(choice: catalog.DatasetChoice, stamp: float, db_path: str):
    return catalog.open_dataset(choice, db_path)


def open_dataset(choice: catalog.DatasetChoice):
    """A dataset, cached until its file changes (stored datasets never change: their key is a hash)."""
    stamp = Path(choice.ref).stat().st_mtime if choice.kind == "file" else 0.0
    return _dataset(choice, stamp, db())


def pick_dataset(label: str, key: str, needs: set[str] | None = None, lang: str | None = None):
    """A dataset selectbox; by default the first dataset that has every column in `needs` and, with `lang`,
    is in that language (else the first with the columns)."""
    choices = catalog.dataset_choices(db())
    if not choices:
        return None, None
    index = 0
    if (needs or lang) and key not in st.session_state:
        fits = []
        for n, c in enumerate(choices):
            try:
                ds = open_dataset(c)
            except UserError:
                continue
            if (needs or set()) <= set(ds.columns):
                fits.append((n, ds.lang))
                if lang is None or ds.lang in (lang, "auto"):
                    break
        same = [n for n, found in fits if lang is None or found in (lang, "auto")]
        index = same[0] if same else fits[0][0] if fits else 0
    choice = st.selectbox(label, choices, index=index, format_func=lambda c: c.label, key=key)
    return choice, open_dataset(choice)


def load_secrets() -> None:
    """OPENAI_API_KEY / OPENAI_BASE_URL from .streamlit/secrets.toml into the environment the providers read
    (the environment wins; the value is never displayed or stored)."""
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        if os.environ.get(name):
            continue
        try:
            value = st.secrets.get(name)
        except (FileNotFoundError, StreamlitSecretNotFoundError):
            return
        if value:
            os.environ[name] = str(value)


# in the order the pages need them: Compare's first, then the Leaderboard's
WARM_UP = ("scipy.stats", "workbench.evaluation.analysis",
           "workbench.evaluation.compare_grid",  # the prompt parser, for the grid's input fields
           "workbench.metrics.builtin",  # the summary's metric names
           "sklearn.metrics", "workbench.engine.runner",
           "workbench.evaluation.pairwise_judge",  # the Leaderboard's judge board
           "workbench.rating.agreement", "workbench.rating.leaderboard", "workbench.rating.trust")


@st.cache_resource
def warm_up() -> threading.Thread:
    """Import the heavy libraries of Compare, Run and Leaderboard in the background once per process, so the
    first visit to those pages does not pay for them (scipy.stats alone takes about a second on 2 cores;
    sklearn.metrics, for the Leaderboard's kappas, 0.25 s of CPU and 15 MB)."""

    def imports() -> None:
        for name in WARM_UP:
            importlib.import_module(name)
        # The imports leave ~160,000 objects the collector tracks; the next full collection, walking them all
        # (~0.13 s of CPU), fell into a page's first script run (the empty Compare page 0.05-0.13 -> 0.19-0.25
        # CPU-s once altair no longer ran here and set it off). Collected now and frozen, later ones skip them.
        gc.collect()
        gc.freeze()

    thread = threading.Thread(target=imports, daemon=True, name="workbench-warm-up")
    thread.start()
    return thread


def app_secrets() -> dict:
    """.streamlit/secrets.toml as a dict ({} without one)."""
    try:
        return st.secrets.to_dict()
    except (FileNotFoundError, StreamlitSecretNotFoundError):
        return {}


@st.cache_resource
def _signed_in() -> set[str]:
    """Browser sessions that gave the shared password. Kept on the server, never in session_state, which a
    client's widget messages could write to."""
    return set()


def require_login() -> None:
    """Before any page: stop if the app is served beyond this machine without authentication, else show
    the OIDC login or the shared-password form until the visitor has passed it."""
    secrets = app_secrets()
    address = st.get_option("server.address")
    try:
        mode = sharing.check_serving(address, secrets) if address else sharing.auth_mode(secrets)
    except UserError as e:
        show_error(e)
        st.stop()
    if mode == "oidc":
        if not st.user.get("is_logged_in", False):  # absent until Streamlit has read [auth]
            st.title("workbench")
            st.button(_("Log in"), type="primary", icon=":material/login:", on_click=st.login)
            st.stop()
        st.sidebar.button(_("Log out"), icon=":material/logout:", on_click=st.logout)
    elif mode == "password":
        _password_gate(sharing.shared_password(secrets))


def _password_gate(expected: str) -> None:
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    session = ctx.session_id if ctx else ""
    if session in _signed_in():
        return
    st.title("workbench")
    with st.form("wb_login"):
        given = st.text_input(_("Password"), type="password", key="wb_password")
        if st.form_submit_button(_("Log in"), type="primary"):
            if sharing.password_matches(given, expected):
                _signed_in().add(session)
                st.rerun()
            time.sleep(1.0)  # slows guessing; the comparison itself is constant-time
            st.error(_("Wrong password."), icon=":material/lock:")
    st.stop()

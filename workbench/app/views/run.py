"""Run: prompt versions × models × a dataset, started in the background; progress, errors and
cancel live; runs started from the CLI appear here too (progress is read from the database).
Stopped runs (cancelled, failed, or interrupted: their process is gone) can be resumed from here."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from workbench import store
from workbench.app import catalog, context, jobs
from workbench.app.i18n import N_, _, ngettext
from workbench.app.labels import label_for
from workbench.app.textdiff import inline_code, markdown_literal
from workbench.authoring import library
from workbench.authoring.row_filter import filter_rows
from workbench.authoring.stored import prompt_from_version
from workbench.defaults import DEFAULT_RETRIES, DEFAULT_TIMEOUT_S
from workbench.engine import runner
from workbench.errors import UserError
from workbench.finetune.card import language_warnings
from workbench.metrics import ALL, DEFAULT, parse_metrics

st.title(_("Run"))
ss = st.session_state
# a run's status, shown translated here and on Compare
STATUSES = [N_("running"), N_("done"), N_("interrupted"), N_("cancelled"), N_("failed")]


def prompt_options() -> dict[str, tuple[str, str]]:
    """label -> ("file", path) for prompt files, ("version", hash) for stored versions.

    A stored version that is what a file holds now is listed once, as the file."""
    out, in_files = {}, set()
    for p in library.list_prompt_files():
        out[f"{p.name} (file)"] = ("file", str(p))  # a value other pages and tests pick by: kept English
        prompt = library.read_prompt_file(p)[0]
        if prompt is not None:
            in_files.add(prompt.version)
    with store.connect(context.db()) as con:
        versions = store.list_prompt_versions(con)
    for v in versions.itertuples():
        if v.hash not in in_files:
            out[f"{v.name} @ {v.hash[:8]} · {str(v.created_at)[:16]}"] = ("version", v.hash)
    return out


def load_choice(kind: str, ref: str):
    if kind == "file":
        prompt, err = library.read_prompt_file(ref)
        if err is not None:
            raise err
        return prompt
    with store.connect(context.db()) as con:
        v = store.get_prompt_version(con, ref)
    return prompt_from_version(v)


def needed_columns(chosen: list[str]) -> set[str]:
    """Columns the chosen prompts need (and a reference), so the dataset offered first fits them."""
    needs = {"reference"}
    for label in chosen:
        try:
            needs |= load_choice(*options[label]).variables()[0]
        except Exception:  # noqa: BLE001 - a broken prompt is reported when the run starts
            continue
    return needs


options = prompt_options()
with st.form("start_run"):
    file_word = _("file")
    shown = {label: label.removesuffix(" (file)") + f" ({file_word})" if kind == "file" else label
             for label, (kind, _ref) in options.items()}
    chosen = st.multiselect(_("Prompt versions"), list(options), default=list(options)[:1], key="run_prompts",
                            format_func=shown.get, placeholder=_("Choose options"))
    specs = context.model_specs()
    # The first model is preselected, but never a classic bot: those are picked on purpose.
    preselected = [s for s in specs[:1] if not s.startswith(("chatterbot:", "rasa:"))]
    models = st.multiselect(_("Models"), specs, default=preselected, key="run_models", placeholder=_("Choose options"),
                            help=None if specs else _("No model yet: add an OpenAI-compatible server on the Models "
                                                      "page, set OPENAI_API_KEY, or type a spec below."))
    extra = st.text_input(_("Other model spec (optional)"), key="run_extra_model",
                          placeholder="openai:MODEL@http://127.0.0.1:8000/v1")
    choice, dataset = context.pick_dataset(_("Dataset"), "run_dataset", needs=needed_columns(chosen))
    where = st.text_input(_("Row filter (optional)"), key="run_where", placeholder="split == 'test'",
                          help=_("Only rows that match: `field == 'value'`, `!=`, `in ['a', 'b']`, `not in`, joined "
                                 "with `and` / `or` / `not` and parentheses (as `workbench eval --where`). The row "
                                 "limit counts the rows that pass."))
    c1, c2, c3 = st.columns(3)
    limit = c1.number_input(_("Row limit (0 = all rows)"), 0, None, 20, key="run_limit")
    concurrency = c2.number_input(_("Requests in flight (0 = provider default)"), 0, 256, 0, key="run_concurrency")
    timeout = c3.number_input(label_for("timeout"), 1.0, 600.0, DEFAULT_TIMEOUT_S, key="run_timeout")
    metrics = st.multiselect(label_for("metrics"), sorted(ALL - {"regex", "check", "judge"}), default=DEFAULT,
                             key="run_metrics", placeholder=_("Choose options"))
    more_metrics = st.text_input(_("More metrics, with options (as --metrics takes them)"), key="run_more_metrics",
                                 placeholder="bleu(tok=intl,smooth=floor), rouge(stem=yes), regex=^\\d+$",
                                 help=_("Judges: `judge:RUBRIC` with a rubric from `prompts/judges/` "
                                        "(`judge:correctness`, `judge:helpfulness_zh`, ...), judged by "
                                        "`judge:RUBRIC(model=SPEC)` or the default model."))
    histories = {"gold": _("the reference turns (parallel)"), "own": _("the model's own answers (in order)")}
    history = st.radio(_("Conversations: history of each turn"), ["gold", "own"], horizontal=True, key="run_history",
                       format_func=histories.get,
                       help=_("Used when the dataset holds conversations; the row limit then counts conversations."))
    start = st.form_submit_button(_("Start"), type="primary", icon=":material/play_arrow:")

if start:
    try:
        model_specs = [*models, *([extra.strip()] if extra.strip() else [])]
        if not chosen or not model_specs or dataset is None:
            raise UserError(_("choose at least one prompt, one model and a dataset"), _("Run"))
        prompts = [load_choice(*options[c]) for c in chosen]
        dataset = filter_rows(dataset, where)
        if preselected and models == preselected:  # the default left alone: the dataset's language's model
            model_specs, swapped = catalog.default_for_dataset(model_specs, dataset.lang)
            for old, new in swapped:
                st.info(_("The dataset is in another language than {old}: running {new}, the local model for its "
                          "language.").format(old=inline_code(old), new=inline_code(new)), icon=":material/translate:")
        for line in language_warnings(model_specs, dataset.lang):  # the run still starts: the user may mean it
            st.warning(markdown_literal(line), icon=":material/translate:")
        typed = [v for v in (",".join(metrics), more_metrics.strip()) if v]
        plan = runner.plan_eval(prompts, dataset, model_specs, parse_metrics(typed or None),
                                limit=int(limit) or None, provider_options={"timeout": float(timeout), "retries": DEFAULT_RETRIES},
                                db=context.db(), history=history)
        job = context.job_registry().start(plan, context.db(), concurrency=int(concurrency) or None)
        if job.error:
            context.show_error(UserError(job.error))
        else:
            # One run per variant. Their ids exist once the job has created them, which a loaded machine can
            # take longer than start() waits for: the count never reads 0 then.
            n = len(job.plan.variants)
            ids = ", ".join(job.run_ids) or _("their ids appear below in a moment")
            st.success(ngettext("Started {n} run: {ids}", "Started {n} runs: {ids}", n).format(n=n, ids=ids),
                       icon=":material/rocket_launch:")
    except Exception as e:  # noqa: BLE001 - shown inline
        context.show_error(e)


def resume(run_id: str) -> None:
    """Finish a stopped run in the background: only its rows without output (as `eval --resume`)."""
    try:
        plan = runner.plan_from_run(context.db(), run_id, provider_options={"timeout": DEFAULT_TIMEOUT_S, "retries": DEFAULT_RETRIES})
        job = context.job_registry().start(plan, context.db())
        if job.error:
            ss["resume_error"] = job.error
    except Exception as e:  # noqa: BLE001 - shown under the runs
        ss["resume_error"] = e.shown(label_for) if isinstance(e, UserError) else str(e)


def variant(r) -> str:
    """Prompt, version and model of a run for a Markdown label (names and specs are user input)."""
    name = f"{r['prompt_name']}@{r['prompt_hash'][:8]}"
    return f"{inline_code(name)} × {inline_code(r['model_spec'])}"


@st.fragment(run_every=1.0)
def live() -> None:
    st.subheader(_("Runs"))
    registry = context.job_registry()
    mine = {r: j for j in registry.list() for r in j.run_ids}
    table = jobs.progress(context.db())
    if table.empty:
        st.caption(_("No runs yet."))
        return
    active = table[table["status"] == "running"]
    for r in active.to_dict(orient="records"):
        job = mine.get(r["id"])
        c1, c2 = st.columns([6, 1], vertical_alignment="bottom")
        text = (_("{variant} · {done}/{total} done · {errors} errors · {id} · started in this app") if job else
                _("{variant} · {done}/{total} done · {errors} errors · {id} · started in another process (CLI?)"))
        c1.progress(float(r["fraction"]), text=text.format(variant=variant(r), done=r["done"], total=r["total"],
                                                           errors=r["errors"], id=r["id"]))
        if job is not None and job.alive:
            if job.cancel.is_set():
                c2.caption(_("cancelling…"))
            else:
                c2.button(_("Cancel"), key=f"cancel_{job.id}_{r['id']}", on_click=registry.cancel, args=(job.id,))
    stopped = table[table["status"].isin(["interrupted", "cancelled", "failed"]) & (table["done"] < table["total"])]
    for r in stopped.head(5).to_dict(orient="records"):
        c1, c2 = st.columns([6, 1], vertical_alignment="bottom")
        c1.caption(_("{variant} · {status} at {done}/{total} · {id}").format(
            variant=variant(r), status=_(r["status"]), done=r["done"], total=r["total"], id=r["id"]))
        c2.button(_("Resume"), key=f"resume_{r['id']}", on_click=resume, args=(r["id"],))
    if ss.get("resume_error"):
        st.error(markdown_literal(ss.pop("resume_error")), icon=":material/error:")
    for j in registry.list():
        if j.error:
            st.error(markdown_literal(_("Job {id} ({labels}): {error}").format(
                id=j.id, labels="; ".join(j.labels), error=j.error)), icon=":material/error:")
    shown = table.head(50)[["id", "prompt_name", "prompt_hash", "model_spec", "dataset", "status", "done", "total",
                            "errors", "created_at", "finished_at"]].copy()
    for column in ("created_at", "finished_at"):  # a running run has no end yet: blank, not None
        shown[column] = [str(t)[:19] if pd.notna(t) else "" for t in shown[column]]
    st.dataframe(context.runs_frame(shown), hide_index=True, width="stretch",
                 column_config={"prompt_hash": st.column_config.TextColumn(_("version"))})


live()

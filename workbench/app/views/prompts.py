"""Prompts: open a prompt file or a stored version, edit its messages and few-shot examples, see it
rendered live on a dataset row, save it as a new version, and diff any two versions."""

from __future__ import annotations

import uuid

import pandas as pd
import streamlit as st
import yaml

from workbench import store
from workbench.app import context
from workbench.app.i18n import N_, _, shown_as
from workbench.app.textdiff import inline_code, markdown_literal
from workbench.authoring import library
from workbench.authoring.stored import prompt_from_version
from workbench.authoring.templates import ROLES
from workbench.authoring.yaml_limits import load_yaml

NEW = N_("(new prompt)")  # the option's value stays English; it is shown translated
BLANK = {"name": "my_prompt", "description": "", "messages": [
    {"role": "system", "content": "You are a helpful customer-service assistant."},
    {"role": "user", "content": "{{ question }}"}]}

st.title(_("Prompts"))
role_names = shown_as(N_("system"), N_("user"), N_("assistant"))  # the values stay the file's role names
ss = st.session_state


def load_draft(data: dict, source: str) -> None:
    """Put a prompt (as a dict) into the editor's widgets."""
    ss["draft_source"] = source
    ss["draft_name"] = data.get("name") or "my_prompt"
    ss["draft_description"] = data.get("description") or ""
    ss["draft_msgs"] = []
    for m in data.get("messages") or []:
        uid = uuid.uuid4().hex[:8]
        ss["draft_msgs"].append(uid)
        ss[f"role_{uid}"], ss[f"content_{uid}"] = m.get("role", "user"), m.get("content", "")
    ss["draft_examples_base"] = library.examples_table(data.get("examples") or [])
    ss["draft_editor_gen"] = ss.get("draft_editor_gen", 0) + 1  # a fresh data editor, no stale edits
    ss["draft_examples_as"] = data.get("examples_as", "inline")
    turns = data.get("example_turns") or {"user": "{{ question }}", "assistant": "{{ answer }}"}
    ss["draft_turn_user"], ss["draft_turn_assistant"] = turns["user"], turns["assistant"]
    params = data.get("params") or {}
    ss["draft_params"] = yaml.safe_dump(params, sort_keys=False, allow_unicode=True) if params else ""
    kb = data.get("knowledge")
    ss["draft_knowledge"] = yaml.safe_dump(kb, sort_keys=False, allow_unicode=True) if kb else ""


def open_source(source: str) -> None:
    if source == NEW:
        load_draft(BLANK, source)
        return
    prompt, err = library.read_prompt_file(library.prompts_dir() / source)
    if err is not None:
        try:
            data = load_yaml((library.prompts_dir() / source).read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            data = None
        load_draft(data if isinstance(data, dict) else BLANK, source)
        ss["load_error"] = err
        return
    ss.pop("load_error", None)
    load_draft(prompt.to_dict(), source)


def draft_dict() -> dict:
    """The editor's state as a prompt-file dict (what prompt_from_dict validates)."""
    data = {"name": ss["draft_name"].strip(), "description": ss["draft_description"],
            "messages": [{"role": ss[f"role_{u}"], "content": ss[f"content_{u}"]} for u in ss["draft_msgs"]]}
    edited = ss.get("draft_examples_current")
    examples = library.examples_from_table(edited if edited is not None else ss["draft_examples_base"])
    if examples:
        data["examples"] = examples
        data["examples_as"] = ss["draft_examples_as"]
        if ss["draft_examples_as"] == "turns":
            data["example_turns"] = {"user": ss["draft_turn_user"], "assistant": ss["draft_turn_assistant"]}
    if ss["draft_params"].strip():
        try:
            data["params"] = load_yaml(ss["draft_params"])
        except yaml.YAMLError as e:
            data["params"] = f"invalid YAML: {e}"
    if ss.get("draft_knowledge", "").strip():  # kept, or saving would drop the file's knowledge section
        try:
            data["knowledge"] = load_yaml(ss["draft_knowledge"])
        except yaml.YAMLError as e:
            data["knowledge"] = f"invalid YAML: {e}"
    return data


def with_passages(data: dict, row: dict) -> dict:
    """The preview row of a knowledge prompt, with the passages its base retrieves for it."""
    if not isinstance(data.get("knowledge"), dict):
        return row
    from workbench import knowledge
    from workbench.authoring.templates import prompt_from_dict

    try:
        prompt = prompt_from_dict(data, f"{data.get('name') or 'draft'}.yaml")
        return knowledge.with_passages(row, knowledge.retrieve_for_rows(prompt, [row], context.db())[0])
    except Exception as e:  # noqa: BLE001 - shown inline (a missing base, a bad section)
        context.show_error(e)
        return row


def save(prompt) -> None:
    """Save, then open the file just written (its message shows after the rerun)."""
    ss.pop("confirm_replace", None)
    saved = library.save_prompt(prompt, context.db())
    ss["saved_message"] = (_("Saved version {version} to {path}") if saved.new
                           else _("No change: version {version} was already stored ({path})")).format(
                               version=saved.version[:8], path=saved.path)
    ss["pending_source"] = ss["draft_source"] = saved.path.name
    st.rerun()


def confirm_replace(prompt, filename: str) -> None:
    """A new (or renamed) prompt named like a file it was not opened from: ask before replacing that file."""
    if library.save_target(prompt).name != filename:  # the name changed since Save was pressed
        ss.pop("confirm_replace")
        return
    st.warning(markdown_literal(_("{filename} already exists and this draft was not opened from it. Replacing "
                                  "it keeps its current content as a stored version (see History).").format(
                                      filename=filename)),
               icon=":material/warning:")
    c1, c2 = st.columns(2)
    if c1.button(_("Replace it"), type="primary", key="confirm_replace_yes"):
        try:
            save(prompt)
        except Exception as e:  # noqa: BLE001 - shown inline
            context.show_error(e)
    if c2.button(_("Cancel"), key="confirm_replace_no"):
        ss.pop("confirm_replace")
        st.rerun()


files = [p.name for p in library.list_prompt_files()]
sources = [NEW, *files]
with st.sidebar:
    st.caption(_("Prompt files in {folder}").format(folder=inline_code(library.prompts_dir())))
if "pending_source" in ss:  # set by Save: open the file just written (widgets can't be set once drawn)
    ss["prompt_source"] = ss.pop("pending_source")
source = st.selectbox(_("Open"), sources, index=1 if files else 0, key="prompt_source",
                      format_func=shown_as(NEW))
if ss.get("draft_source") != source or "draft_msgs" not in ss:
    open_source(source)
if ss.get("load_error") is not None and ss.get("draft_source") == source:
    context.show_error(ss["load_error"])
with st.expander(_("All prompts: files and stored versions")):
    overview = library.overview(context.db())
    if "last_stored" in overview:  # a file never stored has no date: say so rather than show None
        overview["last_stored"] = [str(t)[:16] if pd.notna(t) else _("not yet") for t in overview["last_stored"]]
    st.dataframe(overview, hide_index=True, width="stretch",
                 column_config={"saved": st.column_config.CheckboxColumn(_("file's version stored"))})

edit, view = st.columns([3, 2], gap="large")

with edit:
    st.subheader(_("Editor"))
    c1, c2 = st.columns([1, 2])
    c1.text_input(_("Name"), key="draft_name", help=_("also the file name: prompts/NAME.yaml"))
    c2.text_input(_("Description"), key="draft_description")

    st.markdown(_("**Messages** (each a Jinja template; Ctrl+Enter or leaving the box updates the preview)"))
    for n, uid in enumerate(list(ss["draft_msgs"])):
        # The remove button sits under the role: a third column of its own was cut to a sliver at 1440 px.
        r, c = st.columns([1.5, 6.6], vertical_alignment="top")
        r.selectbox(_("Role"), ROLES, key=f"role_{uid}", format_func=role_names)
        lines = sum(1 + len(line) // 70 for line in ss[f"content_{uid}"].splitlines())
        c.text_area(_("Message {n}").format(n=n + 1), key=f"content_{uid}", height=min(420, max(90, 24 * lines + 40)))
        if r.button("", icon=":material/delete:", key=f"remove_{uid}", help=_("Remove message {n}").format(n=n + 1),
                    disabled=len(ss["draft_msgs"]) == 1):
            ss["draft_msgs"].remove(uid)
            st.rerun()
    if st.button(_("Add message"), icon=":material/add:"):
        uid = uuid.uuid4().hex[:8]
        ss["draft_msgs"].append(uid)
        ss[f"role_{uid}"], ss[f"content_{uid}"] = "user", ""
        st.rerun()

    st.markdown(_("**Few-shot examples** (add, remove; reorder by editing `order`)"))
    sends = {"inline": _("inline (the template loops over `examples`)"),
             "turns": _("as chat turns (user/assistant pairs)")}
    st.radio(_("Send examples"), ["inline", "turns"], key="draft_examples_as", horizontal=True,
             format_func=sends.get)
    edited = st.data_editor(ss["draft_examples_base"], num_rows="dynamic", hide_index=True, width="stretch",
                            key=f"examples_editor_{ss['draft_editor_gen']}")
    ss["draft_examples_current"] = edited
    with st.expander(_("Example columns")):
        new_col = st.text_input(_("Add a column"), key="new_example_column", placeholder=_("e.g. context"))
        if st.button(_("Add column")) and new_col.strip() and new_col.strip() not in edited.columns:
            base = edited.copy()
            base[new_col.strip()] = pd.Series([""] * len(base), dtype="string")
            ss["draft_examples_base"] = base
            ss["draft_editor_gen"] += 1
            st.rerun()
    if ss["draft_examples_as"] == "turns":
        t1, t2 = st.columns(2)
        t1.text_input(_("Example user turn"), key="draft_turn_user")
        t2.text_input(_("Example assistant turn"), key="draft_turn_assistant")
    st.text_area(_("Generation parameters (YAML)"), key="draft_params", height=80,
                 placeholder="temperature: 0\nmax_tokens: 256")
    st.text_area(_("Knowledge (YAML): passages retrieved per row, as `passages` in the templates"),
                 key="draft_knowledge", height=80, placeholder="base: faq_en\nquery: '{{ question }}'\nk: 3")

data = draft_dict()

with view:
    st.subheader(_("Preview"))
    dataset, row, columns = None, None, None
    needs = library.preview(data, None, None).required
    try:
        lang = library.draft_lang(data)  # a Chinese prompt previews on a Chinese row
        dataset = context.pick_dataset(_("Dataset"), f"preview_dataset_{lang}", needs, lang)[1]
    except Exception as e:  # noqa: BLE001 - shown inline
        context.show_error(e)
    if dataset is not None:
        columns = dataset.columns
        i = st.number_input(_("Row (1–{n})").format(n=len(dataset.rows)), 1, len(dataset.rows), 1, key="preview_row") - 1
        row = with_passages(data, dataset.rows[i])
    else:
        st.caption(_("No dataset: add one on the Datasets page to preview on a row."))
    pv = library.preview(data, row, columns)
    if pv.prompt is not None:
        need = sorted(pv.required) + sorted(pv.optional)
        if need:
            missing = _("missing")
            marks = [f"{inline_code(v)} {'✓' if columns is None or v in columns else '✗ ' + missing}"
                     + (" " + _("(optional)") if v in pv.optional else "") for v in need]
            st.markdown(_("Variables: {marks}").format(marks=", ".join(marks)))
    for warning in pv.warnings:
        st.warning(markdown_literal(warning), icon=":material/warning:")
    if pv.error is not None:
        context.show_error(pv.error)
        if pv.source_line is not None:
            st.code(pv.source_line, language=None)
    for m in pv.messages or []:
        with st.chat_message(m["role"], avatar={"system": ":material/settings:"}.get(m["role"])):
            st.text(m["content"])

    can_save = pv.prompt is not None and pv.error is None
    if st.button(_("Save as new version"), type="primary", disabled=not can_save, icon=":material/save:",
                 help=None if can_save else _("Fix the error above first: this prompt cannot render.")):
        try:
            replaced = library.would_replace(pv.prompt, ss["draft_source"])
            if replaced is None:
                save(pv.prompt)
            else:
                ss["confirm_replace"] = replaced.name
        except Exception as e:  # noqa: BLE001 - shown inline
            context.show_error(e)
    if ss.get("confirm_replace") and can_save:
        confirm_replace(pv.prompt, ss["confirm_replace"])
    if ss.get("saved_message"):
        st.success(markdown_literal(ss.pop("saved_message")), icon=":material/check:")

st.divider()
st.subheader(_("History"))
name = data.get("name") or ""
with store.connect(context.db()) as con:
    versions = store.list_prompt_versions(con, name)
    if versions.empty:
        st.caption(_("No stored versions of {name} yet: saving or running it stores one.").format(
            name=inline_code(name)))
    else:
        st.dataframe(versions.rename(columns={"hash": _("version"), "n_runs": _("runs")}), hide_index=True,
                     width="stretch")
        labels = {h: f"{h[:8]} · {str(t)[:19]}" for h, t in zip(versions["hash"], versions["created_at"])}
        hashes = list(labels)
        a, b = st.columns(2)
        old = a.selectbox(_("Old"), hashes, index=min(1, len(hashes) - 1), format_func=labels.get, key=f"diff_old_{name}_{len(hashes)}")
        new = b.selectbox(_("New"), hashes, index=0, format_func=labels.get, key=f"diff_new_{name}_{len(hashes)}")
        va, vb = store.get_prompt_version(con, old), store.get_prompt_version(con, new)
        diff = library.version_diff(va["content"], vb["content"], old[:8], new[:8])
        st.code(diff or _("(identical)"), language="diff")
        st.button(_("Open the new one in the editor"), on_click=load_draft,
                  args=(prompt_from_version(vb, name).to_dict(), source))

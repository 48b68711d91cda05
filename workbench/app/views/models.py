"""Models: which providers can be used here, OpenAI-compatible endpoints the user adds, local
models with their cards, and a box to send one message to any of them."""

from __future__ import annotations

import time

import streamlit as st

from workbench import store
from workbench.app import bots, catalog, context
from workbench.app.i18n import N_, _, shown_as
from workbench.app.textdiff import inline_code, markdown_literal
from workbench.errors import UserError
from workbench.finetune.lora import list_adapters
from workbench.providers import keys

st.title(_("Models"))

st.subheader("OpenAI")
if catalog.openai_key_set():
    st.success(_("OPENAI_API_KEY is set (its value is never shown or stored)."), icon=":material/key:")
else:
    st.info(_("OPENAI_API_KEY is not set: OpenAI models are unavailable. Set it in the environment or in "
              "`.streamlit/secrets.toml`; local models and OpenAI-compatible servers need no key."),
            icon=":material/key_off:")

st.subheader(_("OpenAI-compatible servers"))
st.caption(_("vLLM, Ollama, llama.cpp server, LM Studio, TGI… — kept in the database file for every session."))
st.caption(_("OPENAI_API_KEY is sent only to api.openai.com or OPENAI_BASE_URL's host; a server that needs a key "
             "gets the one in the environment variable (or secrets.toml entry) you name here. Only the name is "
             "kept."))
with st.form("add_endpoint", clear_on_submit=True):
    c1, c2, c3 = st.columns([1, 2, 1])
    model = c1.text_input(_("Model name"), placeholder="llama3")
    base = c2.text_input(_("Base URL"), placeholder="http://127.0.0.1:11434/v1")
    key_name = c3.text_input(_("Key variable (optional)"), placeholder="VLLM_API_KEY")
    if st.form_submit_button(_("Add"), icon=":material/add:"):
        try:
            spec = keys.endpoint_spec(model, base, key_name)
        except UserError as e:
            context.show_error(e)
        else:
            with store.connect(context.db()) as con:
                store.add_endpoint(con, spec)
for spec in context.custom_models():
    c1, c2 = st.columns([6, 1])
    c1.code(spec, language=None)
    if c2.button(_("Remove"), key=f"rm_{spec}"):
        with store.connect(context.db()) as con:
            store.remove_endpoint(con, spec)
        st.rerun()

st.subheader(_("Local models"))
local = catalog.local_models()
defaults = {lang: catalog.default_model_spec(lang) for lang in catalog.LOCAL_LANGS}
if defaults["en"] and defaults["en"] != defaults["zh"]:  # no key: one local model per dataset language
    st.caption(_("Default model: {spec}").format(spec=_("{en} for English datasets, {zh} for Chinese ones").format(
        en=inline_code(defaults["en"]), zh=inline_code(defaults["zh"]) if defaults["zh"] else _("(not built)"))))
elif defaults["en"]:
    st.caption(_("Default model: {spec}").format(spec=inline_code(defaults["en"])))
if not local:
    st.caption(_("No models under {folder} (a folder with config.json). `workbench finetune --out models/NAME` "
                 "makes one.").format(folder=inline_code(catalog.models_dir())))
for m in local:
    with st.expander(f"{markdown_literal(m.name)} — {inline_code(m.spec)}"):
        if m.card:
            st.json(m.card, expanded=1)
        else:
            st.caption(_("no model_card.json"))
for a in list_adapters(catalog.models_dir()):  # LoRA adapters: no config.json of their own
    with st.expander(_("{name} — LoRA adapter on {base}").format(
            name=markdown_literal(a["name"]), base=inline_code(a["base"] or _("unknown base")))):
        st.caption(_("{spec} · base hash {hash} · rank {r} · {share} of the parameters trained").format(
            spec=inline_code(a["spec"]), hash=inline_code(a["base_hash"] or "?"), r=a["r"],
            share=f"{(a['trainable_share'] or 0):.2%}")
            + (" · " + _("merged: {spec}").format(spec=inline_code(a["merged"])) if a["merged"] else ""))

@st.cache_resource
def loaded_models() -> set[str]:
    """Local model specs that answered in this app process (their weights stay loaded)."""
    return set()


st.subheader(_("Classic bots"))
rasa = bots.rasa_url()
if bots.rasa_status() is not None:
    st.success(_("Rasa is up at {url}: model {spec}.").format(url=inline_code(rasa), spec=inline_code("rasa:" + rasa)),
               icon=":material/smart_toy:")
else:
    st.info(_("No Rasa server at {url}. Start the bundled assistant with `make rasa` (its own Python 3.10 "
              "environment; the first time installs Rasa and trains it).").format(url=inline_code(rasa)),
            icon=":material/smart_toy:")
for spec in bots.chatterbot_specs():
    st.caption(_("ChatterBot {spec} — trained on the file's train rows the first time it is used").format(
        spec=inline_code(spec)))

st.subheader(_("Try it"))
specs = context.model_specs()
c1, c2 = st.columns([2, 3])
TYPED = N_("(type a spec)")
picked = c1.selectbox(_("Model"), [*specs, TYPED], key="try_model", format_func=shown_as(TYPED))
spec = c2.text_input(_("Spec"), key="try_spec", placeholder="openai:MODEL@http://host:port/v1") \
    if picked == TYPED else picked
message = st.text_area(_("Message"), key="try_message", placeholder=_("Hello! How do I reset my password?"))
if st.button(_("Send"), type="primary", icon=":material/send:"):
    if not (spec and message.strip()):
        st.warning(_("Choose a model and write a message first."))
        st.stop()
    first = spec.startswith("hf:") and spec not in loaded_models()
    # A local model's first message loads PyTorch and the weights (~10 s on 2 cores): say so while it waits.
    wait = (_("Loading {spec} (the first message loads PyTorch and the model's weights: several seconds; the next "
              "ones are quick)…") if first else _("Asking {spec}…")).format(spec=inline_code(spec))
    with st.spinner(wait, show_time=True):
        try:
            started = time.perf_counter()
            done = catalog.try_message(spec, message)
            if first:
                loaded_models().add(spec)
                st.caption(_("This first message also loaded the model: {seconds} s in all.").format(
                    seconds=f"{time.perf_counter() - started:.1f}"))
            with st.chat_message("user"):
                st.text(message)
            with st.chat_message("assistant"):
                st.text(done.text)
            st.caption(markdown_literal(_("{ms} ms · tokens in {tokens_in} / out {tokens_out} · finish: {finish}").format(
                ms=f"{done.latency_ms or 0:.0f}", tokens_in=done.tokens_in, tokens_out=done.tokens_out,
                finish=done.finish_reason)))
        except Exception as e:  # noqa: BLE001 - a provider error is shown, not raised
            context.show_error(e)

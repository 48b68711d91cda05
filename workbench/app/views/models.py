"""Models: which providers can be used here, OpenAI-compatible endpoints the user adds, local
models with their cards, and a box to send one message to any of them."""

from __future__ import annotations

import time

import streamlit as st

from workbench import store
from workbench.app import bots, catalog, context
from workbench.app.textdiff import inline_code, markdown_literal
from workbench.errors import UserError
from workbench.finetune.lora import list_adapters
from workbench.providers import keys

st.title("Models")

st.subheader("OpenAI")
if catalog.openai_key_set():
    st.success("OPENAI_API_KEY is set (its value is never shown or stored).", icon=":material/key:")
else:
    st.info("OPENAI_API_KEY is not set: OpenAI models are unavailable. Set it in the environment or in "
            "`.streamlit/secrets.toml`; local models and OpenAI-compatible servers need no key.", icon=":material/key_off:")

st.subheader("OpenAI-compatible servers")
st.caption("vLLM, Ollama, llama.cpp server, LM Studio, TGI… — kept in the database file for every session.")
st.caption("OPENAI_API_KEY is sent only to api.openai.com or OPENAI_BASE_URL's host; a server that needs a key "
           "gets the one in the environment variable (or secrets.toml entry) you name here. Only the name is kept.")
with st.form("add_endpoint", clear_on_submit=True):
    c1, c2, c3 = st.columns([1, 2, 1])
    model = c1.text_input("Model name", placeholder="llama3")
    base = c2.text_input("Base URL", placeholder="http://127.0.0.1:11434/v1")
    key_name = c3.text_input("Key variable (optional)", placeholder="VLLM_API_KEY")
    if st.form_submit_button("Add", icon=":material/add:"):
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
    if c2.button("Remove", key=f"rm_{spec}"):
        with store.connect(context.db()) as con:
            store.remove_endpoint(con, spec)
        st.rerun()

st.subheader("Local models")
local = catalog.local_models()
default = catalog.default_model_spec()
if default:
    st.caption(f"Default model: {inline_code(default)}")
if not local:
    st.caption(f"No models under {inline_code(catalog.models_dir())} (a folder with config.json). "
               "`workbench finetune --out models/NAME` makes one.")
for m in local:
    with st.expander(f"{markdown_literal(m.name)} — {inline_code(m.spec)}"):
        if m.card:
            st.json(m.card, expanded=1)
        else:
            st.caption("no model_card.json")
for a in list_adapters(catalog.models_dir()):  # LoRA adapters: no config.json of their own
    with st.expander(f"{markdown_literal(a['name'])} — LoRA adapter on {inline_code(a['base'] or 'unknown base')}"):
        st.caption(f"{inline_code(a['spec'])} · base hash {inline_code(a['base_hash'] or '?')} · rank {a['r']} · "
                   f"{(a['trainable_share'] or 0):.2%} of the parameters trained"
                   + (f" · merged: {inline_code(a['merged'])}" if a["merged"] else ""))

@st.cache_resource
def loaded_models() -> set[str]:
    """Local model specs that answered in this app process (their weights stay loaded)."""
    return set()


st.subheader("Classic bots")
rasa = bots.rasa_url()
if bots.rasa_status() is not None:
    st.success(f"Rasa is up at {inline_code(rasa)}: model {inline_code('rasa:' + rasa)}.", icon=":material/smart_toy:")
else:
    st.info(f"No Rasa server at {inline_code(rasa)}. Start the bundled assistant with `make rasa` "
            "(its own Python 3.10 environment; the first time installs Rasa and trains it).", icon=":material/smart_toy:")
for spec in bots.chatterbot_specs():
    st.caption(f"ChatterBot {inline_code(spec)} — trained on the file's train rows the first time it is used")

st.subheader("Try it")
specs = context.model_specs()
c1, c2 = st.columns([2, 3])
picked = c1.selectbox("Model", [*specs, "(type a spec)"], key="try_model")
spec = c2.text_input("Spec", key="try_spec", placeholder="openai:MODEL@http://host:port/v1") \
    if picked == "(type a spec)" else picked
message = st.text_area("Message", key="try_message", placeholder="Hello! How do I reset my password?")
if st.button("Send", type="primary", icon=":material/send:"):
    if not (spec and message.strip()):
        st.warning("Choose a model and write a message first.")
        st.stop()
    first = spec.startswith("hf:") and spec not in loaded_models()
    # A local model's first message loads PyTorch and the weights (~10 s on 2 cores): say so while it waits.
    wait = (f"Loading {inline_code(spec)} (the first message loads PyTorch and the model's weights: several seconds; the next "
            "ones are quick)…" if first else f"Asking {inline_code(spec)}…")
    with st.spinner(wait, show_time=True):
        try:
            started = time.perf_counter()
            done = catalog.try_message(spec, message)
            if first:
                loaded_models().add(spec)
                st.caption(f"This first message also loaded the model: {time.perf_counter() - started:.1f} s in all.")
            with st.chat_message("user"):
                st.text(message)
            with st.chat_message("assistant"):
                st.text(done.text)
            st.caption(markdown_literal(f"{done.latency_ms or 0:.0f} ms · tokens in {done.tokens_in} / out "
                                        f"{done.tokens_out} · finish: {done.finish_reason}"))
        except Exception as e:  # noqa: BLE001 - a provider error is shown, not raised
            context.show_error(e)

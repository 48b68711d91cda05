"""Models: which providers can be used here, OpenAI-compatible endpoints the user adds, local
models with their cards, and a box to send one message to any of them."""

from __future__ import annotations

import streamlit as st

from workbench import store
from workbench.app import catalog, context
from workbench.app.textdiff import inline_code, markdown_literal
from workbench.errors import UserError
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
    with st.spinner(f"asking {inline_code(spec)}…"):
        try:
            done = catalog.try_message(spec, message)
            with st.chat_message("user"):
                st.text(message)
            with st.chat_message("assistant"):
                st.text(done.text)
            st.caption(markdown_literal(f"{done.latency_ms or 0:.0f} ms · tokens in {done.tokens_in} / out "
                                        f"{done.tokens_out} · finish: {done.finish_reason}"))
        except Exception as e:  # noqa: BLE001 - a provider error is shown, not raised
            context.show_error(e)

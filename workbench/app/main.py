"""Streamlit entry point, started by `workbench app` through workbench/app/serve.py.

Pages live in workbench/app/pages/ and stay thin over the core modules. Other features add their
pages by appending to PAGES.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from workbench.app import context

HERE = Path(__file__).parent

st.set_page_config(page_title="workbench", page_icon=":material/science:", layout="wide")
context.load_secrets()
context.warm_up()

PAGES = [
    st.Page(HERE / "pages" / "prompts.py", title="Prompts", icon=":material/edit_note:", default=True),
    st.Page(HERE / "pages" / "datasets.py", title="Datasets", icon=":material/table:"),
    st.Page(HERE / "pages" / "models.py", title="Models", icon=":material/smart_toy:"),
    st.Page(HERE / "pages" / "run.py", title="Run", icon=":material/play_arrow:"),
    st.Page(HERE / "pages" / "compare.py", title="Compare", icon=":material/compare:"),
    st.Page(HERE / "pages" / "export.py", title="Export", icon=":material/download:"),
    st.Page(HERE / "pages" / "annotate.py", title="Annotate", icon=":material/rate_review:"),
    st.Page(HERE / "pages" / "leaderboard.py", title="Leaderboard", icon=":material/leaderboard:"),
]

st.navigation(PAGES).run()

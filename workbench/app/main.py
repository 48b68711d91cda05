"""Streamlit script of the app: its pages. `workbench app` serves it through server.py (an st.App that adds a
redirect for deep links); `streamlit run workbench/app/main.py` still works, without that redirect.

Pages live in workbench/app/views/ (not pages/: a folder of that name beside main.py switches Streamlit to its
old file-based navigation for deep links) and stay thin over the core modules. Other features add their
pages by appending to PAGES.
"""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

from workbench import serving as sharing
from workbench.app import context

HERE = Path(__file__).parent
# Streamlit's script runner puts this folder at the front of sys.path for each rerun and removes it after;
# a background run that imports a module or reads package metadata while the list shrinks can skip an
# entry (site-packages). With a copy of its own on the path, the runner has nothing to add or remove.
if str(HERE) not in sys.path[1:]:
    sys.path.append(str(HERE))

# A local icon: a Material or emoji page_icon makes the browser fetch the favicon from a public font server.
st.set_page_config(page_title="workbench", page_icon=str(HERE / "icon.png"), layout="wide")
context.require_login()
context.load_secrets()

if sharing.annotate_only():  # outside raters: the blind Annotate page alone, no navigation to anything else
    st.navigation([st.Page(HERE / "views" / "annotate.py", title="Annotate", default=True)], position="hidden").run()
    st.stop()
context.warm_up()

PAGES = [
    st.Page(HERE / "views" / "prompts.py", title="Prompts", icon=":material/edit_note:", default=True),
    st.Page(HERE / "views" / "datasets.py", title="Datasets", icon=":material/table:"),
    st.Page(HERE / "views" / "knowledge.py", title="Knowledge", icon=":material/library_books:"),
    st.Page(HERE / "views" / "models.py", title="Models", icon=":material/smart_toy:"),
    st.Page(HERE / "views" / "run.py", title="Run", icon=":material/play_arrow:"),
    st.Page(HERE / "views" / "compare.py", title="Compare", icon=":material/compare:"),
    st.Page(HERE / "views" / "export.py", title="Export", icon=":material/download:"),
    st.Page(HERE / "views" / "annotate.py", title="Annotate", icon=":material/rate_review:"),
    st.Page(HERE / "views" / "leaderboard.py", title="Leaderboard", icon=":material/leaderboard:"),
]

page = st.navigation(PAGES)
# A rater's link is the app's root with ?session=ID[&annotator=NAME]: it switches to the Annotate page within the
# page (no reload). A link to /annotate?... is redirected here (server.py): loaded as is, Streamlit's client would
# first look for its server under the page's path (/annotate/_stcore/health and /host-config, 404 on purpose).
if page is PAGES[0] and ("session" in st.query_params or st.query_params.get("page") == "annotate"):
    st.switch_page(next(p for p in PAGES if p.title == "Annotate"), query_params={k: v for k, v in st.query_params.to_dict().items() if k != "page"})
page.run()

"""The app as an ASGI application (`streamlit run workbench/app/server.py`, what `workbench app` starts): the
pages of main.py, plus one redirect. A rater's deep link to a page (`/annotate?session=...`) would make
Streamlit's client look for its server under the page's path first (`/annotate/_stcore/health` and
`/host-config`, answered 404 on purpose); sent to the root with the same query instead, the app switches to
the Annotate page in place (main.py), and the browser never asks for a path that fails."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs

import streamlit as st
from starlette.middleware import Middleware
from starlette.responses import RedirectResponse
from streamlit.watcher import polling_path_watcher

HERE = Path(__file__).parent
# Streamlit polls its config.toml and secrets.toml files (whatever server.fileWatcherType says) every 0.2 s, in a
# thread each: ~5 ms of CPU a second in an idle server, a sixth of a rating click's budget at a click every 2 s.
# Once a second still picks up an edit of either file before anyone could switch to the browser.
CONFIG_POLL_SECONDS = 1.0
polling_path_watcher._POLLING_PERIOD_SECS = max(polling_path_watcher._POLLING_PERIOD_SECS, CONFIG_POLL_SECONDS)
PAGES = ("annotate",)  # pages a link from outside the app may point at


class PageLinksToRoot:
    """ASGI middleware: GET /PAGE?QUERY (a page in PAGES) answers 307 to /?QUERY, adding page=PAGE unless the
    query names a session (main.py opens the Annotate page for either)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            page = scope["path"].strip("/")
            if page in PAGES:
                query = scope.get("query_string", b"").decode("latin-1")
                if "session" not in parse_qs(query):
                    query = "&".join(q for q in (query, f"page={page}") if q)
                root = scope.get("root_path", "") + "/"
                response = RedirectResponse(root + ("?" + query if query else ""), status_code=307)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


app = st.App(str(HERE / "main.py"), middleware=[Middleware(PageLinksToRoot)])

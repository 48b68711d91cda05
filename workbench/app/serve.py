"""Run the Streamlit server on workbench/app/main.py (what `workbench app` execs).

main.py declares its pages with st.navigation, but Streamlit also notices the `pages/` folder beside
it and, until some session has run main.py, serves a deep link (say /compare after a restart) the
old way: the page script alone, with a navigation made from file names. Telling Streamlit up front
that this app does not use the pages folder makes every first request go through main.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

MAIN = Path(__file__).resolve().parent / "main.py"


def main(argv: list[str] | None = None) -> None:
    try:
        from streamlit.runtime.pages_manager import PagesManager

        PagesManager.uses_pages_directory = False
    except (ImportError, AttributeError):  # a Streamlit without the flag: nothing to turn off
        pass
    from streamlit.web import cli

    sys.argv = ["streamlit", "run", str(MAIN), *(sys.argv[1:] if argv is None else argv)]
    cli.main()


if __name__ == "__main__":
    main()

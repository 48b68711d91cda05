"""store.connect(linger=...): the file stays open between a rater's clicks, yet another process gets its turn."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

from workbench import store
from workbench.store import db as store_db

OTHER = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {root!r})
    from workbench import store
    began = time.monotonic()
    with store.connect({db!r}, wait=float(sys.argv[1])) as con:
        con.execute("INSERT INTO endpoints (spec) VALUES ('openai:cli@http://127.0.0.1:1/v1')")
    print(time.monotonic() - began)
""")


def test_a_lingering_app_still_lets_another_process_in(db, tmp_path):
    from tests.annotation_runs import ROOT

    with store.connect(db, linger=1.0) as con:
        con.execute("SELECT 1")
    assert db in store_db._holds  # held open after the unit of work
    script = tmp_path / "other.py"
    script.write_text(OTHER.format(root=str(ROOT), db=db))
    wait = store_db.HOLD_AT_MOST * 4 + 20  # patient enough for a loaded machine; it gets in within HOLD_AT_MOST + rest
    other = subprocess.Popen([sys.executable, str(script), str(wait)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    # Clicks keep coming every 50 ms: without the rest after HOLD_AT_MOST the file would never be let go.
    deadline = time.monotonic() + wait + 5
    while other.poll() is None and time.monotonic() < deadline:
        with store.connect(db, linger=1.0) as con:
            con.execute("SELECT count(*) FROM endpoints").fetchall()
        time.sleep(0.05)
    out, err = other.communicate(timeout=30)
    assert other.returncode == 0, err[-2000:]
    with store.connect(db) as con:
        assert con.execute("SELECT count(*) FROM endpoints").fetchone() == (1,)

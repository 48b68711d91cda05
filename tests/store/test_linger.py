"""store.connect(linger=...): the file stays open between a rater's clicks, yet another process gets its turn."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

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


def test_kept_open_holds_the_file_for_a_short_eval_then_lets_go(db, tmp_path, monkeypatch):
    """store.kept_open (an eval): its first units of work share one open of the file; after KEEP_AT_MOST the units
    open and close it again, and when the block ends the file is closed at once, free for another process."""
    from tests.annotation_runs import ROOT

    monkeypatch.setattr(store_db, "KEEP_AT_MOST", 0.5)
    with store.kept_open(db):
        with store.connect(db) as con:
            con.execute("SELECT 1")
        hold = store_db._holds.get(db)
        assert hold is not None
        with store.connect(db) as con:
            con.execute("SELECT 1")
        assert store_db._holds.get(db) is hold  # the second unit used the same open file
        time.sleep(0.5 + store_db.KEEP_LINGER + 0.3)
        assert db not in store_db._holds  # let go after KEEP_AT_MOST + KEEP_LINGER
        with store.connect(db) as con:
            con.execute("SELECT 1")
        assert db not in store_db._holds  # later units do not linger
    monkeypatch.setattr(store_db, "KEEP_AT_MOST", 60.0)
    with store.kept_open(db):
        with store.connect(db) as con:
            con.execute("SELECT 1")
        assert db in store_db._holds
    assert db not in store_db._holds and not store_db._kept
    script = tmp_path / "other.py"
    script.write_text(OTHER.format(root=str(ROOT), db=db))
    other = subprocess.run([sys.executable, str(script), "0"], capture_output=True, text=True, timeout=60)
    assert other.returncode == 0, other.stderr[-2000:]  # no wait: the file was closed when the block ended


KNOCKER = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {root!r})
    from workbench import store
    print("ready", flush=True)
    sys.stdin.readline()
    began = time.monotonic()
    with store.connect({db!r}, wait=60) as con:
        con.execute("INSERT INTO endpoints (spec) VALUES ('openai:cli@http://127.0.0.1:1/v1')")
    print(time.monotonic() - began, flush=True)
""")


def test_a_process_that_knocks_gets_in_while_the_clicks_keep_coming(db, tmp_path):
    """A hold lets go of the file when another process knocks (it found the file locked), not after HOLD_AT_MOST:
    the CLI waits well under a second where it waited up to HOLD_AT_MOST (5 s before), while a rater's clicks
    hold the file open between them for as long as they keep coming."""
    from tests.annotation_runs import ROOT

    script = tmp_path / "knocker.py"
    script.write_text(KNOCKER.format(root=str(ROOT), db=db))
    other = subprocess.Popen([sys.executable, str(script)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    assert other.stdout.readline().strip() == "ready", other.stderr.read()[-2000:]  # imported: the wait alone counts
    store_db._close_held()  # a hold that starts now
    with store.connect(db, linger=30.0) as con:
        con.execute("SELECT 1")
    hold = store_db._holds[db]
    other.stdin.write("go\n")
    other.stdin.flush()
    deadline = time.monotonic() + 60
    while other.poll() is None and time.monotonic() < deadline:  # clicks every 50 ms
        with store.connect(db, linger=30.0) as con:
            con.execute("SELECT count(*) FROM endpoints").fetchall()
        time.sleep(0.05)
    out, err = other.communicate(timeout=30)
    assert other.returncode == 0, err[-2000:]
    assert float(out.split()[-1]) < 2.0, out  # a loaded machine's margin over KNOCK_POLL + its retries
    assert store_db._holds.get(db) is not hold  # the hold let go for it, and the next click opened a new one
    assert not Path(store_db.knock_path(db)).exists()  # the knocker cleared its knock once in


def test_a_knock_never_goes_through_a_link_or_into_a_pipe(db, tmp_path):
    """The knock is a file the store makes beside the database: a link or a FIFO put there is left as it is."""
    target = tmp_path / "elsewhere.txt"
    target.write_text("keep")
    old = os.stat(target).st_mtime - 100
    os.utime(target, (old, old))
    os.symlink(target, store_db.knock_path(db))
    assert store_db._knock(db) is False
    assert os.stat(target).st_mtime == old and target.read_text() == "keep"
    os.unlink(store_db.knock_path(db))
    os.mkfifo(store_db.knock_path(db))
    assert store_db._knock(db) is False  # returns at once: no reader needed
    os.unlink(store_db.knock_path(db))
    old_mask = os.umask(0o027)
    try:
        assert store_db._knock(db) is True
        assert stat.S_IMODE(os.stat(store_db.knock_path(db)).st_mode) == 0o640
    finally:
        os.umask(old_mask)

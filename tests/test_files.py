"""Writing user-visible files (workbench/files.py): only a regular file is replaced, atomically, with the usual mode;
`-o -` is standard output. Through the CLI: `export -o` and `annotate export -o`."""

from __future__ import annotations

import json
import os
import stat
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.annotation_runs import make_runs
from workbench import store
from workbench.authoring import library
from workbench.authoring.templates import load_prompt
from workbench.errors import UserError
from workbench.evaluation import bundle
from workbench.files import open_for_write, write_file
from workbench.rating import annotation as an

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def umask(value: int):
    old = os.umask(value)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def run_id(db):
    return make_runs(db, [("support_few_shot", "openai:good")], n_rows=3)[0]


@pytest.fixture
def session_id(db, run_id):
    with store.connect(db) as con:
        return an.create_session(con, an.SessionSpec([run_id], k=1, seed=1, annotators=["ann"]))


def targets(tmp_path: Path) -> dict[str, Path]:
    """Things that are not regular files; each would be clobbered (or written through) by a naive writer."""
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    (tmp_path / "link").symlink_to(victim)
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "folder").mkdir()
    (tmp_path / "null-like").symlink_to(tmp_path / "fifo")  # stands in for /dev/null: never touch the real one
    return {"symbolic link": tmp_path / "link", "FIFO": tmp_path / "fifo", "directory": tmp_path / "folder",
            "symbolic link ": tmp_path / "null-like"}


@pytest.mark.parametrize("command", ["export", "annotate"])
def test_cli_refuses_to_replace_what_is_not_a_regular_file(cli, db, run_id, session_id, tmp_path, command):
    for kind, target in targets(tmp_path).items():
        before = os.lstat(target)
        if command == "export":
            r = cli("export", run_id, "--format", "csv", "-o", target, "--db", db)
        else:
            r = cli("annotate", "export", session_id, "-o", target, "--db", db)
        assert r.code == 2, (kind, r.err)
        assert r.err.count("\n") == 1 and str(target) in r.err and kind.strip() in r.err, r.err
        after = os.lstat(target)
        assert (after.st_ino, after.st_mode) == (before.st_ino, before.st_mode), kind
    assert (tmp_path / "victim.txt").read_text() == "keep me\n"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # no temporary file left behind


def test_dash_is_standard_output(cli, db, run_id, session_id, tmp_path):
    r = cli("export", run_id, "--format", "jsonl", "-o", "-", "--db", db)
    assert r.code == 0 and "standard output" in r.err
    assert [json.loads(line)["run_id"] for line in r.out.splitlines()] == [run_id] * 3
    r = cli("export", run_id, "--format", "csv", "-o", "-", "--db", db)
    assert r.code == 0 and r.out.splitlines()[0].startswith("run_id,prompt")
    r = cli("annotate", "export", session_id, "-o", "-", "--db", db)
    assert r.code == 0 and r.out.strip() == "" and "wrote 0 ratings records to standard output" in r.err
    assert not (tmp_path / "-").exists()


@pytest.mark.parametrize("mask, expected", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_new_files_get_the_usual_mode(cli, db, run_id, tmp_path, mask, expected):
    with umask(mask):
        r = cli("export", run_id, "--format", "parquet", "-o", tmp_path / "out" / "r.parquet", "--db", db)
        write_file(tmp_path / "plain.txt", "x")
    assert r.code == 0, r.err
    assert mode(tmp_path / "out" / "r.parquet") == expected
    assert mode(tmp_path / "plain.txt") == expected


def test_a_replaced_file_keeps_its_mode(tmp_path):
    target = tmp_path / "tracked.yaml"
    target.write_text("old\n")
    target.chmod(0o644)
    with umask(0o077):
        write_file(target, "new\n")
    assert target.read_text() == "new\n" and mode(target) == 0o644
    target.chmod(0o640)
    write_file(target, b"bytes\n")
    assert target.read_bytes() == b"bytes\n" and mode(target) == 0o640


def test_a_failed_write_leaves_the_old_file(tmp_path):
    target = tmp_path / "r.csv"
    target.write_text("old\n")
    with pytest.raises(RuntimeError), open_for_write(target) as f:
        f.write("half")
        raise RuntimeError("disk full")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["r.csv"]


def test_a_path_through_a_file_is_a_user_error(tmp_path):
    (tmp_path / "plain").write_text("x")
    with pytest.raises(UserError, match="not a directory|is a file"):
        write_file(tmp_path / "plain" / "r.csv", "x")


def test_bundle_and_saved_prompt_refuse_a_symlink(db, run_id, tmp_path):
    with store.connect(db) as con:
        chosen = bundle.build_bundle(con, [run_id], "bleu")
    victim = tmp_path / "victim.yaml"
    victim.write_text("keep\n")
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    (prompts / chosen.filename).symlink_to(victim)
    with pytest.raises(UserError, match="symbolic link"):
        bundle.write_bundle(chosen, prompts)
    prompt = load_prompt(ROOT / "prompts" / "support_few_shot.yaml")
    (prompts / "support_few_shot.yaml").symlink_to(victim)
    with pytest.raises(UserError, match="symbolic link"):
        library.save_prompt(prompt, db, prompts)
    assert victim.read_text() == "keep\n"

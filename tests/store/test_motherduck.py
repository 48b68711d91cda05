"""MotherDuck (`md:NAME`) database paths reach DuckDB exactly as written: no folder made, never made absolute.
MotherDuck itself cannot be reached from the test machines: DuckDB gets the path and fails to fetch its
motherduck extension, which is the proof that the path was handed over, and the failure is one clear error."""

from __future__ import annotations

import duckdb
import pytest

from workbench import store
from workbench.cli.app_cmd import streamlit_command
from workbench.errors import UserError


def test_md_paths_are_passed_to_duckdb_unchanged(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    seen = []
    real = duckdb.connect

    def spy(path, *args, **kwargs):
        seen.append(path)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(duckdb, "connect", spy)
    for path in ("md:team_evals", "md:", "motherduck:team_evals"):
        with pytest.raises(UserError) as e:
            with store.connect(path):
                pass
        assert e.value.setting == "db" and repr(path) in e.value.message and "motherduck" in e.value.message.lower()
        assert seen[-1] == path
    assert list(tmp_path.iterdir()) == []  # no file or folder named after it
    monkeypatch.setenv("WORKBENCH_DB", "md:team_evals")
    assert store.db_path() == store.db_location() == "md:team_evals" and store.is_remote("MD:x")
    assert streamlit_command(None, 8501, "127.0.0.1")[1]["WORKBENCH_DB"] == "md:team_evals"  # not /cwd/md:...
    assert store.db_location("x.duckdb") == str(tmp_path / "x.duckdb") and not store.is_remote("x.duckdb")


def test_the_cli_reports_an_unreachable_md_database_in_one_line(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = cli("runs", "--db", "md:team_evals")
    assert r.code == 2 and "Traceback" not in r.err
    assert r.err.strip().count("\n") == 0 and "--db: cannot open the MotherDuck database 'md:team_evals'" in r.err

"""Exported results keep the dataset row's own fields, and `workbench score` reads an export as is."""

from __future__ import annotations

import json

import pytest

from tests.annotation_runs import DATA, make_runs
from workbench import store
from workbench.evaluation import export


def wrong_for_half(v: int, row: dict) -> str:
    return row["reference"] if row["id"] < "en-006" else "Please contact support."


def test_every_record_carries_its_row_fields(db):
    (run,) = make_runs(db, [("support_zero_shot", "openai:m")], n_rows=5)
    with store.connect(db) as con:
        df = export.run_records(con, run)
    data = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines()][:5]
    assert df[["id", "intent", "question", "split"]].to_dict(orient="records") == [
        {k: r[k] for k in ("id", "intent", "question", "split")} for r in data]
    assert df["reference"].tolist() == [r["reference"] for r in data]
    cols = list(df.columns)
    assert cols.index("repeat_idx") < cols.index("id") < cols.index("input") < cols.index("output")


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_score_reads_an_export_as_is(db, cli, tmp_path, fmt):
    (run,) = make_runs(db, [("support_zero_shot", "openai:m")], n_rows=10, answer=wrong_for_half)
    path = tmp_path / f"results.{fmt}"
    assert cli("export", run, "--format", fmt, "-o", path).code == 0
    res = cli("score", path, "--metrics", "exact", "--json")
    assert res.code == 0, res.err
    assert [json.loads(x)["exact"] for x in res.out.splitlines()] == [1.0] * 5 + [0.0] * 5


def test_score_skips_rows_that_errored(db, cli, tmp_path):
    (run,) = make_runs(db, [("support_zero_shot", "openai:m")], n_rows=3)
    path = tmp_path / "results.csv"
    with store.connect(db) as con:
        df = export.run_records(con, run)
    df.loc[1, ["output", "error"]] = [None, "timeout"]
    export.write_frame(df, "csv", path)
    res = cli("score", path, "--metrics", "exact")
    assert res.code == 0, res.err
    assert "skipped 1 rows that ended in an error" in res.err and "2 rows" in res.err


def test_prediction_field_and_errored_rows():
    from workbench.authoring.datasets import Dataset

    assert export.prediction_field(["output", "reference"]) == "output"
    assert export.prediction_field(["prediction", "output"]) == "prediction"
    ds = Dataset("x", "x.jsonl", [{"output": "a", "error": "", "reference": "a"}], ["output", "error", "reference"])
    assert export.without_errors(ds, "output") == (ds, 0)
    ds.rows.append({"output": None, "error": "timeout", "reference": "b"})
    kept, skipped = export.without_errors(ds, "output")
    assert skipped == 1 and kept.rows == ds.rows[:1]


def excel_reads(data: bytes) -> str:
    """What Excel shows for a CSV: UTF-8 when the file starts with a BOM, else the system's code page (GBK on
    Chinese Windows)."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8")
    return data.decode("gbk", errors="replace")


CHINESE = "在登录页点击“忘记密码”，输入账户邮箱。"


def test_csv_opens_in_excel_as_chinese_by_default(db, cli, tmp_path):
    (run,) = make_runs(db, [("support_zero_shot", "openai:m")], n_rows=3, answer=lambda v, row: CHINESE)
    path = tmp_path / "r.csv"
    assert cli("export", run, "--format", "csv", "-o", path).code == 0
    assert CHINESE in excel_reads(path.read_bytes())
    assert cli("export", run, "--format", "csv", "-o", path, "--encoding", "utf-8").code == 0
    assert not path.read_bytes().startswith(b"\xef\xbb\xbf") and CHINESE not in excel_reads(path.read_bytes())
    with store.connect(db) as con:
        df = export.run_records(con, run)
    assert CHINESE in excel_reads(export.frame_bytes(df, "csv"))  # the app's download


def test_csv_gbk_round_trip_and_a_character_gbk_lacks(db, cli, tmp_path):
    from workbench.authoring.datasets import load_dataset
    from workbench.errors import UserError

    (run,) = make_runs(db, [("support_zero_shot", "openai:m")], n_rows=3, answer=lambda v, row: CHINESE)
    path = tmp_path / "r.csv"
    assert cli("export", run, "--format", "csv", "-o", path, "--encoding", "gbk").code == 0
    assert path.read_bytes().decode("gbk").count(CHINESE) == 3
    ds = load_dataset(path)
    assert ds.encoding in ("gbk", "gb18030") and [r["output"] for r in ds.rows] == [CHINESE] * 3
    (bad,) = make_runs(db, [("support_few_shot", "openai:m")], n_rows=3,
                       answer=lambda v, row: "好的 🙂" if row["id"] == "en-002" else CHINESE)
    res = cli("export", bad, "--format", "csv", "-o", path, "--encoding", "gbk")
    assert res.code == 2 and "--encoding: row 2, field 'output': character '🙂'" in res.err
    assert "utf-8-sig" in res.err and path.read_bytes().decode("gbk").count(CHINESE) == 3  # old file intact
    with store.connect(db) as con:
        df = export.run_records(con, bad)
    with pytest.raises(UserError, match="row 2, field 'output'"):
        export.frame_bytes(df, "csv", "gbk")

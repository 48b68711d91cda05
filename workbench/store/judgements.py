"""Judges' results: per judged output the score, reasoning or error (table judgements, with the score also in
`scores` so summaries, gates, Compare and the trust report read it like any metric), pairwise comparisons and
their verdicts, and the judge runs that hold the requests (runs.judge_of)."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import duckdb

if TYPE_CHECKING:  # pandas costs ~0.3 s of start-up; only readers that return frames need it, via duckdb's .df()
    import pandas as pd

from workbench.store.db import insert_rows, record, registered, scan_rows, transaction, upsert_rows

Con = duckdb.DuckDBPyConnection
JUDGEMENT_COLUMNS = ["run_id", "row_idx", "turn_idx", "repeat_idx", "metric", "judge_run", "score", "reasoning",
                     "error_kind", "error"]
VERDICT_COLUMNS = ["comparison_id", "row_idx", "turn_idx", "repeat_idx", "shown_first", "winner", "position",
                   "reasoning", "error_kind", "error"]
_KEY = ["run_id", "row_idx", "turn_idx", "repeat_idx"]


def mark_judge_run(con: Con, judge_run: str, judged: str, metric: str) -> None:
    con.execute("UPDATE runs SET judge_of = ?, judge_metric = ? WHERE id = ?", [judged, metric, judge_run])


def judge_run_for(con: Con, judged: str, metric: str, model_spec: str, dataset_hash: str, prompt_hash: str) -> str | None:
    """The judge run made before for these exact requests (same outputs, rubric and judge), to resume."""
    row = con.execute("""SELECT id FROM runs WHERE judge_of = ? AND judge_metric = ? AND model_spec = ?
                         AND dataset_hash = ? AND prompt_hash = ? ORDER BY created_at DESC LIMIT 1""",
                      [judged, metric, model_spec, dataset_hash, prompt_hash]).fetchone()
    return row[0] if row else None


def judge_runs(con: Con, run_ids: list[str]) -> pd.DataFrame:
    """The judge runs of these runs, with their cost: calls, errors, tokens, latency."""
    return con.execute(
        """SELECT r.judge_of AS run_id, r.judge_metric AS metric, r.id AS judge_run, r.model_spec, r.status,
                  count(o.row_idx) AS calls, count(o.error) AS errors, sum(o.tokens_in) AS tokens_in,
                  sum(o.tokens_out) AS tokens_out, avg(o.latency_ms) AS latency_ms_mean,
                  sum(o.latency_ms) AS latency_ms_total, count(*) FILTER (WHERE o.cached) AS cached, r.created_at
           FROM runs r LEFT JOIN outputs o ON o.run_id = r.id
           WHERE list_contains(?, r.judge_of) GROUP BY ALL ORDER BY r.judge_of, r.judge_metric, r.created_at""",
        [list(run_ids)]).df()


def answers(con: Con, run_id: str, messages: bool = False) -> pd.DataFrame:
    """A run's outputs as judges read them: key, text, error kind (and the messages when asked), without the
    dataset rows and scores that load_outputs joins."""
    return con.execute(
        f"""SELECT row_idx, turn_idx, repeat_idx, text, error, error_kind{', messages' if messages else ''}
            FROM outputs WHERE run_id = ? ORDER BY row_idx, turn_idx, repeat_idx""", [run_id]).df()


def write_judgements(con: Con, rows: list[dict[str, Any]]) -> None:
    """Replace the judgements named in `rows` and their scores in the judged runs, in one transaction."""
    if not rows:
        return
    scores = [{k: r[k] for k in _KEY} | {"metric": r["metric"], "value": r["score"]}
              for r in rows if r.get("score") is not None]
    with transaction(con), registered(con, "_judged", scan_rows(rows, [*_KEY, "metric"])):
        con.execute("""DELETE FROM scores s USING _judged j WHERE s.run_id = j.run_id AND s.row_idx = j.row_idx
                       AND s.turn_idx = j.turn_idx AND s.repeat_idx = j.repeat_idx AND s.metric = j.metric""")
        upsert_rows(con, "judgements", rows, JUDGEMENT_COLUMNS)
        if scores:
            insert_rows(con, "scores", scores, [*_KEY, "metric", "value"])


def load_judgements(con: Con, run_ids: list[str], metric: str | None = None,
                    rows: list[int] | None = None) -> pd.DataFrame:
    """Judgements of these runs' outputs (every judge, or one `metric`; every row, or `rows`)."""
    return con.execute(
        """SELECT * FROM judgements WHERE list_contains(?, run_id) AND (? IS NULL OR metric = ?)
           AND (?::INTEGER[] IS NULL OR list_contains(?::INTEGER[], row_idx))
           ORDER BY run_id, row_idx, turn_idx, repeat_idx, metric""",
        [list(run_ids), metric, metric, rows, rows]).df()


def judge_error_counts(con: Con, run_id: str) -> dict[str, dict[str, int]]:
    """metric -> {error kind: count} of a run's failed judgements."""
    out: dict[str, dict[str, int]] = {}
    for metric, kind, n in con.execute("""SELECT metric, error_kind, count(*) FROM judgements
                                          WHERE run_id = ? AND error_kind IS NOT NULL GROUP BY ALL ORDER BY ALL""",
                                       [run_id]).fetchall():
        out.setdefault(metric, {})[kind] = n
    return out


def create_comparison(con: Con, run_a: str, run_b: str, rubric: str, judge_model: str) -> str:
    cid = uuid.uuid4().hex[:10]
    con.execute("INSERT INTO judge_comparisons (id, run_a, run_b, rubric, judge_model) VALUES (?, ?, ?, ?, ?)",
                [cid, run_a, run_b, rubric, judge_model])
    return cid


def set_comparison_run(con: Con, comparison_id: str, judge_run: str) -> None:
    con.execute("UPDATE judge_comparisons SET judge_run = ? WHERE id = ?", [judge_run, comparison_id])


def get_comparison(con: Con, comparison_id: str) -> dict[str, Any] | None:
    return record(con, "SELECT * FROM judge_comparisons WHERE id = ?", [comparison_id])


def find_comparison(con: Con, run_a: str, run_b: str, rubric: str, judge_model: str) -> str | None:
    row = con.execute("""SELECT id FROM judge_comparisons WHERE run_a = ? AND run_b = ? AND rubric = ?
                         AND judge_model = ? ORDER BY created_at DESC LIMIT 1""",
                      [run_a, run_b, rubric, judge_model]).fetchone()
    return row[0] if row else None


def list_comparisons(con: Con) -> pd.DataFrame:
    return con.execute("SELECT * FROM judge_comparisons ORDER BY created_at, id").df()


def write_verdicts(con: Con, rows: list[dict[str, Any]]) -> None:
    if rows:
        with transaction(con):
            upsert_rows(con, "judge_verdicts", rows, VERDICT_COLUMNS)


def load_verdicts(con: Con, comparison_ids: list[str]) -> pd.DataFrame:
    """Both verdicts of every judged pair, with the runs compared."""
    return con.execute(
        """SELECT v.*, c.run_a, c.run_b, c.rubric, c.judge_model FROM judge_verdicts v
           JOIN judge_comparisons c ON c.id = v.comparison_id WHERE list_contains(?, v.comparison_id)
           ORDER BY v.comparison_id, v.row_idx, v.turn_idx, v.repeat_idx, v.shown_first""",
        [list(comparison_ids)]).df()

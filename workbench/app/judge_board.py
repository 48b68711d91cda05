"""The pairwise judge's ranking on the Leaderboard page, beside the humans' (never mixed with them here)."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import streamlit as st

from workbench import store
from workbench.evaluation import pairwise_judge
from workbench.rating import leaderboard as lb


@st.cache_data(max_entries=16, show_spinner="Fitting Bradley-Terry on the judge's votes…")
def _judge_board(db: str, comparisons: tuple[str, ...]) -> tuple[lb.Leaderboard, list[pairwise_judge.PairwiseReport]]:
    with store.connect(db) as con:
        return (lb.build(con, [], judge=list(comparisons)),
                [pairwise_judge.report(con, c) for c in comparisons])


def comparisons(db: str) -> pd.DataFrame:
    with store.connect(db) as con:
        return store.list_comparisons(con)


def show_judge_board(db: str, found: pd.DataFrame, show_board: Callable[[lb.Leaderboard], None]) -> None:
    """Pick pairwise judge comparisons (workbench judge pairwise); rank their consistent verdicts."""
    st.markdown("**The pairwise judge**")
    labels = {c.id: f"{c.id} · {c.run_a} vs {c.run_b} · {c.rubric} · {c.judge_model}" for c in found.itertuples()}
    chosen = st.multiselect("Judge comparisons", list(labels), default=list(labels), format_func=labels.get,
                            key="lb_judge")
    if not chosen:
        return
    board, reports = _judge_board(db, tuple(chosen))
    if board.standings:
        show_board(board)
    else:
        st.info("No consistent judge verdicts to rank.")
    st.dataframe(pd.DataFrame([{"comparison": r.comparison_id, "pairs": r.pairs, "a wins": r.a_wins,
                                "b wins": r.b_wins, "ties": r.ties, "inconsistent": r.inconsistent,
                                "position bias": r.position_bias_rate, "first position": r.first_position_share,
                                "errors": r.errors} for r in reports]), hide_index=True, width="stretch",
                 column_config={c: st.column_config.NumberColumn(format="percent")
                                for c in ("position bias", "first position")})
    st.caption("A pair counts only when the judge picks the same answer in both orders. Position bias: the share "
               "of pairs where it chose the same position both times.")

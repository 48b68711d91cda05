"""Bradley-Terry leaderboard of prompt x model variants from pairwise votes, with bootstrap 95% CIs.

Each variant (a run: one prompt version with one model) gets a strength theta; P(i beats j) =
1 / (1 + exp(theta_j - theta_i)). Strengths are fitted with choix's ILSR (maximum likelihood, a small
regularisation so a variant that never lost still gets a finite strength) and centred on 0, so a
difference of 1.0 means odds of e (~73%) of winning.

Ties: "tie" and "both bad" carry no preference, so each counts as half a win for each side (the rule
Chatbot Arena uses for ties, "both bad" included): the fit works on a matrix of win counts where a
tie adds 0.5 in each direction.

Confidence intervals: the votes are resampled by item (all annotators' votes on a pair go together,
since they judged the same two answers), the model is refitted, and the 2.5th and 97.5th percentiles
of each strength are reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from workbench import store
from workbench.errors import UserError
from workbench.rating import annotation

REGULARISATION = 0.01
TIES = ("tie", "both_bad")
NO_VOTES = "no ratings yet: rate some pairs first (workbench app, Annotate page)"


@dataclass
class Standing:
    rank: int
    run_id: str
    prompt: str
    prompt_version: str
    model: str
    strength: float
    ci_low: float
    ci_high: float
    wins: int
    ties: int
    losses: int

    @property
    def votes(self) -> int:
        return self.wins + self.ties + self.losses

    @property
    def label(self) -> str:
        return f"{self.prompt} x {self.model}"


@dataclass
class Leaderboard:
    sessions: list[str]
    standings: list[Standing]
    n_votes: int
    n_ties: int
    n_both_bad: int
    n_boot: int
    level: float
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"sessions": self.sessions, "votes": self.n_votes, "ties": self.n_ties, "both_bad": self.n_both_bad,
                "bootstrap_resamples": self.n_boot, "level": self.level, "notes": self.notes,
                "standings": [{**vars(s), "votes": s.votes} for s in self.standings]}


def fit(n: int, wins: np.ndarray, ties: np.ndarray) -> np.ndarray:
    """Strengths of n players from (winner, loser) rows and (i, j) tie rows, centred on 0."""
    import choix

    wins = np.asarray(wins, dtype=int).reshape(-1, 2)
    ties = np.asarray(ties, dtype=int).reshape(-1, 2)
    if not len(wins) and not len(ties):
        return np.zeros(n)
    counts = np.zeros((n, n))  # counts[i, j]: times i beat j; a tie is half a win each way
    np.add.at(counts, (wins[:, 0], wins[:, 1]), 1.0)
    np.add.at(counts, (ties[:, 0], ties[:, 1]), 0.5)
    np.add.at(counts, (ties[:, 1], ties[:, 0]), 0.5)
    theta = np.asarray(choix.ilsr_pairwise_dense(counts, alpha=REGULARISATION), dtype=float)
    return theta - theta.mean()


def votes(con, session_ids: list[str]) -> pd.DataFrame:
    """Every pairwise vote with the run on each side; one row per (session, item, annotator)."""
    for sid in session_ids:
        if store.get_session(con, sid)["kind"] != "pairwise":
            raise UserError(f"session {sid} rates single outputs; a leaderboard needs a pairwise session", "SESSION")
    df = annotation.session_ratings(con, session_ids)
    return df[["session_id", "item_idx", "annotator", "run_a", "run_b", "value"]]


def judge_votes(con, comparison_ids: list[str]) -> pd.DataFrame:
    """The pairwise judge's votes (workbench.evaluation.pairwise_judge), in the shape of `votes`: one per pair
    whose two orders agree; inconsistent and incomplete pairs are no vote."""
    from workbench.evaluation.pairwise_judge import outcomes

    for cid in comparison_ids:
        if store.get_comparison(con, cid) is None:
            raise UserError(f"no pairwise judge comparison {cid!r} (workbench judge list)", setting="judge")
    pairs = outcomes(store.load_verdicts(con, list(comparison_ids)))
    pairs = pairs[pairs["outcome"].isin(["a", "b", "tie"])]
    return pd.DataFrame({
        "session_id": "judge:" + pairs["comparison_id"].astype(str),
        "item_idx": [f"{r}.{t}.{k}" for r, t, k in zip(pairs["row_idx"], pairs["turn_idx"], pairs["repeat_idx"])],
        "annotator": "judge", "run_a": pairs["run_a"], "run_b": pairs["run_b"],
        "value": pairs["outcome"].map({"a": "A", "b": "B", "tie": "tie"})}).reset_index(drop=True)


def build(con, session_ids: list[str], n_boot: int = 500, seed: int = 0, level: float = 0.95,
          judge: list[str] | None = None, mix: bool = False) -> Leaderboard:
    """The leaderboard of the sessions' human votes; with `judge` (pairwise judge comparison ids) and no
    sessions, of the judge's votes; both only with `mix` (the two sources are kept apart by default)."""
    if judge and session_ids and not mix:
        raise UserError("human and judge votes are ranked apart; ask for both in one ranking to mix them",
                        setting="mix_judge")
    parts = ([votes(con, session_ids)] if session_ids else []) + ([judge_votes(con, judge)] if judge else [])
    df = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["session_id", "item_idx", "annotator", "run_a", "run_b", "value"])
    sources = list(session_ids) + [f"judge:{c}" for c in judge or []]
    if df.empty:  # a new session: nothing to rank yet, which is not an error
        return Leaderboard(sources, [], 0, 0, 0, n_boot, level, [NO_VOTES])
    runs = sorted(set(df["run_a"]) | set(df["run_b"]))
    index = {r: i for i, r in enumerate(runs)}
    a = df["run_a"].map(index).to_numpy()
    b = df["run_b"].map(index).to_numpy()
    value = df["value"].to_numpy()
    is_tie = np.isin(value, TIES)
    winner = np.where(value == "A", a, b)
    loser = np.where(value == "A", b, a)
    theta = fit(len(runs), np.c_[winner, loser][~is_tie], np.c_[a, b][is_tie])

    # Bootstrap over items: keys group each item's votes from all annotators.
    keys = pd.factorize(df["session_id"] + ":" + df["item_idx"].astype(str))[0]
    members = [np.flatnonzero(keys == k) for k in range(keys.max() + 1)]
    rng = np.random.default_rng(seed)
    boot = np.empty((n_boot, len(runs)))
    for s in range(n_boot):
        rows = np.concatenate([members[k] for k in rng.integers(0, len(members), len(members))])
        t = is_tie[rows]
        boot[s] = fit(len(runs), np.c_[winner[rows], loser[rows]][~t], np.c_[a[rows], b[rows]][t])
    tail = (1 - level) / 2 * 100
    lows, highs = np.percentile(boot, [tail, 100 - tail], axis=0) if n_boot else (theta, theta)

    standings = []
    for r, i in index.items():
        run = store.get_run(con, r)
        mine = (a == i) | (b == i)
        won = int(((winner == i) & ~is_tie).sum())
        tied = int((is_tie & mine).sum())
        standings.append(Standing(0, r, run["prompt_name"], run["prompt_hash"], run["model_spec"], float(theta[i]),
                                  float(lows[i]), float(highs[i]), won, tied, int(mine.sum()) - won - tied))
    standings.sort(key=lambda s: -s.strength)
    for rank, s in enumerate(standings, 1):
        s.rank = rank
    notes = []
    if len(runs) == 2:
        notes.append("two variants: the strengths restate one win rate; add runs to the session for a ranking")
    if not _connected(len(runs), np.c_[a, b]):
        notes.append("some variants were never compared, even indirectly: strengths across those groups "
                     "are not comparable")
    return Leaderboard(sources, standings, len(df), int((value == "tie").sum()),
                       int((value == "both_bad").sum()), n_boot, level, notes)


def _connected(n: int, pairs: np.ndarray) -> bool:
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    return connected_components(graph, directed=False)[0] == 1

"""Leaderboard: create rating sessions, then read what the ratings say — Bradley-Terry ranking of the
variants with 95% CIs, annotator agreement, the disputed items to adjudicate, and which automatic
metric tracks the humans. This page names the variants; the Annotate page never does."""

from __future__ import annotations

import secrets

import altair as alt
import pandas as pd
import streamlit as st

from workbench import store
from workbench.app import context, judge_board
from workbench.app.textdiff import inline_code
from workbench.rating import agreement, annotation, trust
from workbench.rating import leaderboard as lb
from workbench.rating.conversations import is_conversation_run

ss = st.session_state
st.title("Leaderboard")
db = context.db()


@st.cache_data(max_entries=16, show_spinner="Fitting Bradley-Terry and bootstrapping…")
def _board(db: str, sessions: tuple[str, ...], stamp: tuple) -> lb.Leaderboard:
    with store.connect(db) as con:
        return lb.build(con, list(sessions))


@st.cache_data(max_entries=16, show_spinner=False)
def _agreement(db: str, sid: str, stamp: tuple) -> tuple[agreement.Agreement, pd.DataFrame]:
    with store.connect(db) as con:
        return agreement.session_agreement(con, sid), agreement.disagreements(con, sid)


@st.cache_data(max_entries=16, show_spinner=False)
def _trust(db: str, sessions: tuple[str, ...], stamp: tuple) -> trust.TrustReport:
    with store.connect(db) as con:
        return trust.report(con, list(sessions))


def session_label(r: dict) -> str:
    what = "pairwise" if r["kind"] == "pairwise" else f"single, {r['scale']}"
    if r.get("unit") == "turn":
        what += ", by turn"
    parts = (r["id"], r["name"], what, f"{r['n_ratings']}/{r['n_items'] * r['k']} ratings")
    return " · ".join(x for x in parts if isinstance(x, str) and x)


def link_to_annotate(sid: str) -> None:
    """A link that opens the Annotate page on the session, in this tab, and the URL to share."""
    from streamlit.errors import StreamlitAPIException

    try:
        st.page_link("views/annotate.py", label="Rate it on the Annotate page", icon=":material/rate_review:",
                     query_params={"session": sid})
    except StreamlitAPIException:  # the page run alone (AppTest): no navigation to link into
        st.markdown(f"[Rate it on the Annotate page](annotate?session={sid})")
    st.caption(f"Annotators open `annotate?session={sid}` (this app's address followed by that).")


def new_session_form() -> None:
    run_ids = context.pick_runs("lb_new")
    if not run_ids:
        return
    c1, c2, c3, c4 = st.columns(4)
    pairwise = c1.toggle("Pairwise", help="Show two variants' answers to the same row side by side (every pair "
                                          "of the chosen runs); otherwise rate each output on its own.")
    scale = c2.radio("Scale", ["likert", "thumbs"], horizontal=True, disabled=pairwise,
                     format_func={"likert": "Likert 1–5", "thumbs": "Thumbs"}.get)
    k = c3.number_input("Annotators per item (k)", min_value=1, max_value=50, value=1)
    seed = c4.number_input("Seed (order and sides)", min_value=0, value=ss.setdefault("lb_seed", secrets.randbits(20)))
    c5, c6 = st.columns(2)
    roster = c5.text_input("Roster (optional)", help="Comma-separated names: items are dealt out to them now. "
                                                     "Leave empty to let anyone join and claim items as they go.")
    title = c6.text_input("Session name (optional)")
    passages = st.checkbox("Show the passages each answer was given (knowledge prompts)", key="lb_passages")
    with store.connect(db) as con:
        conversation = all(is_conversation_run(con, r) for r in run_ids)
    unit = None
    if conversation:
        unit = st.radio("Rate", ["conversation", "turn"], horizontal=True, key="lb_unit",
                        format_func={"conversation": "Whole conversations",
                                     "turn": "Single turns (each after the conversation so far)"}.get)
    timeout = st.number_input("Claim timeout (minutes)", min_value=0.1, max_value=24 * 60.0, value=15.0, step=1.0,
                              help="Without a roster, an item a rater was shown but did not rate goes back to "
                                   "the pool after this long (and at once when they stop rating).")
    rubric = st.text_area("Rubric shown to annotators", value=annotation.RUBRICS["pairwise" if pairwise else scale])
    with store.connect(db) as con:
        columns, default = annotation.field_choices(con, run_ids)
    fields = st.multiselect("Row fields raters see", columns, default=default, key=f"lb_fields_{'_'.join(run_ids)}",
                            help="By default the fields the prompt uses (what the model was asked). A field such as "
                                 "intent hints at the expected answer: show it only on purpose.")
    if st.button("Create session", type="primary", icon=":material/add:"):
        spec = annotation.SessionSpec(run_ids, pairwise=pairwise, k=int(k), seed=int(seed),
                                      scale=None if pairwise else scale, rubric=rubric or None, name=title or None,
                                      annotators=[n for n in roster.split(",") if n.strip()] or None,
                                      claim_timeout=float(timeout) * 60, unit=unit, show_passages=passages,
                                      show_fields=fields)
        try:
            with store.connect(db) as con:
                sid = annotation.create_session(con, spec)
                n = store.get_session(con, sid)["n_items"]
            ss.pop("lb_seed", None)
            st.success(f"Session {sid}: {n} items.")
            link_to_annotate(sid)
        except Exception as e:  # noqa: BLE001
            context.show_error(e)


def show_board(board: lb.Leaderboard) -> None:
    df = pd.DataFrame([{"rank": s.rank, "variant": s.label, "run": s.run_id, "strength": s.strength,
                        "ci_low": s.ci_low, "ci_high": s.ci_high, "wins": s.wins, "ties": s.ties,
                        "losses": s.losses} for s in board.standings])
    st.dataframe(df, hide_index=True, width="stretch",
                 column_config={c: st.column_config.NumberColumn(format="%+.3f")
                                for c in ("strength", "ci_low", "ci_high")})
    base = alt.Chart(df).encode(y=alt.Y("variant:N", sort=alt.SortField("strength", order="descending"),
                                        title=None, axis=alt.Axis(labelLimit=500)))
    bars = base.mark_rule(strokeWidth=2).encode(x=alt.X("ci_low:Q", title="Bradley-Terry strength (95% CI)"),
                                                x2="ci_high:Q")
    points = base.mark_point(filled=True, size=90).encode(
        x="strength:Q", tooltip=["variant", "run", alt.Tooltip("strength:Q", format="+.3f"),
                                 alt.Tooltip("ci_low:Q", format="+.3f"), alt.Tooltip("ci_high:Q", format="+.3f"),
                                 "wins", "ties", "losses"])
    st.altair_chart((bars + points).properties(height=60 + 40 * len(df)), width="stretch")
    st.caption(f"{board.n_votes} votes ({board.n_ties} ties, {board.n_both_bad} both bad). Strengths are log-odds "
               "centred on 0: a gap of 1.0 means about 73% to win. Ties and 'both bad' count as half a win for "
               f"each side. Intervals: {board.n_boot} bootstrap resamples of the rated items.")
    for note in board.notes:
        st.warning(note)


with store.connect(db) as con:
    sessions = store.list_sessions(con)
with st.expander("New rating session", expanded=sessions.empty, icon=":material/add_task:"):
    new_session_form()
judged = judge_board.comparisons(db)
if sessions.empty:
    if len(judged):
        judge_board.show_judge_board(db, judged, show_board)
    st.stop()

info = {r["id"]: r for r in sessions.to_dict(orient="records")}
chosen = st.multiselect(
    "Sessions", list(info), default=list(info)[-1:], key="lb_sessions",
    format_func=lambda s: session_label(info[s]))
if not chosen:
    st.stop()
stamp = tuple((s, info[s]["n_ratings"]) for s in chosen)


def release_claim(sid: str, item_idx: int, annotator: str) -> None:
    with store.connect(db) as con:
        annotation.release(con, sid, item_idx, annotator)


def claims_section(sids: list[str]) -> None:
    """Items shown to a rater but not rated yet: who holds them, for how long; the owner can release them."""
    with store.connect(db) as con:
        held = {s: annotation.open_claims(con, s) for s in sids}
    held = {s: df for s, df in held.items() if len(df)}
    if not held:
        return
    st.subheader("Claimed, not yet rated")
    for sid, df in held.items():
        st.caption(f"{sid}: {len(df)} items held; a claim goes back to the pool after "
                   f"{info[sid]['claim_timeout'] / 60:g} min unrated, or when its rater stops.")
        for r in df.itertuples():
            c1, c2, c3, c4 = st.columns([1, 2, 2, 1])
            c1.text(f"item {r.item_idx + 1}")
            c2.text(r.annotator)
            c3.text(f"{r.age_s // 60:.0f} min {r.age_s % 60:.0f} s ago" + (" · expired" if r.expired else ""))
            c4.button("Release", key=f"lb_release_{sid}_{r.item_idx}_{r.annotator}", on_click=release_claim,
                      args=(sid, int(r.item_idx), r.annotator), icon=":material/lock_open:")


claims_section(chosen)
pairwise = tuple(s for s in chosen if info[s]["kind"] == "pairwise")

st.subheader("Variants ranked by pairwise votes")
humans, judge = st.columns(2, gap="large") if len(judged) else (st.container(), None)
with humans:
    if len(judged):
        st.markdown("**The annotators**")
    if not pairwise:
        st.info("Pick a pairwise session to rank variants (single-output sessions feed the agreement and trust "
                "sections below).")
    else:
        try:
            board = _board(db, pairwise, stamp)
            if board.standings:
                show_board(board)
            else:
                st.info(lb.NO_VOTES.capitalize() + ".")
        except Exception as e:  # noqa: BLE001
            context.show_error(e)
if judge is not None:
    with judge:
        judge_board.show_judge_board(db, judged, show_board)

st.subheader("Agreement between annotators")
for sid in chosen:
    result, disputed = _agreement(db, sid, stamp)
    cols = st.columns(4)
    cols[0].metric(f"α ({result.level}) · {sid}", "n/a" if result.alpha != result.alpha else f"{result.alpha:.3f}")
    cols[1].metric("Items rated twice or more", result.n_items)
    cols[2].metric("Annotators", result.n_annotators)
    cols[3].metric("Disputed items", len(disputed))
    if result.pairs:
        st.dataframe(pd.DataFrame([vars(p) for p in result.pairs]), hide_index=True, width="stretch")
    if len(disputed):
        with st.expander(f"Adjudicate: {len(disputed)} disputed items in {sid}", icon=":material/gavel:"):
            shown = disputed.head(50)
            with store.connect(db) as con:  # the items shown, not the session's 100,000
                items = store.item_outputs(con, sid, items=shown["item_idx"].tolist()).set_index("item_idx")
            for r in shown.itertuples():
                rec = items.loc[r.item_idx]
                with st.container(border=True):
                    st.markdown(f"**Item {r.item_idx + 1}** · spread {r.spread:g}")
                    st.text(" · ".join(f"{who}: {value}" for who, value in r.ratings.items()))
                    st.text(" · ".join(f"{k}: {v}" for k, v in rec["row_data"].items()))
                    sides = [("A", rec["text_a"], rec["prompt_a"], rec["model_a"])]
                    if info[sid]["kind"] == "pairwise":
                        sides.append(("B", rec["text_b"], rec["prompt_b"], rec["model_b"]))
                    for col, (side, text, prompt, model) in zip(st.columns(len(sides)), sides):
                        label = f"{inline_code(prompt)} × {inline_code(model)}"
                        col.caption(f"{side}: {label}" if len(sides) > 1 else label)
                        col.text(text)
                    for c in r.comments:
                        st.text(c)
    st.caption("Cohen's κ per pair of annotators on the items both rated (quadratic-weighted κ for Likert); "
               "Krippendorff's α over everyone, ordinal for Likert and nominal for thumbs and pairwise votes. "
               "Likert items are disputed when ratings lie 2 or more points apart.")

st.subheader("Which metric can you trust?")
try:
    report = _trust(db, tuple(chosen), stamp)
except Exception as e:  # noqa: BLE001
    context.show_error(e)
    st.stop()
if report.correlations:
    corr = pd.DataFrame([{"metric": c.metric, "scale": c.scale, "n": c.n, "Spearman": c.spearman,
                          "Spearman low": c.spearman_ci[0], "Spearman high": c.spearman_ci[1], "Kendall": c.kendall,
                          "Kendall low": c.kendall_ci[0], "Kendall high": c.kendall_ci[1], "p": c.spearman_p}
                         for c in report.correlations])
    st.dataframe(corr, hide_index=True, width="stretch",
                 column_config={c: st.column_config.NumberColumn(format="%.3f") for c in corr.columns[3:]})
    base = alt.Chart(corr.dropna(subset=["Spearman"])).encode(
        y=alt.Y("metric:N", sort=alt.SortField("Spearman", order="descending"), title=None))
    chart = (base.mark_rule(strokeWidth=2).encode(x=alt.X("Spearman low:Q", title="Spearman ρ with human ratings "
                                                                                  "(95% CI)",
                                                          scale=alt.Scale(domain=[-1, 1])), x2="Spearman high:Q")
             + base.mark_point(filled=True, size=80).encode(x="Spearman:Q", tooltip=list(corr.columns)))
    st.altair_chart(chart.properties(height=40 + 30 * len(corr)), width="stretch")
    st.caption(f"Rank correlation of each metric with the mean human rating of {report.n_outputs} outputs; "
               "95% CIs by Fisher's z. A metric worth trusting has its whole interval well above 0 "
               "(below 0 for latency, where lower is better).")
if report.votes:
    st.dataframe(pd.DataFrame([{"metric": v.metric, "agrees with votes": v.rate, "95% CI low": v.ci[0],
                                "95% CI high": v.ci[1], "votes": v.n, "metric ties": v.metric_ties,
                                "counts as better": v.prefers} for v in report.votes]),
                 hide_index=True, width="stretch")
    st.caption(f"Share of {report.n_votes} decisive pairwise votes where the metric scores the chosen answer "
               "better (Wilson 95% CI). 50% is a coin flip.")
if report.judges:
    st.dataframe(pd.DataFrame([{"judge": j.judge, "scale": j.scale, "n": j.n, "Cohen's κ": j.kappa,
                                "α with the judge": j.alpha_with_judge, "α humans alone": j.alpha_humans,
                                "Spearman": j.spearman, "note": j.note} for j in report.judges]),
                 hide_index=True, width="stretch")
    st.caption("Judges against the human ratings of the same outputs: κ against the humans' median rating; "
               "Krippendorff's α with the judge as one more annotator, beside the humans' own α. A judge that can "
               "stand in for an annotator keeps α where it was.")
for note in report.notes:
    st.info(note)
if not report.correlations and not report.votes:
    st.info("No ratings yet in the chosen sessions.")

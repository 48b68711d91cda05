"""Leaderboard: create rating sessions, then read what the ratings say — Bradley-Terry ranking of the
variants with 95% CIs, annotator agreement, the disputed items to adjudicate, and which automatic
metric tracks the humans. This page names the variants; the Annotate page never does."""

from __future__ import annotations

import secrets

import pandas as pd
import streamlit as st

from workbench import store
from workbench.app import context, judge_board
from workbench.app.i18n import LANGS, N_, _, current, ngettext
from workbench.app.svg_chart import in_markdown, intervals_svg
from workbench.app.textdiff import inline_code
from workbench.rating import agreement, annotation, trust
from workbench.rating import leaderboard as lb
from workbench.rating.conversations import is_conversation_run

ss = st.session_state
st.title(_("Leaderboard"))
# The notes rating/leaderboard.py and rating/trust.py give in English, shown translated (a note with a number
# in it stays English).
NOTES = [N_("two variants: the strengths restate one win rate; add runs to the session for a ranking"),
         N_("some variants were never compared, even indirectly: strengths across those groups are not comparable"),
         N_("the rated runs have no automatic scores"),
         N_("sessions use both Likert and thumbs: correlations are given per scale")]
db = context.db()


@st.cache_data(max_entries=16, show_spinner=False)
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
    what = _("pairwise") if r["kind"] == "pairwise" else _("single, {scale}").format(scale=r["scale"])
    if r.get("unit") == "turn":
        what += ", " + _("by turn")
    parts = (r["id"], r["name"], what, _("{n}/{target} ratings").format(n=r["n_ratings"], target=r["n_items"] * r["k"]))
    return " · ".join(x for x in parts if isinstance(x, str) and x)


def link_to_annotate(sid: str) -> None:
    """A link that opens the Annotate page on the session, in this tab, and the URL to share."""
    from streamlit.errors import StreamlitAPIException

    try:
        st.page_link("views/annotate.py", label=_("Rate it on the Annotate page"), icon=":material/rate_review:",
                     query_params={"session": sid})
    except StreamlitAPIException:  # the page run alone (AppTest): no navigation to link into
        st.markdown("[" + _("Rate it on the Annotate page") + f"](annotate?session={sid})")
    st.caption(_("Annotators open {link} (this app's address followed by that).").format(
        link=f"`annotate?session={sid}`"))


def new_session_form() -> None:
    run_ids = context.pick_runs("lb_new")
    if not run_ids:
        return
    c1, c2, c3, c4 = st.columns(4)
    pairwise = c1.toggle(_("Pairwise"), help=_("Show two variants' answers to the same row side by side (every "
                                               "pair of the chosen runs); otherwise rate each output on its own."))
    scales = {"likert": _("Likert 1–5"), "thumbs": _("Thumbs")}
    scale = c2.radio(_("Scale"), ["likert", "thumbs"], horizontal=True, disabled=pairwise, format_func=scales.get)
    k = c3.number_input(_("Annotators per item (k)"), min_value=1, max_value=50, value=1)
    seed = c4.number_input(_("Seed (order and sides)"), min_value=0, value=ss.setdefault("lb_seed", secrets.randbits(20)))
    c5, c6 = st.columns(2)
    roster = c5.text_input(_("Roster (optional)"), help=_("Comma-separated names: items are dealt out to them "
                                                          "now. Leave empty to let anyone join and claim items as "
                                                          "they go."))
    title = c6.text_input(_("Session name (optional)"))
    passages = st.checkbox(_("Show the passages each answer was given (knowledge prompts)"), key="lb_passages")
    with store.connect(db) as con:
        conversation = all(is_conversation_run(con, r) for r in run_ids)
    unit = None
    if conversation:
        units = {"conversation": _("Whole conversations"),
                 "turn": _("Single turns (each after the conversation so far)")}
        unit = st.radio(_("Rate"), ["conversation", "turn"], horizontal=True, key="lb_unit", format_func=units.get)
    c7, c8 = st.columns([3, 1])
    timeout = c7.number_input(_("Claim timeout (minutes)"), min_value=0.1, max_value=24 * 60.0, value=15.0, step=1.0,
                              help=_("Without a roster, an item a rater was shown but did not rate goes back to "
                                     "the pool after this long (and at once when they stop rating)."))
    # The default rubric and tags come in both languages; the interface's is offered first.
    lang = c8.selectbox(_("Rubric and tags in"), list(LANGS), index=list(LANGS).index(current()),
                        format_func=LANGS.get, key="lb_rubric_lang")
    kind = "pairwise" if pairwise else scale
    rubric = st.text_area(_("Rubric shown to annotators"), value=annotation.default_rubric(kind, lang),
                          key=f"lb_rubric_{kind}_{lang}")
    tags = st.multiselect(_("Tags offered to annotators"), annotation.default_tags(lang),
                          default=annotation.default_tags(lang), accept_new_options=True, key=f"lb_tags_{lang}",
                          placeholder=_("Choose or add options"))
    with store.connect(db) as con:
        columns, default = annotation.field_choices(con, run_ids)
    fields = st.multiselect(_("Row fields raters see"), columns, default=default,
                            key=f"lb_fields_{'_'.join(run_ids)}", placeholder=_("Choose options"),
                            help=_("By default the fields the prompt uses (what the model was asked). A field such "
                                   "as intent hints at the expected answer: show it only on purpose."))
    if st.button(_("Create session"), type="primary", icon=":material/add:"):
        spec = annotation.SessionSpec(run_ids, pairwise=pairwise, k=int(k), seed=int(seed), tags=tags,
                                      scale=None if pairwise else scale, rubric=rubric or None, name=title or None,
                                      annotators=[n for n in roster.split(",") if n.strip()] or None,
                                      claim_timeout=float(timeout) * 60, unit=unit, show_passages=passages,
                                      show_fields=fields)
        try:
            with store.connect(db) as con:
                sid = annotation.create_session(con, spec)
                n = store.get_session(con, sid)["n_items"]
            ss.pop("lb_seed", None)
            st.success(ngettext("Session {sid}: {n} item.", "Session {sid}: {n} items.", n).format(sid=sid, n=n))
            link_to_annotate(sid)
        except Exception as e:  # noqa: BLE001
            context.show_error(e)


def show_board(board: lb.Leaderboard) -> None:
    df = pd.DataFrame([{"rank": s.rank, "variant": s.label, "run": s.run_id, "strength": s.strength,
                        "ci_low": s.ci_low, "ci_high": s.ci_high, "wins": s.wins, "ties": s.ties,
                        "losses": s.losses} for s in board.standings])
    headers = {"rank": _("rank"), "variant": _("variant"), "run": _("run"), "wins": _("wins"), "ties": _("ties"),
               "losses": _("losses")}
    strength = _("strength")
    st.dataframe(df, hide_index=True, width="stretch",
                 column_config={**{c: st.column_config.Column(h) for c, h in headers.items()},
                                **{c: st.column_config.NumberColumn(h, format="%+.3f") for c, h in (
                                    ("strength", strength), ("ci_low", _("CI low")), ("ci_high", _("CI high")))}})
    rows = [(s.label, s.ci_low, s.strength, s.ci_high,
             f"{s.label} ({s.run_id})\n{strength} {s.strength:+.3f}, 95% CI {s.ci_low:+.3f} – "
             f"{s.ci_high:+.3f}\n{headers['wins']} {s.wins} · {headers['ties']} {s.ties} · {headers['losses']} "
             f"{s.losses}") for s in sorted(board.standings, key=lambda s: -s.strength)]
    # drawn here as SVG: a Vega chart cost Chromium the parsing and start of Vega on the page's first paint
    st.markdown(in_markdown(intervals_svg(rows, _("Bradley-Terry strength (95% CI)"))), unsafe_allow_html=True)
    st.caption(_("{votes} votes ({ties} ties, {both_bad} both bad). Strengths are log-odds centred on 0: a gap of "
                 "1.0 means about 73% to win. Ties and 'both bad' count as half a win for each side. Intervals: "
                 "{boot} bootstrap resamples of the rated items.").format(
        votes=board.n_votes, ties=board.n_ties, both_bad=board.n_both_bad, boot=board.n_boot))
    for note in board.notes:
        st.warning(_(note))


def release_claim(sid: str, item_idx: int, annotator: str) -> None:
    with store.connect(db) as con:
        annotation.release(con, sid, item_idx, annotator)


def claims_section(sids: list[str], info: dict) -> None:
    """Items shown to a rater but not rated yet: who holds them, for how long; the owner can release them."""
    with store.connect(db) as con:
        held = {s: annotation.open_claims(con, s) for s in sids}
    held = {s: df for s, df in held.items() if len(df)}
    if not held:
        return
    st.subheader(_("Claimed, not yet rated"))
    for sid, df in held.items():
        st.caption(_("{sid}: {n} items held; a claim goes back to the pool after {minutes} min unrated, or when its "
                     "rater stops.").format(sid=sid, n=len(df), minutes=f"{info[sid]['claim_timeout'] / 60:g}"))
        for r in df.itertuples():
            c1, c2, c3, c4 = st.columns([1, 2, 2, 1])
            c1.text(_("item {n}").format(n=r.item_idx + 1))
            c2.text(r.annotator)
            c3.text(_("{minutes} min {seconds} s ago").format(minutes=f"{r.age_s // 60:.0f}", seconds=f"{r.age_s % 60:.0f}")
                    + (" · " + _("expired") if r.expired else ""))
            c4.button(_("Release"), key=f"lb_release_{sid}_{r.item_idx}_{r.annotator}", on_click=release_claim,
                      args=(sid, int(r.item_idx), r.annotator), icon=":material/lock_open:")


def ranking_section(pairwise: tuple[str, ...], judged: pd.DataFrame, stamp: tuple) -> None:
    st.subheader(_("Variants ranked by pairwise votes"))
    humans, judge = st.columns(2, gap="large") if len(judged) else (st.container(), None)
    with humans:
        if len(judged):
            st.markdown("**" + _("The annotators") + "**")
        if not pairwise:
            st.info(_("Pick a pairwise session to rank variants (single-output sessions feed the agreement and "
                      "trust sections below)."))
        else:
            try:
                with st.spinner(_("Fitting Bradley-Terry and bootstrapping…")):
                    board = _board(db, pairwise, stamp)
                if board.standings:
                    show_board(board)
                else:
                    st.info(_("No ratings yet: rate some pairs first (workbench app, Annotate page)."))
            except Exception as e:  # noqa: BLE001
                context.show_error(e)
    if judge is not None:
        with judge:
            judge_board.show_judge_board(db, judged, show_board)


def agreement_section(chosen: list[str], info: dict, stamp: tuple) -> None:
    st.subheader(_("Agreement between annotators"))
    for sid in chosen:
        result, disputed = _agreement(db, sid, stamp)
        cols = st.columns(4)
        cols[0].metric(f"α ({result.level}) · {sid}", "n/a" if result.alpha != result.alpha else f"{result.alpha:.3f}")
        cols[1].metric(_("Items rated twice or more"), result.n_items)
        cols[2].metric(_("Annotators"), result.n_annotators)
        cols[3].metric(_("Disputed items"), len(disputed))
        if result.pairs:
            st.dataframe(pd.DataFrame([vars(p) for p in result.pairs]), hide_index=True, width="stretch")
        if len(disputed):
            # Read and drawn only while open: 50 items with their outputs and ratings are most of what the page
            # would otherwise read and send, for a section most visits leave closed.
            adjudicate = st.expander(_("Adjudicate: {n} disputed items in {sid}").format(n=len(disputed), sid=sid),
                                     icon=":material/gavel:", key=f"lb_adjudicate_{sid}", on_change="rerun")
            if adjudicate.open:
                with adjudicate:
                    disputed_items(sid, disputed.head(50), info[sid]["kind"] == "pairwise")
    st.caption(_("Cohen's κ per pair of annotators on the items both rated (quadratic-weighted κ for Likert); "
                 "Krippendorff's α over everyone, ordinal for Likert and nominal for thumbs and pairwise votes. "
                 "Likert items are disputed when ratings lie 2 or more points apart."))


def disputed_items(sid: str, shown: pd.DataFrame, pairwise: bool) -> None:
    """Each disputed item: its spread, who rated what, the row and the answer(s) rated."""
    with store.connect(db) as con:  # the items shown, not the session's 100,000
        items = store.item_outputs(con, sid, items=shown["item_idx"].tolist()).set_index("item_idx")
    for r in shown.itertuples():
        rec = items.loc[r.item_idx]
        with st.container(border=True):
            st.markdown(_("**Item {n}** · spread {spread}").format(n=r.item_idx + 1, spread=f"{r.spread:g}"))
            st.text(" · ".join(f"{who}: {value}" for who, value in r.ratings.items()))
            st.text(" · ".join(f"{k}: {v}" for k, v in rec["row_data"].items()))
            sides = [("A", rec["text_a"], rec["prompt_a"], rec["model_a"])]
            if pairwise:
                sides.append(("B", rec["text_b"], rec["prompt_b"], rec["model_b"]))
            for col, (side, text, prompt, model) in zip(st.columns(len(sides)), sides):
                label = f"{inline_code(prompt)} × {inline_code(model)}"
                col.caption(f"{side}: {label}" if len(sides) > 1 else label)
                col.text(text)
            for c in r.comments:
                st.text(c)


def trust_section(chosen: list[str], stamp: tuple) -> None:
    st.subheader(_("Which metric can you trust?"))
    try:
        report = _trust(db, tuple(chosen), stamp)
    except Exception as e:  # noqa: BLE001
        context.show_error(e)
        return
    if report.correlations:
        corr = pd.DataFrame([{"metric": c.metric, "scale": c.scale, "n": c.n, "Spearman": c.spearman,
                              "Spearman low": c.spearman_ci[0], "Spearman high": c.spearman_ci[1], "Kendall": c.kendall,
                              "Kendall low": c.kendall_ci[0], "Kendall high": c.kendall_ci[1], "p": c.spearman_p}
                             for c in report.correlations])
        st.dataframe(corr, hide_index=True, width="stretch",
                     column_config={c: st.column_config.NumberColumn(format="%.3f") for c in corr.columns[3:]})
        ranked = sorted(report.correlations, key=lambda c: -c.spearman if c.spearman == c.spearman else 2)  # NaN last
        rows = [(c.metric, c.spearman_ci[0], c.spearman, c.spearman_ci[1],
                 f"{c.metric} · {c.scale} · n {c.n}\nSpearman {c.spearman:.3f} [{c.spearman_ci[0]:.3f}, "
                 f"{c.spearman_ci[1]:.3f}]\nKendall {c.kendall:.3f} [{c.kendall_ci[0]:.3f}, {c.kendall_ci[1]:.3f}]"
                 f"\np {c.spearman_p:.3g}") for c in ranked]
        chart = intervals_svg(rows, _("Spearman ρ with human ratings (95% CI)"), domain=(-1, 1))
        if chart:  # none where the ratings do not vary
            st.markdown(in_markdown(chart), unsafe_allow_html=True)
        st.caption(_("Rank correlation of each metric with the mean human rating of {n} outputs; 95% CIs by Fisher's "
                     "z. A metric worth trusting has its whole interval well above 0 (below 0 for latency, where lower "
                     "is better).").format(n=report.n_outputs))
    if report.votes:
        st.dataframe(pd.DataFrame([{"metric": v.metric, "agrees with votes": v.rate, "95% CI low": v.ci[0],
                                    "95% CI high": v.ci[1], "votes": v.n, "metric ties": v.metric_ties,
                                    "counts as better": v.prefers} for v in report.votes]),
                     hide_index=True, width="stretch")
        st.caption(_("Share of {n} decisive pairwise votes where the metric scores the chosen answer better (Wilson "
                     "95% CI). At 50%, a coin flip would do as well.").format(n=report.n_votes))
    if report.judges:
        st.dataframe(pd.DataFrame([{"judge": j.judge, "scale": j.scale, "n": j.n, "Cohen's κ": j.kappa,
                                    "α with the judge": j.alpha_with_judge, "α humans alone": j.alpha_humans,
                                    "Spearman": j.spearman, "note": j.note} for j in report.judges]),
                     hide_index=True, width="stretch")
        st.caption(_("Judges against the human ratings of the same outputs: κ against the humans' median rating; "
                     "Krippendorff's α with the judge as one more annotator, beside the humans' own α. A judge that can "
                     "stand in for an annotator keeps α where it was."))
    for note in report.notes:
        st.info(_(note))
    if not report.correlations and not report.votes:
        st.info(_("No ratings yet in the chosen sessions."))


def show_page() -> None:
    with store.connect(db) as con:
        sessions = store.list_sessions(con)
    # Filled only while open (open at first, while there is no session yet): the form reads the runs, their
    # prompts and fields, work most visits to a page with sessions do not need.
    form = st.expander(_("New rating session"), expanded=sessions.empty, icon=":material/add_task:",
                       key="lb_new_session", on_change="rerun")
    if form.open:
        with form:
            new_session_form()
    judged = judge_board.comparisons(db)
    if sessions.empty:
        if len(judged):
            judge_board.show_judge_board(db, judged, show_board)
        return
    info = {r["id"]: r for r in sessions.to_dict(orient="records")}
    chosen = st.multiselect(
        _("Sessions"), list(info), default=list(info)[-1:], key="lb_sessions",
        format_func={s: session_label(info[s]) for s in info}.get, placeholder=_("Choose options"))
    if not chosen:
        return
    stamp = tuple((s, info[s]["n_ratings"]) for s in chosen)
    claims_section(chosen, info)
    ranking_section(tuple(s for s in chosen if info[s]["kind"] == "pairwise"), judged, stamp)
    agreement_section(chosen, info, stamp)
    trust_section(chosen, stamp)


with store.kept_open(db):  # the page's reads open the file once (~30 ms of CPU and a checkpoint each)
    show_page()

"""Blind human rating sessions: create them from stored runs, hand items to annotators, record ratings.

A session rates single outputs (of one or more runs) on a Likert 1-5 or thumbs scale, or compares two
outputs of the same dataset row side by side (pairwise: A / B / tie / both bad). Blinding: an annotator
never sees a run id, prompt name or model spec; the sides of each pair are drawn at random per item and
the item order is shuffled, both from a seed stored with the session so the layout can be reproduced.

Assignment: each item goes to k annotators. With a roster (names given up front) items are dealt out
at creation, balanced; without one, an annotator claims the next item that still has fewer than k
annotators when they ask for it, so anyone can join. Resuming is asking for the next item again: it is
the first assigned item this annotator has not rated, in the stored order.

Claims do not strand work: an unrated claim lasts the session's claim_timeout (default 15 minutes), and
goes back to the pool at once when its rater leaves (`leave`) or the session owner releases it. The
rater who held a released item gets it back first if it is still free; a late rating of a lapsed claim
is stored when nobody else has taken the item, and refused when someone has (never two raters for one
place).
"""

from __future__ import annotations

import itertools
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from workbench import store
from workbench.authoring.stored import prompt_from_version
from workbench.errors import UserError
from workbench.rating.conversations import conversation_item, is_conversation_run, turn_contents

SCALES: dict[str, tuple[str, ...]] = {
    "likert": ("1", "2", "3", "4", "5"),
    "thumbs": ("up", "down"),
    "pairwise": ("A", "B", "tie", "both_bad"),
}
RUBRICS = {
    "likert": "1 wrong or harmful · 2 mostly unhelpful · 3 partly helpful, with gaps or errors · "
              "4 helpful, minor issues · 5 correct, complete, well put",
    "thumbs": "Up: you would send this answer to a customer as it is. Down: you would not.",
    "pairwise": "Which answer would you rather send? Tie: equally good. Both bad: neither is acceptable.",
}
DEFAULT_TAGS = ["wrong facts", "incomplete", "off topic", "too long", "bad format", "tone", "unsafe"]
# The same rubrics and tags for Chinese-speaking raters (the app offers the interface's language).
RUBRICS_ZH = {
    "likert": "1 错误或有害 · 2 基本没有帮助 · 3 有部分帮助，但有遗漏或错误 · 4 有帮助，小问题 · 5 正确、完整、表达得体",
    "thumbs": "赞：这个回答可以原样发给客户。踩：不可以。",
    "pairwise": "你更愿意发送哪个回答？平局：一样好。都不好：两个都不可接受。",
}
DEFAULT_TAGS_ZH = ["事实错误", "不完整", "答非所问", "太长", "格式不对", "语气", "不安全"]
RUBRICS_BY_LANG = {"en": RUBRICS, "zh": RUBRICS_ZH}
TAGS_BY_LANG = {"en": DEFAULT_TAGS, "zh": DEFAULT_TAGS_ZH}
MAX_COMMENT = 5000
MAX_NAME = 100
DEFAULT_CLAIM_TIMEOUT = 15 * 60.0  # seconds an unrated claim lasts
# What one item is: an output of a single-row run; a whole conversation, or one assistant turn of it (with the
# conversation up to that turn), of a conversation run.
UNITS = ("output", "conversation", "turn")


@dataclass
class Item:
    """What an annotator sees: the dataset row and the output(s), never which variant produced them."""

    session_id: str
    item_idx: int
    kind: str  # single | pairwise
    scale: str
    rubric: str
    tags: list[str]
    inputs: dict[str, Any]  # the dataset row without its reference
    reference: str | None
    text_a: str
    text_b: str | None = None
    rating: dict[str, Any] | None = None  # this annotator's earlier rating of the item, if any
    # when the session shows them: the passages each answer was given (knowledge runs), {id, title, text}
    passages_a: list[dict[str, Any]] | None = None
    passages_b: list[dict[str, Any]] | None = None
    turn_idx: int | None = None  # a turn item: the assistant turn rated (0 = the first)
    # a turn item: the conversation before the turn as each side's model saw it (`history_b` is None when it
    # is the same as A's: gold history, or a single output)
    history_a: list[dict[str, str]] | None = None
    history_b: list[dict[str, str]] | None = None


@dataclass
class Progress:
    rated: int  # by this annotator
    assigned: int  # to this annotator so far
    remaining: int  # items this annotator can still get (assigned or claimable)
    session_ratings: int
    session_target: int  # items x k
    n_items: int
    previous: int | None = None  # this annotator's rated item just before the one shown (or their last)

    @property
    def done(self) -> bool:
        return self.remaining == 0


@dataclass
class SessionSpec:
    runs: list[str]
    pairwise: bool = False
    k: int = 1
    seed: int | None = None
    scale: str | None = None
    rubric: str | None = None
    annotators: list[str] | None = None
    tags: list[str] = field(default_factory=lambda: list(DEFAULT_TAGS))
    name: str | None = None
    claim_timeout: float = DEFAULT_CLAIM_TIMEOUT
    lang: str = "en"  # of the default rubric (en, zh); the default tags are the caller's (default_tags)
    show_passages: bool = False  # annotators see the passages a knowledge prompt gave each answer
    unit: str | None = None  # one of UNITS; default: conversation for conversation runs, else output
    # the row fields raters see; None: the variables of the runs' prompts (a field such as `intent` is a hint
    # about the expected answer, shown only when chosen)
    show_fields: list[str] | None = None


def create_session(con, spec: SessionSpec) -> str:
    """Build the items of a session (shuffled, sides drawn) and store it; returns the session id."""
    runs = list(dict.fromkeys(store.resolve_run(con, r) for r in spec.runs))
    if spec.pairwise and len(runs) < 2:
        raise UserError("a pairwise session needs at least two different runs", setting="runs")
    if not runs:
        raise UserError("give at least one run", setting="runs")
    scale = spec.scale or ("pairwise" if spec.pairwise else "likert")
    if scale not in SCALES or (spec.pairwise != (scale == "pairwise")):
        raise UserError(f"scale {scale!r} does not fit a {'pairwise' if spec.pairwise else 'single'} session "
                        "(single: likert or thumbs)", setting="scale")
    if spec.k < 1:
        raise UserError("must be at least 1", setting="annotators_per_item")
    if not spec.claim_timeout > 0:  # also refuses NaN
        raise UserError("must be a positive number of seconds", setting="claim_timeout")
    roster = _clean_roster(spec.annotators)
    if roster is not None and spec.k > len(roster):
        raise UserError(f"k={spec.k} annotators per item but only {len(roster)} on the roster", setting="annotators_per_item")
    seed = int(spec.seed) if spec.seed is not None else secrets.randbits(31)
    rng = np.random.default_rng(seed)
    unit = _unit(con, runs, spec.unit)
    outputs = store.usable_outputs(con, runs, by_turn=unit == "turn")
    if spec.pairwise:
        items = _pairwise_items(con, runs, outputs, rng, unit == "turn")
    else:
        items = outputs.rename(columns={"run_id": "run_a"}).assign(run_b=None)
    items["turn_idx"] = pd.array(items["turn_idx"] if unit == "turn" else [None] * len(items), dtype="Int32")
    if items.empty:
        raise UserError("the runs have no outputs to rate (every row errored, or pairs share no row)", setting="runs")
    items = items.iloc[rng.permutation(len(items))].reset_index(drop=True)
    session_id = uuid.uuid4().hex[:8]
    items["session_id"] = session_id
    items["item_idx"] = np.arange(len(items), dtype=np.int32)
    assignments = pd.DataFrame(columns=["session_id", "item_idx", "annotator"])
    if roster is not None:
        dealt = [roster[i] for i in rng.permutation(len(roster))]
        assignments = pd.DataFrame(
            [(session_id, i, dealt[(i * spec.k + j) % len(dealt)]) for i in range(len(items)) for j in range(spec.k)],
            columns=["session_id", "item_idx", "annotator"])
        items["n_assigned"] = spec.k
    else:
        items["n_assigned"] = 0
    store.create_session(con, {
        "id": session_id, "name": spec.name, "kind": "pairwise" if spec.pairwise else "single", "scale": scale,
        "runs": runs, "seed": seed, "k": spec.k, "annotators": roster, "rubric": spec.rubric or default_rubric(scale, spec.lang),
        "tags": list(dict.fromkeys(t.strip() for t in spec.tags if t.strip())),
        "claim_timeout": float(spec.claim_timeout), "unit": unit, "show_passages": spec.show_passages,
        "show_fields": shown_fields(con, runs, spec.show_fields),
    }, items, assignments)
    return session_id


def field_choices(con, runs: list[str]) -> tuple[list[str], list[str]]:
    """(the row fields a session could show, the ones it shows by default: the variables the runs' prompts
    use, i.e. what the model was asked, not the labels around it). The reference is shown on its own."""
    run = store.get_run(con, runs[0])
    dataset = store.get_dataset(con, run["dataset_hash"], rows=False)
    columns = [c for c in dataset["columns"] if c != (dataset.get("reference_field") or "reference")]
    used: set[str] = set()
    for run_id in runs:
        prompt = prompt_from_version(store.get_prompt_version(con, store.get_run(con, run_id)["prompt_hash"]))
        required, optional = prompt.variables()
        used |= required | optional
    return columns, [c for c in columns if c in used]


def shown_fields(con, runs: list[str], chosen: list[str] | None) -> list[str]:
    """The row fields raters will see: `chosen` (each checked against the dataset), else the default."""
    columns, default = field_choices(con, runs)
    if chosen is None:
        return default
    names = list(dict.fromkeys(n.strip() for n in chosen if n.strip()))
    for name in names:
        if name not in columns:
            raise UserError(f"no field {name!r} in the dataset (its fields: {', '.join(columns)})",
                            setting="show_fields")
    return names


def _unit(con, runs: list[str], unit: str | None) -> str:
    """What one item of a session over `runs` is: checked against the runs (turns need conversation runs)."""
    conversation = [is_conversation_run(con, r) for r in runs]
    if unit is None:
        return "conversation" if all(conversation) else "output"
    if unit not in UNITS:
        raise UserError(f"unknown unit {unit!r} (one of {', '.join(UNITS)})", setting="unit")
    if unit != "output" and not all(conversation):
        raise UserError(f"rating by {unit} needs conversation runs (a conversation dataset); "
                        f"{runs[conversation.index(False)]} is a single-row run", setting="unit")
    if unit == "output" and any(conversation):
        raise UserError("a conversation run is rated by conversation or by turn", setting="unit")
    return unit


def _clean_roster(names: list[str] | None) -> list[str] | None:
    if not names:
        return None
    return list(dict.fromkeys(check_annotator(n) for n in names))


def _pairwise_items(con, runs: list[str], outputs: pd.DataFrame, rng: np.random.Generator,
                    by_turn: bool = False) -> pd.DataFrame:
    """One item per pair of runs per (row, repeat) both answered (per (row, turn, repeat) `by_turn`); which
    run sits on side A is drawn per item."""
    datasets = {store.get_run(con, r)["dataset_hash"] for r in runs}
    if len(datasets) > 1:
        raise UserError("pairwise runs must be on the same dataset (the pairs are answers to the same row)", setting="runs")
    keys = ["row_idx", "turn_idx", "repeat_idx"] if by_turn else ["row_idx", "repeat_idx"]
    have = {r: set(zip(*(g[k].astype(int) for k in keys))) for r, g in outputs.groupby("run_id")}
    rows = []
    for r1, r2 in itertools.combinations(runs, 2):
        for key in sorted(have.get(r1, set()) & have.get(r2, set())):
            rows.append((*(int(x) for x in key), r1, r2))
    if not rows:
        return pd.DataFrame(columns=[*keys, "run_a", "run_b"])
    flip = rng.random(len(rows)) < 0.5
    return pd.DataFrame([(*r[:-2], r[-1], r[-2]) if f else r for r, f in zip(rows, flip)],
                        columns=[*keys, "run_a", "run_b"])


def check_annotator(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise UserError("say who you are: an annotator name is required", "annotator")
    if len(name) > MAX_NAME:
        raise UserError(f"annotator name longer than {MAX_NAME} characters", "annotator")
    return name


def _check_member(session: dict[str, Any], annotator: str) -> str:
    annotator = check_annotator(annotator)
    roster = session.get("annotators")
    if roster is not None and annotator not in roster:
        raise UserError(f"{annotator!r} is not on this session's roster ({', '.join(roster)})", "annotator")
    return annotator


@dataclass
class SessionData:
    """A session's settings and its items' blind contents: they never change, so a server may keep them
    (the Annotate page does, per session) and answer each click with one small write and one small read."""

    info: dict[str, Any]
    contents: dict[int, dict[str, Any]]

    def item(self, item_idx: int, rating: dict[str, Any] | None = None) -> Item:
        c = self.contents[item_idx]
        info = self.info
        return Item(session_id=info["id"], item_idx=item_idx, kind=info["kind"], scale=info["scale"],
                    rubric=info["rubric"], tags=list(info["tags"] or []), inputs=dict(c["inputs"]),
                    reference=c["reference"], text_a=c["text_a"], text_b=c["text_b"], rating=rating,
                    passages_a=c.get("passages_a"), passages_b=c.get("passages_b"),
                    turn_idx=c.get("turn_idx"), history_a=c.get("history_a"), history_b=c.get("history_b"))


def load_session(con, session_id: str, item_idx: int | None = None) -> SessionData:
    """The session and the blind contents of all its items (or of one), in one read."""
    info = store.get_session(con, session_id)
    contents = {}
    modes: dict[str, str | None] = {}  # run -> its history mode (gold, own; None: a single-row run)
    records = store.item_outputs(con, session_id, item_idx).to_dict(orient="records")
    passages = _passages(con, records) if info.get("show_passages") else {}
    for rec in records:
        row = dict(rec["row_data"])
        reference = row.pop(rec["reference_field"] or "reference", None)
        c = {"inputs": row, "reference": None if reference is None else str(reference), "text_a": str(rec["text_a"]),
             "text_b": None if info["kind"] == "single" else str(rec["text_b"])}
        for run in (rec["run_a"], rec["run_b"]):
            if isinstance(run, str) and run not in modes:
                modes[run] = store.get_run(con, run).get("history")
        if not pd.isna(rec["turn_idx"]):  # one turn of a conversation, after the conversation so far
            c = turn_contents(con, rec, modes, c["text_a"], c["text_b"])
        elif "messages" in rec["row_data"] and modes[rec["run_a"]]:  # a whole conversation
            whole = conversation_item(con, Item(session_id=session_id, item_idx=int(rec["item_idx"]), kind=info["kind"],
                                                scale=info["scale"], rubric=info["rubric"], tags=[], **c), rec)
            c = {"inputs": whole.inputs, "reference": whole.reference, "text_a": whole.text_a, "text_b": whole.text_b}
        elif passages:
            key = (int(rec["row_idx"]), int(rec["repeat_idx"]))
            c["passages_a"] = passages.get((rec["run_a"], *key))
            c["passages_b"] = passages.get((rec["run_b"], *key)) if info["kind"] != "single" else None
        if info.get("show_fields") is not None and "inputs" in c:  # the session's choice (older: every field)
            c["inputs"] = {k: c["inputs"][k] for k in info["show_fields"] if k in c["inputs"]}
        contents[int(rec["item_idx"])] = c
    return SessionData(info, contents)


def _passages(con, records: list[dict[str, Any]]) -> dict[tuple, list[dict[str, Any]]]:
    """(run, row_idx, repeat_idx) -> the passages that output was given, best first, for these items' runs."""
    out: dict[tuple, list[dict[str, Any]]] = {}
    rows: dict[str, set[int]] = {}
    for rec in records:
        for run in (rec["run_a"], rec.get("run_b")):
            if isinstance(run, str):
                rows.setdefault(run, set()).add(int(rec["row_idx"]))
    for run, wanted in rows.items():
        for p in store.load_passages(con, run, rows=sorted(wanted)).itertuples():
            out.setdefault((run, int(p.row_idx), int(p.repeat_idx)), []).append(
                {"id": p.chunk_id, "title": p.title or "", "text": p.text or ""})
    return out


def _data(con, session_id: str, data: SessionData | None, item_idx: int) -> SessionData:
    """The caller's SessionData, or a read of just this item's contents."""
    return data if data is not None and data.info["id"] == session_id else load_session(con, session_id, item_idx)


def next_item(con, session_id: str, annotator: str, data: SessionData | None = None) -> Item | None:
    """The first item this annotator holds and has not rated; claims a new one when none is left. None: done.

    Pass `data` (load_session) to skip re-reading the session.
    """
    session = data.info if data is not None and data.info["id"] == session_id else store.get_session(con, session_id)
    annotator = _check_member(session, annotator)
    item = store.next_assigned_unrated(con, session_id, annotator, session["scale"])
    if item is None and session["annotators"] is None:
        item = store.claim_item(con, session_id, annotator, session["k"], session["claim_timeout"])
    return None if item is None else _data(con, session_id, data, item).item(item)


def get_item(con, session_id: str, item_idx: int, annotator: str, data: SessionData | None = None) -> Item:
    """An item assigned to this annotator (to review or change a rating)."""
    data = _data(con, session_id, data, item_idx)
    annotator = _check_member(data.info, annotator)
    if not store.is_assigned(con, session_id, item_idx, annotator):
        raise UserError(f"item {item_idx} is not assigned to {annotator!r}", "item")
    return data.item(item_idx, store.get_rating(con, session_id, item_idx, annotator, data.info["scale"]))


def previous_rated(con, session_id: str, annotator: str, before: int | None) -> int | None:
    """The rated item just before `before` in the stored order (the last rated one when before is None)."""
    session = store.get_session(con, session_id)
    done = store.rated_items(con, session_id, check_annotator(annotator), session["scale"])
    earlier = [i for i in done if before is None or i < before]
    return earlier[-1] if earlier else None


def record_rating(con, session_id: str, item_idx: int, annotator: str, value: Any, comment: str | None = None,
                  tags: list[str] | None = None, session: dict[str, Any] | None = None) -> str:
    """Store (or overwrite) this annotator's rating of an item they hold; "held" or "reclaimed" (see
    store.hold_for_rating). A claim that lapsed while someone else took the item is refused."""
    session = session if session is not None and session["id"] == session_id else store.get_session(con, session_id)
    rating = _rating(session, item_idx, annotator, value, comment, tags)
    return _refused(session, rating, store.rate_held_item(con, rating, session["k"]))


def rate_and_next(con, data: SessionData, annotator: str, item_idx: int | None = None, value: Any = None,
                  comment: str | None = None, tags: list[str] | None = None) -> tuple[Item | None, Progress]:
    """A rater's step in one transaction (the Annotate page's click): store their rating of `item_idx`
    (when given, as record_rating), then their next item (as next_item) and their progress (as progress)."""
    session = data.info
    annotator = _check_member(session, annotator)
    rating = None if item_idx is None else _rating(session, item_idx, annotator, value, comment, tags)
    step = store.rate_and_next(con, session, annotator, rating)
    if rating is not None:
        _refused(session, rating, step["outcome"])
    n, k, item = session["n_items"], session["k"], step["item"]
    remaining = step["assigned"] - step["rated"] + (step["claimable"] if session["annotators"] is None else 0)
    return (None if item is None else data.item(item),
            Progress(step["rated"], step["assigned"], remaining, step["session_ratings"], n * k, n, step["previous"]))


def _rating(session: dict[str, Any], item_idx: int, annotator: str, value: Any, comment: str | None,
            tags: list[str] | None) -> dict[str, Any]:
    """The rating as stored, checked against the session's scale and the limits."""
    annotator = _check_member(session, annotator)
    scale = session["scale"]
    value = str(value).strip()
    if scale == "pairwise" and value.lower() in ("tie", "both_bad", "both bad"):
        value = value.lower().replace(" ", "_")
    if value not in SCALES[scale]:
        raise UserError(f"{value!r} is not a {scale} rating (one of {', '.join(SCALES[scale])})", "value")
    comment = (comment or "").strip() or None
    if comment and len(comment) > MAX_COMMENT:
        raise UserError(f"comment longer than {MAX_COMMENT} characters", "comment")
    clean_tags = list(dict.fromkeys(t.strip() for t in (tags or []) if t and t.strip()))
    return {"session_id": session["id"], "item_idx": item_idx, "annotator": annotator, "kind": scale, "value": value,
            "comment": comment, "tags": clean_tags}


def _refused(session: dict[str, Any], rating: dict[str, Any], outcome: str) -> str:
    """The outcome of storing a rating, or the error a refused one is."""
    item_idx, annotator = rating["item_idx"], rating["annotator"]
    if outcome == "not_assigned":
        raise UserError(f"item {item_idx} is not assigned to {annotator!r}", "item")
    if outcome == "taken":
        raise UserError(f"item {item_idx + 1} went back to the pool (unrated for {_duration(session['claim_timeout'])}"
                        " or released) and another rater has it now; your rating of it was not stored", "item")
    return outcome


def leave(con, session_id: str, annotator: str) -> int:
    """The annotator stops (or switches session): their unrated claims go back to the pool now; how many."""
    return store.release_claims(con, session_id, check_annotator(annotator))


def release(con, session_id: str, item_idx: int, annotator: str) -> int:
    """The session owner hands one claimed, unrated item back to the pool; 0 if it was rated or gone meanwhile."""
    return store.release_claims(con, session_id, annotator, int(item_idx))


def open_claims(con, session_id: str):
    """Claimed-but-unrated items with their rater, age and deadline (the Leaderboard page lists them)."""
    return store.open_claims(con, session_id)


def _duration(seconds: float) -> str:
    return f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:g} s"


def progress(con, session_id: str, annotator: str | None = None, before: int | None = None,
             session: dict[str, Any] | None = None) -> Progress:
    """Counts for a progress bar (one read when `session` is given); `previous` is the annotator's rated
    item just before `before` (their last rated one when before is None)."""
    session = session if session is not None and session["id"] == session_id else store.get_session(con, session_id)
    n, k = session["n_items"], session["k"]
    if not annotator:
        return Progress(0, 0, 0, store.session_rating_count(con, session_id, session["scale"]), n * k, n)
    c = store.progress_counts(con, session_id, check_annotator(annotator), session["scale"], k, before)
    remaining = c["assigned"] - c["rated"] + (c["claimable"] if session["annotators"] is None else 0)
    return Progress(c["rated"], c["assigned"], remaining, c["session_ratings"], n * k, n, c["previous"])


# -- tables for the analyses (unblinded: they name the runs) -----------------------------------------
def numeric_value(scale: str, value: str) -> float:
    """Likert 1..5 as is; thumbs up 1, down 0. Pairwise votes have no number."""
    if scale == "likert":
        return float(value)
    if scale == "thumbs":
        return 1.0 if value == "up" else 0.0
    raise ValueError("pairwise votes have no numeric value")


def session_ratings(con, session_ids: str | list[str]) -> pd.DataFrame:
    """Ratings of the sessions' own scale with item, runs and (single) a numeric score, for analysis."""
    ids = [session_ids] if isinstance(session_ids, str) else list(session_ids)
    sessions = {s: store.get_session(con, s) for s in ids}
    df = store.load_ratings(con, ids)
    scale_of = {s: info["scale"] for s, info in sessions.items()}
    # A boolean array, not a list: an empty list would select no columns and drop "session_id" itself.
    mine = np.array([scale_of[s] == kind for s, kind in zip(df["session_id"], df["kind"])], dtype=bool)
    df = df[mine].reset_index(drop=True)
    df["scale"] = [scale_of[s] for s in df["session_id"]]
    df["score"] = [np.nan if sc == "pairwise" else numeric_value(sc, v) for sc, v in zip(df["scale"], df["value"])]
    return df


def default_rubric(scale: str, lang: str = "en") -> str:
    """The default rubric of a scale (likert, thumbs, pairwise) in `lang` (en, zh; English otherwise)."""
    return RUBRICS_BY_LANG.get(lang, RUBRICS)[scale]


def default_tags(lang: str = "en") -> list[str]:
    return list(TAGS_BY_LANG.get(lang, DEFAULT_TAGS))


def rubric_in(rubric: str, lang: str) -> str:
    """A session's rubric for a rater reading `lang`: a default rubric (in either language) becomes the same
    one in `lang`; a rubric the session's creator wrote is shown as written."""
    target = RUBRICS_BY_LANG.get(lang, RUBRICS)
    return next((target[s] for rubrics in RUBRICS_BY_LANG.values() for s, text in rubrics.items() if text == rubric),
                rubric)


def tag_in(tag: str, lang: str) -> str:
    """How a tag reads in `lang`: a default tag becomes the same one in `lang`. Only for display: the rating
    keeps the session's own tag, so the tags of raters reading different languages still count together."""
    for tags in TAGS_BY_LANG.values():
        if tag in tags:
            return TAGS_BY_LANG.get(lang, DEFAULT_TAGS)[tags.index(tag)]
    return tag

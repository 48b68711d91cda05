"""What happens to finished requests: scored (in worker processes for big runs), stored with their
scores in batches, and answers served from the response cache. Used by `workbench.engine.runner.execute`.

Cache keys are the SHA-256 of the provider's identity, the generation parameters and the exact
rendered messages; the cache is read and filled only at temperature 0 and without repeats.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import functools
import hashlib
import json
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from workbench import metrics as metric_lib
from workbench.engine.plan import Plan, Progress, Variant, uses_cache
from workbench.engine.rendered import Rendered
from workbench.errors import StoreBusyError
from workbench.providers import Completion, Provider, ProviderError
from workbench.providers.keys import mask

FLUSH_SECONDS = 0.5
FLUSH_ROWS = 500
# Outputs that may wait to be scored and stored before new requests wait for them: against a fast server the
# requests outrun scoring and the store, and a 100,000-row run held nearly all its outputs (+1 GB peak RSS).
BACKLOG_ROWS = 4 * FLUSH_ROWS
LOOKUP_CHUNK = 5000  # cache lookups per pass over the cache, pipelined with computing the next keys


def cache_key(provider: Provider, params: dict[str, Any], messages_json: str) -> str:
    """What makes two requests interchangeable: provider identity, model, parameters, exact messages."""
    return key_prefix(provider, params)(messages_json)


def key_prefix(provider: Provider, params: dict[str, Any]) -> Callable[[str], str]:
    """`cache_key` for one provider and parameters, as a function of the messages JSON (the head hashed once)."""
    head = json.dumps({"provider": provider.identity(), "params": params}, sort_keys=True, ensure_ascii=False,
                      default=str)
    start = hashlib.sha256(f"{head}\n".encode())  # the shared head is hashed once, then copied per key
    after: dict[str, Any] = {}  # a messages head (MessagesJSON.last_head) -> the hash state after it

    def key(messages_json: str, messages_head: str = "") -> str:
        """`messages_head`: a start of messages_json that many rows share (their system message and examples,
        most of the text), hashed once: the key is the same, only the row's own text is hashed per row."""
        if messages_head and messages_json.startswith(messages_head):
            state = after.get(messages_head)
            if state is None:
                state = start.copy()
                state.update(messages_head.encode())
                if len(after) < MessagesJSON.MEMO_MAX:
                    after[messages_head] = state
            h = state.copy()
            h.update(messages_json[len(messages_head):].encode())
            return h.hexdigest()
        h = start.copy()
        h.update(messages_json.encode())
        return h.hexdigest()

    return key


class MessagesJSON:
    """``json.dumps(messages, ensure_ascii=False)``, with each distinct message encoded once.

    The rows of one prompt share their system message and example turns, which are most of the text;
    encoding them once per run rather than once per row is most of the cached re-run's Python time.
    """

    MEMO_MAX = 50_000

    def __init__(self) -> None:
        self._encode = json.JSONEncoder(ensure_ascii=False, check_circular=False).encode
        self._memo: dict[tuple, str] = {}
        # The plan's rows share one dict per distinct message (engine/rendered.py): found by identity
        # first, without building and hashing a tuple of its items. The dict is kept so its id stays its own.
        self._by_id: dict[int, tuple[dict, str]] = {}
        # Per shape of a Rendered plan (engine/rendered.py): its JSON up to the row's first own message, and for
        # each own message the text before its content and the text after it, up to the next own message.
        self._shapes: dict[tuple[int, int], tuple[str, tuple[tuple[str, str], ...]]] = {}
        self.last_head = ""  # the shared start of the last row encoded by `row`: a key_prefix hashes it once
        self._string = json.encoder.encode_basestring  # what the encoder writes for a str (ensure_ascii=False)

    def row(self, rendered: Rendered, k: int) -> str:
        """``self(rendered[k])``, the same text, without building the row's messages: the shared ones are
        written once per shape, the row's own ones as role and content strings."""
        found = rendered.row_shape(k)
        if found is None:
            self.last_head = ""
            return self(rendered[k])
        shape_id, shape, own, texts = found
        plan = self._shapes.get((id(rendered), shape_id))
        if plan is None:
            plan = self._shapes[(id(rendered), shape_id)] = self._shape_plan(shape, own)
        head, pieces = plan
        self.last_head = head
        string = self._string
        if len(pieces) == 1:
            before, after = pieces[0]
            return f"{head}{before}{string(texts[0])}{after}"
        return head + "".join(f"{before}{string(text)}{after}" for (before, after), text in zip(pieces, texts))

    def _shape_plan(self, shape: tuple, own: tuple[int, ...]) -> tuple[str, tuple[tuple[str, str], ...]]:
        """The constant texts of a shape's JSON (see `row`); an own message is {"role": ..., "content": ...},
        as Rendered builds it."""
        if not own:
            return self(list(shape)), ()
        parts = [None if k in own else self._encode(m) for k, m in enumerate(shape)]
        head = "[" + "".join(f"{p}, " for p in parts[:own[0]])
        pieces = []
        for n, k in enumerate(own):
            end = own[n + 1] if n + 1 < len(own) else len(parts)
            after = "}" + "".join(f", {p}" for p in parts[k + 1:end]) + (", " if end < len(parts) else "]")
            pieces.append((f'{{"role": {self._string(shape[k])}, "content": ', after))
        return head, tuple(pieces)

    def __call__(self, messages: list[dict[str, Any]]) -> str:
        parts = []
        by_id = self._by_id
        for m in messages:
            found = by_id.get(id(m))
            if found is not None and found[0] is m:
                parts.append(found[1])
                continue
            try:
                key = tuple(m.items())
                part = self._memo.get(key)
            except TypeError:  # unhashable content (a list of parts): encoded as it is
                key, part = None, None
            if part is None:
                part = self._encode(m)
                if key is not None and len(self._memo) < self.MEMO_MAX:
                    self._memo[key] = part
            elif len(by_id) < self.MEMO_MAX:  # seen twice: a shared message
                by_id[id(m)] = (m, part)
            parts.append(part)
        return f"[{', '.join(parts)}]"


def messages_head(msg_json: Callable) -> str:
    """The shared start of the JSON that `msg_json` (runner._message_json) gave last, for key_prefix's key; a
    stale one is harmless: the key checks that the JSON starts with it."""
    return getattr(getattr(msg_json, "encoder", None), "last_head", "")


@dataclass
class Done:
    """A finished request waiting to be scored and stored."""

    variant: Variant  # its run id may still be in the making (see execute)
    row: int
    repeat: int
    messages: str  # JSON
    result: Completion | ProviderError
    cached: bool = False
    key: str | None = None  # response-cache key when the answer should be cached
    provider: str | None = None  # provider identity JSON, for the cache


class Writer:
    """Scores finished outputs (in the scorer's worker processes or a thread) and stores them with
    their scores in one transaction per flush. A flush that fails (the file locked for too long, a
    transient DuckDB error) keeps its rows for the next one; only the final flush, after three
    tries, gives up and raises (the run is then `failed`, and resumable)."""

    def __init__(self, db: str | None, plan: Plan, scorer, score_keys: dict[int, str]):
        self.db, self.plan, self.scorer, self.score_keys = db, plan, scorer, score_keys
        self.pending: list[Done] = []
        self.ready: list[tuple[Done, dict[str, float]]] = []
        self.scoring: list[asyncio.Future] = []
        self.n_scoring = 0  # outputs in `scoring`
        self.last_flush = time.monotonic()
        self.task: asyncio.Task | None = None
        self.written = 0
        self.scoring_error: str | None = None
        self.status_written = False
        self.created: asyncio.Future | None = None  # set while execute creates the runs in a thread
        # All store work of a run in one thread: DuckDB and Arrow buffers then come from one malloc arena
        # instead of one per pool thread (measured: ~25 MB less peak RSS for a 1000-row run).
        self.db_thread = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="workbench-store")

    def add(self, done: Done) -> None:
        self.pending.append(done)

    async def room(self, stop: threading.Event) -> None:
        """Wait while more than BACKLOG_ROWS outputs wait to be scored or stored (or until `stop`)."""
        while len(self.pending) + self.n_scoring + len(self.ready) > BACKLOG_ROWS and not stop.is_set():
            await asyncio.sleep(0.02)

    def kick(self) -> None:
        """Start scoring what finished since the last call (runs as outputs arrive, not at flush time)."""
        if self.pending:
            batch, self.pending = self.pending, []
            self.n_scoring += len(batch)
            self.scoring.append(asyncio.ensure_future(self._score(batch)))
        self.scoring = [t for t in self.scoring if not t.done()]

    async def _score(self, batch: list[Done]) -> None:
        try:
            await self._score_batch(batch)
        finally:
            self.n_scoring -= len(batch)

    async def _score_batch(self, batch: list[Done]) -> None:
        ok = [d for d in batch if not isinstance(d.result, ProviderError)]
        refs = self.plan.dataset.references
        try:
            scored = await self.scorer.score([(d.result.text, refs(d.row), d.result.latency_ms, d.result.tokens_out,
                                               *self._context(d)) for d in ok])
        except Exception as e:  # noqa: BLE001 - a metric bug must not cost the outputs: stored unscored,
            # and `plan_from_run` (--resume) scores outputs that have no scores
            self.scoring_error = f"{type(e).__name__}: {e}"
            scored = [{} for _ in ok]
        scores = iter(scored)
        self.ready += [(d, {} if isinstance(d.result, ProviderError) else next(scores)) for d in batch]

    def _context(self, d: Done) -> tuple:
        """(passages, row) for metrics that read them (retrieval_hit, grounded), else nothing."""
        if not self.plan.metrics.wants & {"passages", "row"}:
            return ()
        found = self.plan.passages_at(d.variant, d.row)
        found = None if found is None else [{"id": p.id, "text": p.text} for p in found]
        return found, self.plan.dataset.rows[d.row]

    def due(self) -> bool:
        if self.task is not None and not self.task.done():
            return False
        waiting = len(self.pending) + len(self.ready) + len(self.scoring)
        return waiting >= FLUSH_ROWS or bool(waiting and time.monotonic() - self.last_flush > FLUSH_SECONDS)

    def start(self) -> None:
        self.task = asyncio.ensure_future(self.flush())

    async def flush(self, final: bool = False, status: str | None = None) -> None:
        """Score what is left and store what is scored. The final flush also sets the runs' `status` in its
        connection (one open of the file fewer per run; small runs feel it)."""
        if self.task is not None and not self.task.done() and self.task is not asyncio.current_task():
            await asyncio.shield(self.task)
        self.last_flush = time.monotonic()
        self.kick()
        while self.scoring:  # scoring that `kick` starts while this waits is waited for too, never dropped
            waiting = list(self.scoring)
            await asyncio.gather(*waiting)
            self.scoring = [t for t in self.scoring if t not in waiting]
        if status == "done" and self.scoring_error:
            status = "failed"  # the outputs are stored; --resume scores them
        if not self.ready and status is None:
            return
        if self.created is not None:
            await self.created  # the runs exist before anything is written to them (raises if that failed)
        from workbench import store

        ready, self.ready = self.ready, []
        for attempt in range(3 if final else 1):
            try:
                await asyncio.get_running_loop().run_in_executor(self.db_thread, self._write, ready, final, status)
                return
            except (StoreBusyError, store.StoreError) as e:
                # Kept for the next flush: a busy file, or a transient error of DuckDB's in-process
                # instance cache when another thread opens the file as we close it.
                error = e
                await asyncio.sleep(0.2 * (attempt + 1))
        self.ready = ready + self.ready
        if final:
            raise error

    def _write(self, ready: list[tuple[Done, dict[str, float]]], final: bool, status: str | None = None) -> None:
        from workbench import store

        outputs, scores, entries = [], [], []
        for d, values in ready:
            run_id = d.variant.run_id
            row_idx, turn_idx = self.plan.unit(d.row)
            rec = {"run_id": run_id, "row_idx": row_idx, "turn_idx": turn_idx, "repeat_idx": d.repeat,
                   "messages": d.messages, "cached": d.cached}
            r = d.result
            if isinstance(r, ProviderError):
                rec.update(error=mask(r.message, None), error_kind=r.kind)  # whatever the provider
            else:
                rec.update(text=r.text, finish_reason=r.finish_reason, latency_ms=r.latency_ms,
                           tokens_in=r.tokens_in, tokens_out=r.tokens_out)
                scores += [{"run_id": run_id, "row_idx": row_idx, "turn_idx": turn_idx, "repeat_idx": d.repeat,
                            "metric": k, "value": v} for k, v in values.items()]
                if d.key:
                    entries.append({"key": d.key, "provider": d.provider, "text": r.text,
                                    "finish_reason": r.finish_reason, "latency_ms": r.latency_ms,
                                    "tokens_in": r.tokens_in, "tokens_out": r.tokens_out,
                                    "score_key": score_key(self.score_keys, self.plan, d.variant, d.row)
                                    if values else None,
                                    "score_names": list(values),
                                    "score_values": list(values.values())})
            outputs.append(rec)
        wait = store.LOCK_WAIT_SECONDS * (4 if final else 1)
        with store.connect(self.db, wait=wait) as con:
            store.write_results(con, outputs, scores)
            store.save_cache_entries(con, entries)
            if status is not None:
                for v in self.plan.variants:
                    store.set_status(con, v.run_id, status)
                self.status_written = True
        self.written += len(outputs)


def score_key(keys: dict[int, str], plan: Plan, variant: Variant, row: int) -> str | None:
    """The score key of `row` for `variant`: the row's, and when a metric reads the retrieved passages or
    the row (retrieval_hit, grounded), also those, so a cached answer reached through other passages (or a
    row with another gold id) is scored again rather than given the scores it had there."""
    key = keys.get(row)
    if key is None or not plan.metrics.wants & {"passages", "row"}:
        return key
    found = plan.passages_at(variant, row)
    extra = [plan.dataset.rows[row], None if found is None else [(p.id, p.text) for p in found]]
    blob = json.dumps(extra, ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(f"{key}\n{blob}".encode()).hexdigest()[:32]


def _score_keys(plan: Plan, rows: set[int]) -> dict[int, str]:
    """Per row: what its scores depend on besides the output (references, language, metrics, versions)."""
    lang = plan.dataset.lang
    head = json.dumps([plan.metrics.specs(), lang, metric_lib.dataset_signatures(plan.metrics, plan.dataset, plan.rows)],
                      sort_keys=True)
    by_refs: dict[tuple[str, ...], str] = {}  # references repeat across rows (one answer per intent)
    out = {}
    for r in rows:
        refs = tuple(plan.dataset.references(r))
        if refs not in by_refs:
            by_refs[refs] = hashlib.sha256(f"{head}\n{json.dumps(refs, ensure_ascii=False)}".encode()).hexdigest()[:32]
        out[r] = by_refs[refs]
    return out


async def serve_from_cache(db: str | None, plan: Plan, providers: dict[str, Provider], work: dict[int, list],
                           progress: dict[int, Progress], writer: Writer, msg_json: Callable[[Variant, int], str],
                           created: asyncio.Future | None) -> None:
    """Serve what the cache holds (outputs and, when they match, scores copied inside DuckDB);
    queue cached answers whose scores must be computed again; leave the rest in `work` (per variant).

    This thread computes the keys (message JSON, hashes) in chunks; the store thread, once it has
    created the runs (`created`, queued before), computes the score keys and copies each chunk inside
    DuckDB, which runs without the GIL, so the two overlap. One transaction for all chunks."""
    if not any(uses_cache(plan, v) and work[i] for i, v in enumerate(plan.variants)):
        return
    chunks: queue.Queue = queue.Queue()
    rows = {r for i, v in enumerate(plan.variants) if uses_cache(plan, v) for r, _ in work[i]}
    total = sum(len(w) for w in work.values())  # every variant's, cached or not
    lookup = functools.partial(_apply_hits, db, plan, writer, chunks, rows, total)
    pending = asyncio.get_running_loop().run_in_executor(writer.db_thread, lookup)
    try:
        idents = _queue_keys(plan, providers, work, msg_json, chunks)
    finally:
        chunks.put(None)
    if created is not None:
        await asyncio.wait([created, pending])
        created.result()  # the runs could not be created: that error, not its consequences
    hits, rescore = await pending
    index = {v.run_id: i for i, v in enumerate(plan.variants)}
    served: dict[int, set[tuple[int, int]]] = collections.defaultdict(set)
    for rid, r, t, k in hits:
        served[index[rid]].add((plan.plan_row(r, t), k))
    for i, pairs in served.items():
        work[i] = [p for p in work[i] if p not in pairs]
        progress[i].done += len(pairs)
        progress[i].cached += len(pairs)
    for rid, r_idx, t_idx, k, key, text, finish, latency, t_in, t_out in rescore:
        i, r = index[rid], plan.plan_row(r_idx, t_idx)
        v = plan.variants[i]
        writer.add(Done(v, r, k, msg_json(v, r), Completion(text, finish, t_in, t_out, latency), cached=True,
                        key=key, provider=idents[i]))


def _apply_hits(db: str | None, plan: Plan, writer: Writer, chunks: queue.Queue, rows: set[int],
                total: int) -> tuple[list[tuple], list[tuple]]:
    """In the store thread: store the cached answers of each chunk of keys as it comes (see serve_from_cache)."""
    from workbench import store

    if any(v.run_id is None for v in plan.variants):
        return [], []  # creating the runs failed; `created` holds the error
    writer.score_keys = score_keys = _score_keys(plan, rows)
    hits: list[tuple] = []
    rescore: list[tuple] = []
    with store.connect(db) as con, store.transaction(con):
        wanted = 0
        while (chunk := chunks.get()) is not None:
            variants = [plan.variants[i] for i in chunk.pop("variant")]
            chunk["run_id"] = [v.run_id for v in variants]
            chunk["score_key"] = [score_key(score_keys, plan, v, r) for v, r in zip(variants, chunk["row_idx"])]
            units = [plan.unit(r) for r in chunk["row_idx"]]  # plan rows -> stored (row, turn)
            chunk["row_idx"], chunk["turn_idx"] = [u[0] for u in units], [u[1] for u in units]
            wanted += len(chunk["key"])
            h, r = store.apply_cache_hits(con, chunk)
            hits += h
            rescore += r
        if len(hits) == wanted == total and not rescore:  # all served, scores included: the runs are done
            for v in plan.variants:
                store.set_status(con, v.run_id, "done")
            writer.status_written = True
    return hits, rescore


def _queue_keys(plan: Plan, providers: dict[str, Provider], work: dict[int, list],
                msg_json: Callable[[Variant, int], str], chunks: queue.Queue) -> dict[int, str]:
    """Cache keys of every (row, repeat) to do, put on `chunks` LOOKUP_CHUNK at a time; returns the provider
    identity JSON per cached variant."""
    def empty() -> dict[str, list]:
        return {k: [] for k in ("variant", "row_idx", "repeat_idx", "key", "messages")}

    idents: dict[int, str] = {}
    wanted = empty()
    for i, v in enumerate(plan.variants):
        if not uses_cache(plan, v) or not work[i]:
            continue
        prefix = key_prefix(providers[v.model_spec], v.params)
        idents[i] = json.dumps(providers[v.model_spec].identity(), sort_keys=True)
        for row, rep in work[i]:
            m = msg_json(v, row)
            wanted["variant"].append(i)
            wanted["row_idx"].append(row)
            wanted["repeat_idx"].append(rep)
            wanted["key"].append(prefix(m, messages_head(msg_json)))
            wanted["messages"].append(m)
            if len(wanted["key"]) >= LOOKUP_CHUNK:
                chunks.put(wanted)
                wanted = empty()
    if wanted["key"]:
        chunks.put(wanted)
    return idents

"""Conversations whose turns must run in order: `--history own` (each turn sees the model's own earlier
answers) and stateful providers (a bot that keeps a session per conversation).

Each worker takes one (conversation, repeat) at a time and sends its turns one after the other; the
conversations run concurrently, at most `limit` requests in flight. A stateful provider gets a
``conversation_id`` in the request's params, new for each conversation of each execution, so it opens a
fresh session (Rasa's sender id). When a turn fails, the later turns of its conversation are stored as
errors without a request (their history does not exist); `--retry-errors` redoes them in order.
"""

from __future__ import annotations

import asyncio
import collections
import uuid

from workbench.authoring.conversations import HISTORY, own_history, places_history, with_history
from workbench.engine.plan import Plan, Progress, Variant
from workbench.engine.results import Done, MessagesJSON, Writer
from workbench.errors import TemplateError
from workbench.providers import Completion, Provider, ProviderError

CONVERSATION_ID = "conversation_id"  # the params key a stateful provider reads its session from


async def run_conversations(plan: Plan, v: Variant, provider: Provider, limit: asyncio.Semaphore, n_workers: int,
                            writer: Writer, progress: Progress, todo: list[tuple[int, int]],
                            stop) -> None:
    groups: dict[tuple[int, int], list[int]] = collections.defaultdict(list)
    for row, rep in todo:
        groups[(plan.unit(row)[0], rep)].append(row)
    queue = collections.deque((key, sorted(rows)) for key, rows in groups.items())
    encode = MessagesJSON()
    placed = places_history(v.prompt)
    session = uuid.uuid4().hex[:8]

    async def conversation(conv: int, rep: int, rows: list[int]) -> None:
        params = dict(v.params)
        if provider.stateful:
            params[CONVERSATION_ID] = f"{session}-{conv}-{rep}"
        answers: dict[int, str] = {}  # turn_idx -> the model's answer in this execution
        failed: int | None = None
        for row in rows:
            if stop.is_set():
                return
            messages = _messages(plan, v, row, rep, answers, placed) if failed is None else []
            if failed is not None:
                res: Completion | ProviderError = ProviderError(
                    "other", f"not sent: turn {failed} of this conversation failed, so this turn has no history")
            else:
                async with limit:
                    if stop.is_set():
                        return
                    res = await _complete(provider, messages, params)
            turn = plan.unit(row)[1]
            if isinstance(res, ProviderError):
                failed = turn if failed is None else failed
            else:
                answers[turn] = res.text
            writer.add(Done(v, row, rep, encode(messages), res))
            progress.done += 1
            progress.errors += isinstance(res, ProviderError)

    async def worker() -> None:
        while queue and not stop.is_set():
            (conv, rep), rows = queue.popleft()
            await conversation(conv, rep, rows)

    await asyncio.gather(*(worker() for _ in range(max(1, min(n_workers, len(queue))))))


async def _complete(provider: Provider, messages: list[dict[str, str]], params: dict) -> Completion | ProviderError:
    try:
        (res,) = await provider.complete_batch([messages], params)
        return res
    except ProviderError as e:
        return e
    except Exception as e:  # noqa: BLE001 - failures are data, as in runner._run_variant
        return ProviderError("other", f"{type(e).__name__}: {e}"[:500])


def _messages(plan: Plan, v: Variant, row: int, rep: int, answers: dict[int, str], placed: bool) -> list[dict]:
    """The request for plan row `row`: with gold history the rendered messages of the plan; with own
    history the prompt rendered on the model's earlier answers (this execution's, else the stored ones)."""
    if plan.turns.history == "gold":
        return v.messages[row]  # a conversation plan's rows are 0..n-1
    conv, turn = plan.unit(row)
    mine = [answers.get(t, plan.turns.own_texts.get((conv, t, rep))) for t in range(turn)]
    fields = plan.dataset.rows[row]
    history = own_history(fields[HISTORY], mine)
    try:
        return with_history(v.prompt.render({**fields, HISTORY: history}), history, placed)
    except TemplateError as e:
        raise TemplateError(f"{e.message} (rendering {plan.dataset.place(row)})", e.where) from None

"""Copy-teaching conversations for a model that must answer from the passages in its context.

Trained on the support rows alone, a small model memorises one answer per FAQ entry and ignores the passages:
a FAQ entry added after training then gets a training answer. These conversations make memorising fail and
copying from the context pay, using only the bundled FAQ and the `train` rows (no hand-written answers):

- perturbed rows: a train row through the knowledge prompt, with the numbers of its own FAQ passage changed
  consistently in the passage and in the reference ("24 hours" -> "36 hours" in both), so the only way to
  get the number right is to read it from the passage;
- synthetic entries: a new entry made of sentences of the real ones under a new title, some of the words of
  its first sentence swapped for other FAQ words and its numbers changed; the question is built from the
  title's words and the answer is that first sentence, which only the passage holds. The new entry comes
  first among the passages, as BM25 ranks an entry whose words the question uses.

Held-out rows (`split: test`) are never read, and no number becomes 14 (the day count of the new entry that
bench/demo_new_faq.py adds after training), so no trained answer states it.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

NUMBER = re.compile(r"\d+")
WORD = re.compile(r"[A-Za-z]{4,}")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
HELD_BACK = {14}  # the new entry's day count in bench/demo_new_faq.py: never taught
NUMBERS = [n for n in range(1, 1000) if n not in HELD_BACK]  # what a repeat line may hold
# Words that carry no topic: never swapped, never a title word.
STOP = set("this that with from your have will when what they them then than their there into once only "
           "also each been more most such some same over after before until within while about using "
           "can't don't doesn't isn't hasn't".split())
QUESTIONS = ["Do you offer {t}?", "Is there a {t} policy?", "How does {t} work?", "Tell me about {t}.",
             "I have a question about {t}.", "What is your {t} rule?", "Can I get {t}?", "{t}?"]


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def number_map(text: str, rng: random.Random) -> dict[str, str]:
    """A new value for each distinct number in `text`: of the same number of digits, never the same, never
    a held-back one."""
    out: dict[str, str] = {}
    for n in dict.fromkeys(NUMBER.findall(text)):
        digits = len(n)
        low, high = (1, 9) if digits == 1 else (10 ** (digits - 1), 10 ** digits - 1)
        choices = [v for v in range(low, high + 1) if str(v).zfill(digits) != n and v not in HELD_BACK]
        out[n] = str(rng.choice(choices)).zfill(digits)
    return out


def replace_numbers(text: str, mapping: dict[str, str]) -> str:
    return NUMBER.sub(lambda m: mapping.get(m.group(), m.group()), text)


def perturbed_row(row: dict, passages: list[dict], rng: random.Random) -> tuple[list[dict], str] | None:
    """(passages, reference) with the numbers of the row's own passage changed in both; None when the passage
    was not retrieved or the reference states no number of it."""
    gold = next((p for p in passages if p["id"] == row["faq_id"]), None)
    if gold is None:
        return None
    shared = set(NUMBER.findall(row["reference"])) & set(NUMBER.findall(gold["text"]))
    if not shared:
        return None
    mapping = number_map(gold["text"], rng)
    new = [dict(p, text=replace_numbers(p["text"], mapping)) if p is gold else p for p in passages]
    return new, replace_numbers(row["reference"], mapping)


def sentences(text: str) -> list[str]:
    return [s for s in SENTENCE_END.split(text) if s]


def synthetic_entry(faq: list[dict], pool: list[str], rng: random.Random, n: int,
                    swap: float = 0.5) -> tuple[dict, str, str]:
    """(entry, question, answer): a first sentence from one entry with some words swapped and its numbers
    changed, two or three sentences of other entries after it, a title of two of its words."""
    first_from, *others = rng.sample(faq, 3)
    first = rng.choice(sentences(first_from["text"]))
    words = [w for w in dict.fromkeys(WORD.findall(first)) if w.lower() not in STOP]
    swapped = {w: rng.choice(pool) for w in words if rng.random() < swap}
    first = re.sub(r"[A-Za-z]+", lambda m: swapped.get(m.group(), m.group()), first)
    first = replace_numbers(first, number_map(first, rng))
    topic = [w for w in dict.fromkeys(WORD.findall(first)) if w.lower() not in STOP]
    title_words = sorted(rng.sample(topic, min(2, len(topic))), key=topic.index)
    title = " ".join(title_words).capitalize()
    rest = [rng.choice(sentences(e["text"])) for e in others]
    entry = {"id": f"syn-{n:03d}", "title": title, "text": " ".join([first, *rest])}
    question = rng.choice(QUESTIONS).format(t=" ".join(title_words).lower())
    return entry, question[0].upper() + question[1:], first


def word_pool(faq: list[dict]) -> list[str]:
    return sorted({w.lower() for e in faq for w in WORD.findall(e["text"]) if w.lower() not in STOP})


def copy_conversations(rows: list[dict], passages: list[list[dict]], faq: list[dict], prompt, copies: int = 2,
                       synthetic: int = 300, seed: int = 0, swap: float = 0.5,
                       first_sentence: bool = False) -> list[dict]:
    """OpenAI-chat conversations (context turns weight 0) rendered through `prompt`, a knowledge prompt: `copies`
    perturbed versions of each train row (`passages`: those retrieved for it), with `first_sentence` each train
    row answered by the first sentence of its top passage (the rule the synthetic entries teach, so the real
    rows do not teach a memorised answer instead), then `synthetic` new entries, each with two real entries
    after it."""
    rng = random.Random(seed)
    out = []
    for row, found in zip(rows, passages):
        if row.get("split") == "test":
            continue
        for _ in range(copies):
            made = perturbed_row(row, found, rng)
            if made:
                out.append(conversation(prompt, row, made[0], made[1]))
        if first_sentence and found:
            out.append(conversation(prompt, row, found, sentences(found[0]["text"])[0]))
    pool = word_pool(faq)
    for n in range(synthetic):
        entry, question, answer = synthetic_entry(faq, pool, rng, n, swap)
        others = [dict(e, score=0.0) for e in rng.sample(faq, 2)]
        out.append(conversation(prompt, {"question": question}, [dict(entry, score=0.0), *others], answer))
    return out


def repeat_conversation(pool: list[str], rng: random.Random) -> dict:
    """A line of random FAQ words, word pieces and numbers as the system turn, and the same line as the answer
    to a fixed request.
    Nothing in it can be memorised, so only copying lowers the loss: a from-scratch model forms its copying
    (induction) heads on these within a few hundred steps, which it never did on the support data (see
    workbench/finetune/default_model.py). Pieces of words teach it to copy the fragments an unseen word is
    split into; numbers, the digits of a new fact."""
    words = []
    for _ in range(rng.randint(6, 30)):
        kind = rng.random()
        if kind < 0.1:
            words.append(str(rng.choice(NUMBERS)))
        elif kind < 0.3:
            words.append("".join(_piece(rng.choice(pool), rng) for _ in range(2)))
        else:
            words.append(rng.choice(pool))
    text = " ".join(words).capitalize() + "."
    return {"messages": [{"role": "system", "content": text}, {"role": "user", "content": "Repeat the text."},
                         {"role": "assistant", "content": text, "weight": 1}]}


def _piece(word: str, rng: random.Random) -> str:
    start = rng.randrange(len(word))
    return word[start:start + rng.randint(2, 3)]


def write_warmup_data(out: str | Path, faq: str, n: int, seed: int = 0) -> Path:
    """`n` repeat conversations (repeat_conversation) over the words of `faq`, as JSONL in `out`."""
    rng = random.Random(seed)
    pool = word_pool(read_jsonl(faq))
    lines = (json.dumps(repeat_conversation(pool, rng), ensure_ascii=False) + "\n" for _ in range(n))
    Path(out).write_text("".join(lines), encoding="utf-8")
    return Path(out)


def conversation(prompt, row: dict, passages: list[dict], answer: str) -> dict:
    messages = [{**m, "weight": 0} for m in prompt.render({**row, "passages": passages})]
    return {"messages": [*messages, {"role": "assistant", "content": answer, "weight": 1}]}


def write_copy_data(out: str | Path, data: str, faq: str, prompt_path: str, db: str, copies: int = 2,
                    synthetic: int = 300, seed: int = 0, swap: float = 0.5, first_sentence: bool = False) -> Path:
    """The conversations for the train rows of `data` and the entries of `faq`, as JSONL in `out`; `db`
    holds the base the prompt retrieves from."""
    prompt, rows, found = _retrieved(data, prompt_path, db)
    convs = copy_conversations(rows, found, read_jsonl(faq), prompt, copies, synthetic, seed, swap, first_sentence)
    return _write(out, convs)


def write_copy_slices(folder: str | Path, n: int, data: str, faq: str, prompt_path: str, db: str, seed: int = 0,
                      **options) -> list[Path]:
    """`n` files of write_copy_data's conversations in `folder`, file k made with seed `seed + k`: every
    synthetic entry and number change new, for a run that trains on one file per epoch (FinetuneConfig.fresh)."""
    prompt, rows, found = _retrieved(data, prompt_path, db)
    entries = read_jsonl(faq)
    return [_write(Path(folder) / f"copy_data_{k:02d}.jsonl",
                   copy_conversations(rows, found, entries, prompt, seed=seed + k, **options)) for k in range(n)]


def _retrieved(data: str, prompt_path: str, db: str):
    """(prompt, the train rows of `data`, the passages the prompt retrieves for each)."""
    from workbench.authoring.templates import load_prompt
    from workbench.knowledge import retrieve_for_rows

    prompt = load_prompt(prompt_path)
    rows = [r for r in read_jsonl(data) if r.get("split") != "test"]
    return prompt, rows, [[p.to_dict() for p in ps] for ps in retrieve_for_rows(prompt, rows, db)]


def _write(out: str | Path, convs: list[dict]) -> Path:
    Path(out).write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in convs), encoding="utf-8")
    return Path(out)

"""Writes the bundled Rasa assistant from the bundled support data, so the two never drift apart.

    python bots/rasa/build.py            # rewrites config.yml, domain.yml and data/*.yml beside this file

Standard library only: `make rasa` runs it before training, with any Python 3. Every FAQ intent of
datasets/support_en.jsonl becomes an NLU intent (its `split == train` questions as examples: the test
questions stay unseen, so the evaluation is fair) answered by its reference text; a low-confidence
message gets the fallback. Two small hand-written intents show the rest of the REST channel: `greet`
(buttons and an image) and `ask_topic`, which answers from a per-sender slot (what the tests use to
show that two senders never share a tracker). Strings are written as JSON, which YAML reads as is.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE.parents[1] / "datasets" / "support_en.jsonl"
FALLBACK = "Sorry, I didn't understand that. Could you rephrase it, or type 'agent' to reach our support team?"
GREET = ["hi", "hello", "hey there", "good morning", "hello, is anyone there?", "hi bot", "hey", "good evening"]
ASK_TOPIC = ["what were we talking about?", "what was my question?", "remind me what I asked",
             "what did I ask you before?", "what topic was that?", "what was my last question about?",
             "which topic did I ask about", "remind me of my question"]


def q(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def load(path: Path) -> dict[str, dict]:
    """intent -> {"examples": [train questions], "answer": reference}, in file order."""
    intents: dict[str, dict] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        row = json.loads(line)
        try:
            intent, question, answer = row["intent"], row["question"], row["reference"]
        except KeyError as e:
            sys.exit(f"{path}:{number}: no {e.args[0]!r} field")
        entry = intents.setdefault(intent, {"examples": [], "answer": answer})
        if row.get("split", "train") == "train":
            entry["examples"].append(question)
    return intents


def nlu(intents: dict[str, dict]) -> str:
    lines = ['version: "3.1"', "nlu:"]
    for name, examples in [*((n, e["examples"]) for n, e in intents.items()), ("greet", GREET), ("ask_topic", ASK_TOPIC)]:
        lines += [f"- intent: {name}", "  examples: |"] + [f"    - {' '.join(x.split())}" for x in examples]
    return "\n".join(lines) + "\n"


def rules(intents: dict[str, dict]) -> str:
    lines = ['version: "3.1"', "rules:"]
    for name in [*intents, "greet", "ask_topic"]:
        lines += [f"- rule: answer {name}", "  steps:", f"  - intent: {name}", f"  - action: utter_{name}"]
    lines += ["- rule: fallback", "  steps:", "  - intent: nlu_fallback", "  - action: utter_default"]
    return "\n".join(lines) + "\n"


def domain(intents: dict[str, dict]) -> str:
    names = [*intents, "greet", "ask_topic"]
    lines = ['version: "3.1"', "session_config:", "  session_expiration_time: 60",
             "  carry_over_slots_to_new_session: true", "intents:"] + [f"- {n}" for n in names]
    # The topic of the last FAQ question, per sender: set from the predicted intent, read by ask_topic.
    lines += ["slots:", "  topic:", "    type: text", "    influence_conversation: false",
              "    initial_value: nothing yet", "    mappings:"]
    for name in intents:
        lines += ["    - type: from_intent", f"      intent: {name}", f"      value: {name}"]
    lines += ["responses:"]
    for name, entry in intents.items():
        lines += [f"  utter_{name}:", f"  - text: {q(entry['answer'])}"]
    # One response with buttons and an image: the REST channel sends it as two messages.
    lines += ["  utter_greet:", f"  - text: {q('Hello! I am the Northwind Shop assistant. What can I help you with?')}",
              "    buttons:", f"    - title: {q('Track my order')}", f"      payload: {q('/track_order')}",
              f"    - title: {q('Reset my password')}", f"      payload: {q('/reset_password')}",
              f"    image: {q('https://example.com/northwind-logo.png')}",
              "  utter_ask_topic:", f"  - text: {q('You asked about {topic}.')}",
              "  utter_default:", f"  - text: {q(FALLBACK)}"]
    return "\n".join(lines) + "\n"


# A light pipeline: trains in well under a minute on two cores and needs no download.
CONFIG = """\
recipe: default.v1
language: en
assistant_id: northwind-support
pipeline:
- name: WhitespaceTokenizer
- name: CountVectorsFeaturizer
- name: CountVectorsFeaturizer
  analyzer: char_wb
  min_ngram: 2
  max_ngram: 4
- name: LogisticRegressionClassifier
- name: FallbackClassifier
  threshold: 0.2
policies:
- name: RulePolicy
"""


def build(data: Path = DATA, out: Path = HERE) -> list[Path]:
    intents = load(data)
    files = {out / "config.yml": CONFIG, out / "domain.yml": domain(intents),
             out / "data" / "nlu.yml": nlu(intents), out / "data" / "rules.yml": rules(intents)}
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text(encoding="utf-8") != text:  # unchanged files keep their hash
            path.write_text(text, encoding="utf-8")
    return list(files)


if __name__ == "__main__":
    for written in build():
        print(f"rasa assistant: {written.relative_to(HERE.parents[1])}")

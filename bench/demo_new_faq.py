"""Knowledge enhancement, the point of it: a FAQ entry added after training is answered only by the knowledge
variant, once the entry is in the base.

    python bench/demo_new_faq.py [--local hf:models/support-tiny] [--no-local]

The FAQ base starts as datasets/faq_en.jsonl (18 entries). A new entry, faq-19 "Price match", is written
after "training"; six questions about it join the 34 held-out paraphrases of datasets/support_en.jsonl.
Two prompt variants run on those 40 rows: support_zero_shot (no knowledge) and support_knowledge (BM25, k=3),
first against the base without faq-19, then after `kb add` of the FAQ file with faq-19 appended (a new
version; the earlier runs keep theirs). Scores: semsim and rougeL against the reference, retrieval_hit@3
against `faq_id`, and "new fact": the share of answers that state the new entry's 14-day window.

Models:
- the prompted model: an OpenAI-protocol server on 127.0.0.1 (tests/openai_server.py) standing in for an
  instruction-following LLM. It answers with the FAQ passage in its system message that shares the most
  content words with the question, and without passages from what it was "trained" on: the 18 entries of
  the original FAQ, by the same rule. It is a deterministic extractive stand-in, so the figures measure
  the workbench's path (retrieval -> prompt -> answer -> scores), not a real LLM's reading;
- the local model (--local, default the bundled hf:models/support-tiny, trained on support_en without
  passages in its context): the same runs, as they come out.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

NEW_ENTRY = {"id": "faq-19", "title": "Price match",
             "text": "If you find the same item for a lower price at a major US retailer within 14 days of your "
                     "purchase, send support a link to the offer and we refund the difference to your original "
                     "payment method. Price match does not apply to marketplace sellers, clearance or flash sales."}
NEW_REFERENCE = ("Send support a link to the lower price within 14 days of your purchase and we refund the "
                 "difference to your original payment method.")
NEW_QUESTIONS = ["Do you price match?", "I found the same lamp cheaper at another store, can I get the difference?",
                 "Will Northwind refund me if the price is lower somewhere else?",
                 "A big retailer sells my blender for less now. Can you match their price?",
                 "Is there a price match policy?", "How long after buying can I ask for a price match?"]
KEY_FACT = re.compile(r"\b14 days\b")
LINE = re.compile(r"^\[(?P<id>[^\]]+)\] (?P<title>[^:]*): (?P<text>.*)$", re.M)


def rows(tmp: Path) -> Path:
    source = [json.loads(line) for line in (ROOT / "datasets" / "support_en.jsonl").read_text(encoding="utf-8")
              .splitlines() if line.strip()]
    out = [dict(r, group="held-out paraphrases") for r in source if r["split"] == "test"]
    out += [{"id": f"new-{i}", "intent": "price_match", "faq_id": "faq-19", "question": q, "reference": NEW_REFERENCE,
             "split": "test", "group": "new FAQ entry"} for i, q in enumerate(NEW_QUESTIONS, 1)]
    path = tmp / "questions.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in out), encoding="utf-8")
    return path


def prompted_model(trained_on: list[dict]):
    """The stand-in's reply: the best-matching passage in the prompt, else the best trained-on entry."""
    from workbench.metrics.retrieval import content_tokens

    def best(question: str, entries: list[dict]) -> str:
        words = set(content_tokens(question))
        score = [(len(words & set(content_tokens(f"{e['title']} {e['text']}"))), -i) for i, e in enumerate(entries)]
        top = max(score, default=(0, 0))
        return entries[-top[1]]["text"] if top[0] else "I will pass your question to a colleague."

    def reply(messages: list[dict]) -> str:
        question = messages[-1]["content"]
        passages = [m.groupdict() for m in LINE.finditer(messages[0]["content"])]
        if "FAQ passages:" in messages[0]["content"]:
            return best(question, passages)
        return best(question, trained_on)

    return reply


def figures(db: str, run_id: str) -> dict[str, dict[str, float]]:
    from workbench import store

    with store.connect(db) as con:
        df = store.load_outputs(con, run_id)
    out = {}
    for group, part in df.groupby(df["row_data"].map(lambda d: (json.loads(d) if isinstance(d, str) else d)["group"])):
        got = {"rows": len(part), "new fact": statistics.mean(bool(KEY_FACT.search(t or "")) for t in part["text"])}
        for m in ("semsim", "rougeL", "retrieval_hit"):
            col = f"score_{m}"
            if col in part and part[col].notna().any():
                got[m] = float(part[col].mean())
        out[group] = got
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--local", default="hf:models/support-tiny", metavar="SPEC", help="the local model to run too")
    p.add_argument("--no-local", action="store_true", help="the prompted model only")
    args = p.parse_args()
    from tests.openai_server import OpenAIServer
    from workbench import api, knowledge

    faq = [json.loads(line) for line in (ROOT / "datasets" / "faq_en.jsonl").read_text(encoding="utf-8").splitlines()
           if line.strip()]
    prompts = [ROOT / "prompts" / "support_zero_shot.yaml", ROOT / "prompts" / "support_knowledge.yaml"]
    metrics = "semsim,rougeL,retrieval_hit"
    results = []
    with tempfile.TemporaryDirectory() as d, OpenAIServer(reply=prompted_model(faq), record=False) as server:
        tmp = Path(d)
        db, data, base_file = str(tmp / "demo.duckdb"), rows(tmp), tmp / "faq_en.jsonl"
        base_file.write_text("".join(json.dumps(e) + "\n" for e in faq), encoding="utf-8")
        models = [("prompted model (loopback stand-in)", f"openai:prompted@{server.base_url}")]
        if not args.no_local:
            models.append((f"local model ({args.local})", args.local))
        for stage in ("before faq-19 is added", "after faq-19 is added"):
            if stage.startswith("after"):
                with open(base_file, "a", encoding="utf-8") as f:
                    f.write(json.dumps(NEW_ENTRY) + "\n")
            added = knowledge.add_base("faq_en", [str(base_file)], db=db)
            for label, spec in models:
                runs = api.evaluate(prompts, data, [spec], metrics=metrics, db=db).runs
                for prompt, run_id in zip(("no knowledge", "knowledge (bm25, k=3)"), runs):
                    results.append((stage, added.version[:8], label, prompt, run_id, figures(db, run_id)))
    print(f"{'stage':<24} {'base':<8} {'model':<36} {'variant':<22} {'rows':<22} semsim rougeL hit@3 new-fact")
    for stage, version, label, prompt, _run_id, by_group in results:
        for group, f in by_group.items():
            hit = f"{f['retrieval_hit']:.3f}" if "retrieval_hit" in f else "  -  "
            print(f"{stage:<24} {version:<8} {label[:36]:<36} {prompt:<22} {group + ' (' + str(f['rows']) + ')':<22} "
                  f"{f.get('semsim', float('nan')):.3f}  {f.get('rougeL', float('nan')):.3f}  {hit}  {f['new fact']:.3f}")


if __name__ == "__main__":
    main()

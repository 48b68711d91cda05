"""Knowledge enhancement, the point of it: a FAQ entry added after training is answered only by the knowledge
variant, once the entry is in the base.

    python bench/demo_new_faq.py [--lang en|zh] [--local SPEC] [--local-knowledge SPEC] [--no-local]

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
  passages in its context): the same runs, as they come out; the knowledge variant runs on the English
  knowledge model, hf:models/support-tiny-kb (--local-knowledge; trained through support_knowledge with copy
  data, see workbench/finetune/default_model.py), as `workbench eval` chooses it for a knowledge prompt.

`--lang zh` runs the same in Chinese: datasets/faq_zh.jsonl (14 entries) gains faq-15 "价格保护" (the same
price-match rule), six Chinese questions about it join the 26 held-out paraphrases of support_zh, the variants
are support_zh_zero_shot and support_zh_knowledge, the local model is hf:models/support-tiny-zh (trained with
the knowledge prompt's passages in its context) and "new fact" is an answer that states 14天.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
from dataclasses import dataclass
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
LINE = re.compile(r"^\[(?P<id>[^\]]+)\] (?P<title>[^:：]*)[:：] ?(?P<text>.*)$", re.M)


@dataclass(frozen=True)
class Demo:
    """One language's demo: the FAQ and questions, the new entry, the two variants and the local model."""

    faq: str
    data: str
    base: str
    variants: tuple[str, str]  # no knowledge, knowledge
    entry: dict
    reference: str
    questions: list[str]
    fact: re.Pattern
    local: str
    header: str  # the knowledge prompt's heading above the passages
    pass_on: str  # the stand-in's answer when no passage matches
    local_knowledge: str | None = None  # the local model for the knowledge variant, where it has one of its own


DEMOS = {
    "en": Demo("faq_en.jsonl", "support_en.jsonl", "faq_en", ("support_zero_shot", "support_knowledge"), NEW_ENTRY,
               NEW_REFERENCE, NEW_QUESTIONS, KEY_FACT, "hf:models/support-tiny", "FAQ passages:",
               "I will pass your question to a colleague.", "hf:models/support-tiny-kb"),
    "zh": Demo("faq_zh.jsonl", "support_zh.jsonl", "faq_zh", ("support_zh_zero_shot", "support_zh_knowledge"),
               {"id": "faq-15", "title": "价格保护",
                "text": "购买后14天内，如果在美国大型零售商处发现同款商品价格更低，请把该优惠的链接发给客服，我们会把"
                        "差价退回您的原支付方式。价格保护不适用于第三方卖家、清仓商品和限时抢购。"},
               "请在购买后14天内把更低价格的链接发给客服，我们会把差价退回您的原支付方式。",
               ["你们有价格保护吗？", "我在别的店看到同一款台灯更便宜，能退差价吗？", "别的地方卖得更便宜，Northwind会退我差价吗？",
                "一家大商场现在卖我买的搅拌机更便宜了，你们能按他们的价格来吗？", "价格保护政策是怎样的？",
                "买了多久以内可以申请价格保护？"],
               re.compile(r"14\s*天"), "hf:models/support-tiny-zh", "FAQ 段落：", "我会把您的问题转给同事处理。"),
}


def rows(tmp: Path, demo: Demo) -> Path:
    source = [json.loads(line) for line in (ROOT / "datasets" / demo.data).read_text(encoding="utf-8")
              .splitlines() if line.strip()]
    out = [dict(r, group="held-out paraphrases") for r in source if r["split"] == "test"]
    out += [{"id": f"new-{i}", "intent": "price_match", "faq_id": demo.entry["id"], "question": q,
             "reference": demo.reference, "split": "test", "group": "new FAQ entry"}
            for i, q in enumerate(demo.questions, 1)]
    path = tmp / "questions.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in out), encoding="utf-8")
    return path


def prompted_model(trained_on: list[dict], demo: Demo):
    """The stand-in's reply: the best-matching passage in the prompt, else the best trained-on entry."""
    from workbench.metrics.retrieval import content_tokens

    def best(question: str, entries: list[dict]) -> str:
        words = set(content_tokens(question))
        score = [(len(words & set(content_tokens(f"{e['title']} {e['text']}"))), -i) for i, e in enumerate(entries)]
        top = max(score, default=(0, 0))
        return entries[-top[1]]["text"] if top[0] else demo.pass_on

    def reply(messages: list[dict]) -> str:
        question = messages[-1]["content"]
        passages = [m.groupdict() for m in LINE.finditer(messages[0]["content"])]
        if demo.header in messages[0]["content"]:
            return best(question, passages)
        return best(question, trained_on)

    return reply


def figures(db: str, run_id: str, fact: re.Pattern) -> dict[str, dict[str, float]]:
    from workbench import store

    with store.connect(db) as con:
        df = store.load_outputs(con, run_id)
    out = {}
    for group, part in df.groupby(df["row_data"].map(lambda d: (json.loads(d) if isinstance(d, str) else d)["group"])):
        got = {"rows": len(part), "new fact": statistics.mean(bool(fact.search(t or "")) for t in part["text"])}
        for m in ("semsim", "rougeL", "retrieval_hit"):
            col = f"score_{m}"
            if col in part and part[col].notna().any():
                got[m] = float(part[col].mean())
        out[group] = got
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--lang", choices=list(DEMOS), default="en", help="the demo's language (default en)")
    p.add_argument("--local", metavar="SPEC", help="the local model to run too (default: the bundled one of the language)")
    p.add_argument("--local-knowledge", metavar="SPEC", help="the local model for the knowledge variant (default: "
                   "the language's knowledge model, hf:models/support-tiny-kb for English; else --local)")
    p.add_argument("--no-local", action="store_true", help="the prompted model only")
    args = p.parse_args()
    from tests.openai_server import OpenAIServer
    from workbench import api, knowledge

    demo = DEMOS[args.lang]
    local = args.local or demo.local
    local_knowledge = args.local_knowledge or (None if args.local else demo.local_knowledge) or local
    faq = [json.loads(line) for line in (ROOT / "datasets" / demo.faq).read_text(encoding="utf-8").splitlines()
           if line.strip()]
    prompts = [ROOT / "prompts" / f"{name}.yaml" for name in demo.variants]
    metrics = "semsim,rougeL,retrieval_hit"
    results = []
    with tempfile.TemporaryDirectory() as d, OpenAIServer(reply=prompted_model(faq, demo), record=False) as server:
        tmp = Path(d)
        db, data, base_file = str(tmp / "demo.duckdb"), rows(tmp, demo), tmp / demo.faq
        base_file.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in faq), encoding="utf-8")
        prompted = f"openai:prompted@{server.base_url}"
        models = [("prompted model (loopback stand-in)", (prompted, prompted))]  # a model per variant
        if not args.no_local:
            models.append((f"local model ({', '.join(dict.fromkeys([local, local_knowledge]))})", (local, local_knowledge)))
        for stage in (f"before {demo.entry['id']} is added", f"after {demo.entry['id']} is added"):
            if stage.startswith("after"):
                with open(base_file, "a", encoding="utf-8") as f:
                    f.write(json.dumps(demo.entry, ensure_ascii=False) + "\n")
            added = knowledge.add_base(demo.base, [str(base_file)], db=db)
            for label, specs in models:
                runs = [api.evaluate([prompt], data, [spec], metrics=metrics, db=db).runs[0]
                        for prompt, spec in zip(prompts, specs)]
                for prompt, run_id in zip(("no knowledge", "knowledge (bm25, k=3)"), runs):
                    results.append((stage, added.version[:8], label, prompt, run_id, figures(db, run_id, demo.fact)))
    print(f"{'stage':<24} {'base':<8} {'model':<36} {'variant':<22} {'rows':<22} semsim rougeL hit@3 new-fact")
    for stage, version, label, prompt, _run_id, by_group in results:
        for group, f in by_group.items():
            hit = f"{f['retrieval_hit']:.3f}" if "retrieval_hit" in f else "  -  "
            print(f"{stage:<24} {version:<8} {label[:36]:<36} {prompt:<22} {group + ' (' + str(f['rows']) + ')':<22} "
                  f"{f.get('semsim', float('nan')):.3f}  {f.get('rougeL', float('nan')):.3f}  {hit}  {f['new fact']:.3f}")


if __name__ == "__main__":
    main()

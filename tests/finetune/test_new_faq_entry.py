"""The point of knowledge enhancement, on the shipped English models: a FAQ entry added after training is
answered by the knowledge variant only (a short bench/demo_new_faq.py, in-process through hf:). The knowledge
variant runs on the knowledge model (models/support-tiny-kb), the plain one on models/support-tiny, as
`workbench eval` chooses them when no --model is given."""

from __future__ import annotations

import json

from bench.demo_new_faq import KEY_FACT, NEW_ENTRY, NEW_QUESTIONS, NEW_REFERENCE
from tests.conftest import ROOT
from workbench import api, knowledge
from workbench.finetune import default_model

QUESTIONS = [NEW_QUESTIONS[0], NEW_QUESTIONS[2], NEW_QUESTIONS[4]]


def test_only_the_knowledge_variant_states_the_new_entrys_fact(tmp_path, db):
    faq = tmp_path / "faq_en.jsonl"
    faq.write_text((ROOT / "datasets" / "faq_en.jsonl").read_text(encoding="utf-8") + json.dumps(NEW_ENTRY) + "\n",
                   encoding="utf-8")
    knowledge.add_base("faq_en", [str(faq)], db=db)
    data = tmp_path / "new.jsonl"
    data.write_text("".join(json.dumps({"id": f"new-{i}", "faq_id": NEW_ENTRY["id"], "question": q,
                                        "reference": NEW_REFERENCE}) + "\n" for i, q in enumerate(QUESTIONS)))
    prompts = [ROOT / "prompts" / "support_zero_shot.yaml", ROOT / "prompts" / "support_knowledge.yaml"]
    specs = [default_model.local_model_for([p], "en") for p in prompts]
    assert specs == [default_model.default_model_spec("en"), default_model.knowledge_model_spec("en")]
    runs = [api.evaluate([p], str(data), [spec], metrics="exact", db=db).runs[0] for p, spec in zip(prompts, specs)]
    from workbench import store

    with store.connect(db) as con:
        plain, with_passages = (list(store.load_outputs(con, run)["text"]) for run in runs)
    assert not any(KEY_FACT.search(t or "") for t in plain), plain  # nothing in training says 14 days
    assert sum(bool(KEY_FACT.search(t or "")) for t in with_passages) >= 2, with_passages

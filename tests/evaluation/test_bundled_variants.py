"""The tour's claim, measured on the real local model: on the test split, support_brief against
support_zero_shot is a significant difference (the Compare page's paired bootstrap) and support_few_shot
against support_zero_shot is not."""

from __future__ import annotations

import pytest

from tests.conftest import DATA_EN, ROOT
from workbench import store
from workbench.evaluation import stats

PROMPTS = ROOT / "prompts"


@pytest.mark.slow  # loads PyTorch and generates 102 answers: 15-45 s on 2 cores
def test_the_tour_variants_on_the_local_model(cli, db):
    res = cli("eval", *(PROMPTS / f"{p}.yaml" for p in ("support_brief", "support_zero_shot", "support_few_shot")),
              "--data", DATA_EN, "--split", "test", "--model", f"hf:{ROOT / 'models' / 'support-tiny'}",
              "--metrics", "exact,bleu,chrf,rougeL", "--json")
    assert res.code == 0, res.err
    brief, zero, few = (r["run_id"] for r in res.json()["runs"])
    assert {r["outputs"] for r in res.json()["runs"]} == {34}
    with store.connect(db) as con:
        cut = {r.metric: r for r in stats.compare(con, brief, zero)}
        examples = {r.metric: r for r in stats.compare(con, zero, few)}
    assert {m: r.verdict for m, r in cut.items()} == dict.fromkeys(("exact", "bleu", "chrf", "rougeL"), "better")
    assert cut["bleu"].ci_low > 0.1 and cut["exact"].wins >= 14
    assert {r.verdict for r in examples.values()} == {"unclear"}

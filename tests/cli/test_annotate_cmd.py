"""The rating commands end to end: create, list, agreement, export, leaderboard, trust, significance."""

from __future__ import annotations

from tests.annotation_runs import make_runs
from workbench import store
from workbench.rating import annotation as an


def answer(v: int, row: dict) -> str:
    return row["reference"] if v == 0 else "Please contact support."


def test_rating_commands(db, cli, tmp_path):
    runs = make_runs(db, [("support_few_shot", "openai:one"), ("support_zero_shot", "openai:two")], n_rows=8,
                     answer=answer)
    res = cli("annotate", "create", "--runs", runs[0][:6], runs[1], "--pairwise", "--k", "2", "--seed", "3",
              "--annotators", "ann,bob", "--json")
    assert res.code == 0, res.err
    info = res.json()
    sid = info["id"]
    assert (info["kind"], info["n_items"], info["seed"], info["annotators"]) == ("pairwise", 8, 3, ["ann", "bob"])

    with store.connect(db) as con:  # ann always prefers the reference answer; bob does on all but one item
        for name in ("ann", "bob"):
            while (item := an.next_item(con, sid, name)) is not None:
                good = "A" if store.item_outputs(con, sid, item.item_idx)["run_a"][0] == runs[0] else "B"
                an.record_rating(con, sid, item.item_idx, name, "tie" if (name, item.item_idx) == ("bob", 0) else good)

    res = cli("annotate", "list")
    assert res.code == 0 and sid in res.out and "16/16" in res.out
    res = cli("annotate", "agreement", sid[:4])
    assert res.code == 0 and "Krippendorff's alpha (nominal)" in res.out and "1 disputed items" in res.out
    res = cli("leaderboard", sid, "--json", "--boot", "50")
    assert res.code == 0, res.err
    board = res.json()
    assert [s["run_id"] for s in board["standings"]] == runs and board["votes"] == 16 and board["ties"] == 1
    res = cli("leaderboard", sid, "--boot", "20")
    assert res.code == 0 and "support_few_shot" in res.out and "openai:one" in res.out
    res = cli("trust", sid, "--json")
    assert res.code == 0 and {v["metric"]: v["rate"] for v in res.json()["vote_agreement"]}["bleu"] == 1.0
    res = cli("significance", runs[0], runs[1], "--boot", "200")
    assert res.code == 0 and "B is worse than A on bleu" in res.out
    res = cli("annotate", "export", sid, "--format", "ratings", "-o", tmp_path / "r.csv")
    assert res.code == 0 and "wrote 16 ratings records" in res.err
    res = cli("annotate", "export", sid, "--format", "dpo", "-o", tmp_path / "d.jsonl")
    assert res.code == 0 and "wrote 7 dpo records" in res.err  # item 0 is split (one vote for a tie)

    res = cli("annotate", "agreement", "nosuch")
    assert res.code == 2 and "no annotation session 'nosuch'" in res.err
    res = cli("annotate", "create", "--runs", runs[0], "--pairwise")
    assert res.code == 2 and "at least two" in res.err


def test_a_new_session_with_no_ratings_says_so(db, cli):
    runs = make_runs(db, [("support_few_shot", "openai:one"), ("support_zero_shot", "openai:two")], n_rows=3)
    sid = cli("annotate", "create", "--runs", *runs, "--pairwise", "--seed", "1").out.strip()
    for args in (("annotate", "agreement", sid), ("leaderboard", sid), ("trust", sid)):
        res = cli(*args)
        assert res.code == 0, (args, res.err)
        assert "no ratings yet" in res.out + res.err, args
    res = cli("leaderboard", sid, "--json")
    assert res.code == 0 and res.json()["standings"] == [] and res.json()["votes"] == 0


def test_a_session_with_the_chinese_rubric_and_tags(db, cli):
    runs = make_runs(db, [("support_few_shot", "openai:one"), ("support_zero_shot", "openai:two")], n_rows=3)
    sid = cli("annotate", "create", "--runs", *runs, "--pairwise", "--lang", "zh").out.strip()
    with store.connect(db) as con:
        info = store.get_session(con, sid)
    assert info["rubric"] == an.RUBRICS_ZH["pairwise"] and list(info["tags"]) == an.DEFAULT_TAGS_ZH
    sid = cli("annotate", "create", "--runs", runs[0], "--scale", "thumbs").out.strip()
    with store.connect(db) as con:
        info = store.get_session(con, sid)
    assert info["rubric"] == an.RUBRICS["thumbs"] and list(info["tags"]) == an.DEFAULT_TAGS

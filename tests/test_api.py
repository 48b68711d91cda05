"""The public Python API against the real loopback OpenAI-protocol server and a real DuckDB file:
workbench.evaluate from plain code, from inside a running event loop and from a separate script;
aevaluate, resume, score, and errors that name a setting."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
import threading

import pytest

from tests.conftest import DATA_EN, ROOT, default_sigint
from tests.openai_server import OpenAIServer
from workbench import store
from workbench.errors import UserError
from workbench.providers import Completion, Provider

FEW_SHOT = ROOT / "prompts" / "support_few_shot.yaml"
ZERO_SHOT = ROOT / "prompts" / "support_zero_shot.yaml"


def stored_runs(db) -> list[str]:
    with store.connect(db) as con:
        return list(store.list_runs(con)["id"])


def test_script_calls_evaluate_inside_asyncio_run(openai_server, db):
    """The notebook case: a loop is already running where evaluate is called (asyncio.run(main()))."""
    script = textwrap.dedent(f"""
        import asyncio, json, workbench

        async def main():
            ev = workbench.evaluate([{str(ZERO_SHOT)!r}, {str(FEW_SHOT)!r}], {str(DATA_EN)!r},
                                    "openai:test@{openai_server.base_url}", metrics="exact,bleu", db={db!r}, limit=5)
            frame = ev.summary()
            print(json.dumps({{"runs": ev.runs, "columns": list(frame.columns),
                              "rows": frame.to_dict(orient="records")}}))

        asyncio.run(main())
    """)
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert len(out["runs"]) == 2 and sorted(out["runs"]) == sorted(stored_runs(db))
    assert out["columns"] == ["run", "prompt", "model", "rows", "errors", "cached", "exact", "bleu"]
    rows = {row["prompt"]: row for row in out["rows"]}
    assert set(rows) == {"support_zero_shot", "support_few_shot"}
    for row in rows.values():  # the server answers each question with its reference
        assert row["rows"] == 5 and row["errors"] == 0 and row["exact"] == 1.0 and row["bleu"] == pytest.approx(1.0)
        assert row["model"] == f"openai:test@{openai_server.base_url}"


def test_evaluate_from_a_running_loop_in_this_process(openai_server, db):
    async def main():
        return workbench_evaluate(openai_server.base_url, db)

    ev = asyncio.run(main())
    assert ev.runs and ev.db == db and ev.summary()["rows"].tolist() == [3]


def workbench_evaluate(base_url: str, db: str):
    import workbench

    assert threading.current_thread() is threading.main_thread()
    return workbench.evaluate(ZERO_SHOT, DATA_EN, f"openai:test@{base_url}", metrics=["exact"], db=db, limit=3)


def test_aevaluate_runs_on_the_callers_loop_with_loaded_objects(openai_server, db):
    import workbench

    prompt, data = workbench.load_prompt(ZERO_SHOT), workbench.load_dataset(DATA_EN)
    seen = []

    async def main():
        return await workbench.aevaluate([prompt], data, [f"openai:a@{openai_server.base_url}",
                                                          f"openai:b@{openai_server.base_url}"],
                                         metrics="exact,length", db=db, limit=4, on_progress=seen.append)

    ev = asyncio.run(main())
    frame = ev.summary()
    assert list(frame["model"]) == [f"openai:a@{openai_server.base_url}", f"openai:b@{openai_server.base_url}"]
    assert list(frame["rows"]) == [4, 4] and list(frame["exact"]) == [1.0, 1.0]
    assert seen and sum(p.done for p in seen[-1]) == 8
    assert ev.dataset == str(DATA_EN)


class Shout(Provider):
    """A provider written in the caller's code: the user's question in capitals."""

    spec = "shout:v1"

    async def complete(self, messages, params):
        return Completion(messages[-1]["content"].upper(), "stop", 1, 1, 1.0)


def test_a_provider_object_is_used_and_named_by_its_spec(db):
    import workbench

    ev = workbench.evaluate(ZERO_SHOT, DATA_EN, Shout(), metrics="length", db=db, limit=2)
    with store.connect(db) as con:
        out = store.load_outputs(con, ev.runs[0])
        assert store.get_run(con, ev.runs[0])["model_spec"] == "shout:v1"
    assert all(t == t.upper() and t for t in out["text"])


def test_bad_input_raises_user_errors_and_stores_nothing(db):
    import workbench

    with pytest.raises(UserError) as e:
        workbench.evaluate(ZERO_SHOT, DATA_EN, "openai:test", db=db, limit=2)  # no key, no base URL
    assert e.value.setting == "model"
    with pytest.raises(UserError) as e:
        workbench.evaluate(ZERO_SHOT, DATA_EN, "openai:test@http://127.0.0.1:9/v1", db=db, temprature=0)
    assert e.value.setting == "temprature" and "known:" in e.value.message
    with pytest.raises(UserError) as e:
        workbench.evaluate(ZERO_SHOT, DATA_EN, "openai:test@http://127.0.0.1:9/v1", db=db, limit=0)
    assert e.value.setting == "limit"
    assert stored_runs(db) == []


def test_resume_finishes_a_cancelled_run(db):
    import workbench

    cancel = threading.Event()
    with OpenAIServer(latency=0.05) as server:
        spec = f"openai:test@{server.base_url}"

        def stop_early(progress):
            if sum(p.done for p in progress) >= 3:
                cancel.set()

        first = workbench.evaluate(ZERO_SHOT, DATA_EN, spec, metrics="length", db=db, limit=20, concurrency=1,
                                   cache=False, on_progress=stop_early, cancel=cancel)
        assert first.summaries()[0].n_outputs < 20
        again = workbench.resume(first.runs[0], db=db)
    assert again.runs == first.runs and again.summaries()[0].n_outputs == 20


def test_score_predictions_made_elsewhere():
    import workbench

    frame = workbench.score(["Tap Forgot password.", "no idea"], ["Tap Forgot password.", ["a", "b"]],
                            metrics="exact,length")
    assert list(frame.columns) == ["exact", "length"]
    assert frame["exact"].tolist() == [1.0, 0.0] and frame["length"].tolist() == [20.0, 7.0]
    with pytest.raises(UserError) as e:
        workbench.score(["a", "b"], ["a"])
    assert e.value.setting == "references"


def test_import_workbench_loads_no_api_until_used():
    code = ("import sys, workbench; print('workbench.api' in sys.modules); workbench.evaluate; "
            "print('workbench.api' in sys.modules, 'pandas' in sys.modules, 'torch' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["False", "True", "False", "False"]


def test_a_setting_is_shown_as_the_cli_flag_and_the_app_label(cli):
    from workbench.app.labels import label_for
    from workbench.cli.main import flag_for

    e = UserError("must be at least 1", setting="limit")
    assert e.shown(flag_for) == "--limit: must be at least 1"
    assert e.shown(label_for) == "Row limit: must be at least 1"
    assert UserError("x", setting="annotators_per_item").shown(flag_for) == "--k: x"
    assert UserError("x", "--min-rating").setting == "min_rating"  # older call sites: a flag as `where`
    assert UserError("x", "data.jsonl:3", setting="reference").shown(label_for) == "data.jsonl:3 (Reference): x"
    r = cli("eval", ZERO_SHOT, "--data", DATA_EN, "--model", "openai:x@http://127.0.0.1:9/v1", "--limit", "0")
    assert r.code == 2 and "--limit: must be at least 1" in r.err


def test_interrupting_evaluate_in_a_running_loop_cancels_its_runs(db):
    """A notebook's stop button raises KeyboardInterrupt in the cell waiting on the worker thread: the runs
    stop, keep what finished and end `cancelled` (resumable) instead of running on to the end."""
    script = textwrap.dedent("""
        import asyncio, json, os, signal, sys, threading, workbench
        from workbench import store

        base_url, db, prompt, data = sys.argv[1:5]

        def stop_soon(progress):
            if sum(p.done for p in progress) >= 3 and not fired.is_set():
                fired.set()
                os.kill(os.getpid(), signal.SIGINT)  # as the stop button does

        fired = threading.Event()

        async def cell():
            workbench.evaluate(prompt, data, f"openai:test@{base_url}", metrics="length", db=db, limit=40,
                               concurrency=1, cache=False, on_progress=stop_soon)

        loop = asyncio.new_event_loop()  # a loop that runs the cell, as a notebook kernel's does
        try:
            loop.run_until_complete(cell())
        except KeyboardInterrupt:
            with store.connect(db) as con:
                runs = store.list_runs(con)
            print(json.dumps({"status": runs["status"].tolist(), "outputs": runs["n_outputs"].tolist()}))
    """)
    with OpenAIServer(latency=0.05) as server:
        r = subprocess.run([sys.executable, "-c", script, server.base_url, db, str(ZERO_SHOT), str(DATA_EN)],
                           capture_output=True, text=True, cwd=ROOT, timeout=120, preexec_fn=default_sigint)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["status"] == ["cancelled"] and 3 <= out["outputs"][0] < 40


def test_score_mixed_languages_each_row_in_its_own():
    """9 English rows and 1 Chinese row: the Chinese row's BLEU is sacrebleu's with the zh tokenizer (one language
    for all rows gave it 13a, and 0.0), the English rows' with 13a."""
    import sacrebleu

    import workbench

    en = [("Tap Forgot password on the sign-in screen.", f"Tap Forgot password on the sign-in screen, step {i}.")
          for i in range(9)]
    zh = ("请在登录页面点击忘记密码", "请在登录页面点击忘记密码并查看邮件")
    preds, refs = [p for p, _ in en] + [zh[0]], [r for _, r in en] + [zh[1]]
    frame = workbench.score(preds, refs, metrics="bleu")
    want = [sacrebleu.sentence_bleu(p, [r], tokenize="13a").score / 100 for p, r in en]
    want.append(sacrebleu.sentence_bleu(zh[0], [zh[1]], tokenize="zh").score / 100)
    assert frame["bleu"].tolist() == want and want[-1] > 0.5
    forced = workbench.score(preds, refs, metrics="bleu", lang="en")  # a forced language still holds for every row
    assert forced["bleu"].tolist()[-1] == sacrebleu.sentence_bleu(zh[0], [zh[1]], tokenize="13a").score / 100

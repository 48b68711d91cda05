"""`execute` shortens the process-wide GIL switch interval while it runs: two runs in one process (two
app jobs) must leave it as it was, and the later run keeps the short one after the earlier ends."""

from __future__ import annotations

import sys
import threading

from tests.conftest import DATA_EN, ROOT
from tests.openai_server import OpenAIServer
from workbench import api
from workbench.engine.runner import fast_thread_switching

PROMPT = ROOT / "prompts" / "support_zero_shot.yaml"


def test_nested_users_restore_the_original_only_at_the_end():
    original = sys.getswitchinterval()
    first, second = fast_thread_switching(), fast_thread_switching()
    first.__enter__()
    second.__enter__()
    assert sys.getswitchinterval() == 0.001
    first.__exit__(None, None, None)  # the first ends while the second still runs
    assert sys.getswitchinterval() == 0.001
    second.__exit__(None, None, None)
    assert sys.getswitchinterval() == original


def test_two_overlapping_runs_leave_the_interval_as_it_was(db):
    original = sys.getswitchinterval()
    a_started, a_done = threading.Event(), threading.Event()
    seen_in_b_after_a: list[float] = []
    results: dict[str, object] = {}

    def on_a(progress) -> None:
        a_started.set()

    def on_b(progress) -> None:
        if a_done.is_set():
            seen_in_b_after_a.append(sys.getswitchinterval())

    with OpenAIServer(latency=0.02) as fast, OpenAIServer(latency=0.1) as slow:
        def run_a():
            results["a"] = api.evaluate(PROMPT, DATA_EN, f"openai:a@{fast.base_url}", "length", db, limit=4,
                                        concurrency=4, cache=False, on_progress=on_a)
            a_done.set()

        def run_b():
            a_started.wait(10)  # b starts after a has shortened the interval and ends after a
            results["b"] = api.evaluate(PROMPT, DATA_EN, f"openai:b@{slow.base_url}", "length", db, limit=12,
                                        concurrency=1, cache=False, on_progress=on_b)

        threads = [threading.Thread(target=run_a), threading.Thread(target=run_b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    assert results["a"].summaries()[0].n_outputs == 4 and results["b"].summaries()[0].n_outputs == 12
    assert seen_in_b_after_a and set(seen_in_b_after_a) == {0.001}  # b kept its short interval after a ended
    assert sys.getswitchinterval() == original

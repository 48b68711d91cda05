"""Where a rating click's server CPU goes: one rater in Chromium clicks "A is better" through a pairwise session
against `streamlit run workbench/app/server.py`, and the server reports, for the clicks only (not the first
load), its CPU per click by thread (the script thread that reruns the page or panel, the event loop that sends
the deltas, the rest) and, with --profile, a cProfile of every thread (the profiler itself inflates the
figures; use it for the shares, the plain run for the totals).

    .venv/bin/python bench/profile_annotate_click.py [--clicks 30] [--profile] [--top 40]

The server runs under this file's `serve` mode: a Thread.run wrapper gives each thread its own cProfile, and
SIGUSR1 / SIGUSR2 start / end the measured phase (SIGUSR2 writes the stats and the threads' names).
"""

from __future__ import annotations

import argparse
import json
import os
import pstats
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VARIANTS = [("support_few_shot", "openai:one"), ("support_persona", "openai:two"), ("support_zero_shot", "openai:three")]


def serve(argv: list[str]) -> None:
    """Run Streamlit's CLI in this process, each thread profiled when PROFILE_OUT asks for it."""
    import cProfile
    import threading

    out = os.environ["PROFILE_OUT"]
    profiling = os.environ.get("PROFILE_ON") == "1"
    profiles: dict[int, tuple[str, cProfile.Profile]] = {}

    def start(name: str) -> None:
        if profiling:
            p = cProfile.Profile(time.thread_time)  # CPU time: a thread waiting (sleep, select) costs nothing
            profiles[threading.get_native_id()] = (name, p)
            p.enable()

    run = threading.Thread.run

    def profiled_run(self):
        start(self.name)
        run(self)

    threading.Thread.run = profiled_run
    start("MainThread")

    def reset(*_):
        for _name, p in profiles.values():
            p.clear()

    def dump(*_):
        names = {t.native_id: t.name for t in threading.enumerate()}
        for tid, (_name, p) in list(profiles.items()):
            p.create_stats()
            if p.stats:
                p.dump_stats(f"{out}.{tid}.prof")
        Path(out + ".threads.json").write_text(json.dumps({str(k): v for k, v in names.items()}))

    signal.signal(signal.SIGUSR1, reset)
    signal.signal(signal.SIGUSR2, dump)
    from streamlit.web import cli

    sys.path.insert(0, str(ROOT))  # this tree's workbench, as `python -m streamlit` from ROOT would import
    sys.argv = ["streamlit", *argv]
    cli.main()


def thread_cpu(pid: int) -> dict[int, float]:
    import psutil

    proc = psutil.Process(pid)
    times = proc.cpu_times()
    out = {t.id: t.user_time + t.system_time for t in proc.threads()}
    out[0] = times.user + times.system - sum(out.values())  # threads that have ended (a script run's thread)
    return out


def settle(pid: int, at_least: float = 5.0, at_most: float = 60.0) -> None:
    """Wait until the server idles (under 50 ms of CPU in a second): its warm-up takes longer than 5 s when
    profiled or on a busy machine, and would otherwise land in the clicks' figures."""
    time.sleep(at_least)
    deadline = time.monotonic() + at_most
    while time.monotonic() < deadline:
        before = sum(thread_cpu(pid).values())
        time.sleep(1.0)
        if sum(thread_cpu(pid).values()) - before < 0.05:
            return


def make_session(db: str, items: int) -> str:
    sys.path.insert(0, str(ROOT))
    from tests.annotation_runs import make_runs
    from workbench import store
    from workbench.rating import annotation as an

    runs = make_runs(db, VARIANTS, n_rows=max(4, -(-items // 3)))
    with store.connect(db) as con:
        return an.create_session(con, an.SessionSpec(runs, pairwise=True, k=1, seed=1))


def start_server(db: str, out: str, profile: bool) -> tuple[subprocess.Popen, str]:
    sys.path.insert(0, str(ROOT))
    from tests.browser import free_port

    port = free_port()
    env = {**os.environ, "WORKBENCH_DB": db, "PROFILE_OUT": out, "PROFILE_ON": "1" if profile else "0"}
    cmd = [sys.executable, __file__, "serve", "run", str(ROOT / "workbench" / "app" / "server.py"),
           "--server.port", str(port), "--server.address", "127.0.0.1", "--server.headless", "true",
           "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=open(out + ".log", "w"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1):
                return proc, url
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(Path(out + ".log").read_text()[-2000:])


def click_through(url: str, sid: str, clicks: int, proc: subprocess.Popen) -> tuple[int, float, dict, dict]:
    from playwright.sync_api import sync_playwright

    sys.path.insert(0, str(ROOT))
    from tests.browser import CHROMIUM_FLAGS

    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, args=CHROMIUM_FLAGS, headless=True)
        page = browser.new_page(viewport={"width": 1300, "height": 1400})
        page.set_default_timeout(120_000)
        page.goto(f"{url}/?session={sid}&annotator=prof")
        heading = page.get_by_role("heading", name="Item ")
        heading.first.wait_for()
        settle(proc.pid)  # the app's background warm-up (imports for the other pages) is not a click's work
        before = thread_cpu(proc.pid)
        os.kill(proc.pid, signal.SIGUSR1)
        t0 = time.monotonic()
        done = 0
        for _ in range(clicks):
            shown = heading.first.inner_text().strip()
            page.get_by_role("button", name="A is better").click()
            page.wait_for_function(
                """(before) => { const h = [...document.querySelectorAll('h3')].map(e => e.innerText);
                                 return !h.some(t => t.startsWith(before)) ||
                                        document.body.innerText.includes('All your items are rated'); }""",
                arg=shown, polling=20)
            done += 1
            if not heading.count():
                break
        time.sleep(0.5)  # the last delta sent
        wall = time.monotonic() - t0
        after = thread_cpu(proc.pid)
        os.kill(proc.pid, signal.SIGUSR2)
        browser.close()
    return done, wall, before, after


def report(out: str, done: int, before: dict, after: dict, top: int) -> None:
    threads = Path(out + ".threads.json")
    for _ in range(300):  # the server writes the profiles first (seconds when the machine is busy)
        if threads.exists():
            break
        time.sleep(0.1)
    time.sleep(0.5)
    names = {"0": "threads that ended (the script runs)", **json.loads(threads.read_text())}
    spent = sorted(((after[t] - before.get(t, 0.0), t) for t in after), reverse=True)
    total = sum(s for s, _ in spent)
    print(f"server CPU over {done} clicks: {1000 * total / done:.1f} ms per click")
    for s, t in spent:
        if s > 0.001:
            print(f"  {1000 * s / done:6.1f} ms  {names.get(str(t), '?')} ({t})")
    profs = sorted(Path(out).parent.glob(Path(out).name + ".*.prof"))
    if not profs:
        return
    stats = pstats.Stats(str(profs[0]))
    for p in profs[1:]:
        stats.add(str(p))
    stats.sort_stats("cumulative").print_stats(top)
    stats.print_callers(r"_enqueue\b|connect\b")
    stats.sort_stats("tottime").print_stats(top)


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        serve(sys.argv[2:])
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clicks", type=int, default=30)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--top", type=int, default=40)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp()
    db, out = str(Path(tmp) / "prof.duckdb"), str(Path(tmp) / "server")
    sid = make_session(db, args.clicks + 3)
    proc, url = start_server(db, out, args.profile)
    try:
        done, wall, before, after = click_through(url, sid, args.clicks, proc)
        report(out, done, before, after, args.top)
        print(f"{done} clicks in {wall:.1f} s wall; files in {tmp}")
    finally:
        proc.terminate()
        proc.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())

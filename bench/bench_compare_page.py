"""Compare and Leaderboard pages at scale: 100,000 items x 4 variants, in Chromium against a real Streamlit server.

Figures (issue 5): time from navigation to the first paint of the grid (goal <= 2 s) -- through the
sidebar and by loading the page's URL on a server that has finished starting, and by URL right after the
server came up (its background import of scipy and sklearn still running) -- and from asking
for another page of the grid to its rows on screen (goal <= 0.5 s), each printed as a ratio to its
goal (<= 1.0 meets it); and the resident memory of the Streamlit process (its peak, and now), with
the same process measured on an empty database for scale (goal <= 600 MB at 100,000 items, issue 20).
Beside each first paint: the CPU seconds the Streamlit process and Chromium's processes used meanwhile (the
figures a loaded machine does not stretch; Chromium runs on the same cores), and for Compare the time until
the whole page is drawn (its chart comes after the grid).
The Leaderboard is opened the same way, on a pairwise session of the 4 variants (600,000 items, 300 votes)
and a Likert one (400,000 items, 200 items rated twice), the Likert one shown: its first paint is when the
trust section's caption is on screen. The data is written straight through the store (write_results with
Arrow columns, tests/big_store.py), so set-up takes seconds.

    .venv/bin/python bench/bench_compare_page.py [--items 100000] [--variants 4] [--switches 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.big_store import fill  # noqa: E402
from tests.browser import app_server, chromium  # noqa: E402
from workbench import store  # noqa: E402
from workbench.rating import annotation  # noqa: E402

METRICS = ("bleu", "rougeL", "exact", "latency_ms")
LEADERBOARD_READY = "text=Rank correlation of each metric"
GRID = "table.wb-grid"
CHART = "svg.wb-chart"  # the score distribution (an SVG drawn by the server), drawn after the grid


def build(db: str, items: int, variants: int) -> None:
    """The variants' runs, then a pairwise and a Likert rating session over them with some ratings."""
    runs = fill(db, variants, items, METRICS)
    with store.connect(db) as con:
        pair = annotation.create_session(con, annotation.SessionSpec(runs, pairwise=True, seed=1))
        likert = annotation.create_session(con, annotation.SessionSpec(runs, scale="likert", k=2, seed=2))
        ratings = [{"session_id": pair, "item_idx": i, "annotator": "ann", "kind": "pairwise",
                    "value": "AB"[i % 3 == 0]} for i in range(300)]
        ratings += [{"session_id": likert, "item_idx": i, "annotator": who, "kind": "likert", "value": str(v)}
                    for i in range(200) for who, v in (("ann", 1 + i % 5), ("bob", 5 - i % 5))]
        store.upsert_ratings(con, ratings)


def streamlit_process(port: str) -> psutil.Process:
    for p in psutil.process_iter(["cmdline"]):
        cmd = p.info["cmdline"] or []
        if "streamlit" in cmd and port in cmd:
            return p
    raise RuntimeError("streamlit process not found")


def peak_rss_mb(proc: psutil.Process) -> tuple[float, float]:
    status = Path(f"/proc/{proc.pid}/status").read_text()
    field = {line.split(":")[0]: line.split(":")[1] for line in status.splitlines() if ":" in line}
    return int(field["VmHWM"].split()[0]) / 1024, int(field["VmRSS"].split()[0]) / 1024


def wait_idle(proc: psutil.Process, timeout: float = 30.0) -> None:
    """Until the server has used under 5% of a core for half a second (its start-up imports done)."""
    deadline = time.monotonic() + timeout
    last = sum(proc.cpu_times()[:2])
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = sum(proc.cpu_times()[:2])
        if now - last < 0.025:
            return
        last = now


def cpu_s(proc: psutil.Process) -> float:
    """CPU seconds the process has used (user + system, all its threads)."""
    return sum(proc.cpu_times()[:2])


def browser_cpu_s() -> float:
    """CPU seconds Chromium's processes (this bench's children) have used."""
    used = 0.0
    for child in psutil.Process().children(recursive=True):
        try:
            if "chrom" in child.name():
                used += sum(child.cpu_times()[:2])
        except psutil.Error:  # a renderer that has gone
            pass
    return used


def open_compare(page, url: str, how: str, ready: str, proc: psutil.Process, settle: bool,
                 name: str = "Compare", then: str | None = None) -> dict:
    """Seconds from asking for the page `name` to `ready` on screen (first_s), and the server's and Chromium's
    CPU seconds meanwhile (first_cpu_s, first_browser_s): through the sidebar of a running app ("nav"), or by
    loading its address ("load": Streamlit's own start in the browser included). With `settle`, first wait until
    the server is idle; without, go right after the first page has shown. With `then`, also the seconds until
    that is on screen too (whole_s: the Compare page's chart, drawn after the grid)."""
    page.goto(url)
    page.get_by_role("heading", name="Prompts").wait_for()
    if settle:
        wait_idle(proc)
    used, drawn = cpu_s(proc), browser_cpu_s()
    start = time.perf_counter()
    if how == "nav":
        page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=name).click()
    else:
        page.goto(f"{url}/{name.lower()}")
    page.locator(ready).first.wait_for()
    out = {"first_s": time.perf_counter() - start, "first_cpu_s": cpu_s(proc) - used,
           "first_browser_s": browser_cpu_s() - drawn}
    if then:
        page.locator(then).first.wait_for()
        out["whole_s"] = time.perf_counter() - start
    return out


def measure(db: str, how: str, switches: int, ready: str, settle: bool = True, leaderboard: bool = False) -> dict:
    """On a fresh server (nothing cached): open Compare one way, then switch grid pages (and open the
    Leaderboard)."""
    out = {}
    with app_server(db) as url, chromium() as browser:
        proc = streamlit_process(url.rsplit(":", 1)[1])
        page = browser.new_page(viewport={"width": 1500, "height": 1200})
        page.set_default_timeout(60_000)
        out.update(open_compare(page, url, how, ready, proc, settle, then=CHART if ready == GRID else None))
        times, cpu = [], []
        number = page.get_by_label("Page (of", exact=False)
        for k in range(switches):
            target = 2 + k
            used = cpu_s(proc)
            start = time.perf_counter()
            number.fill(str(target))
            number.press("Enter")
            page.wait_for_function(
                "n => { const c = document.querySelector('table.wb-grid tbody td.idx');"
                " return c && c.textContent === n; }", arg=str((target - 1) * 25 + 1))
            times.append(time.perf_counter() - start)
            cpu.append(cpu_s(proc) - used)
        if times:
            out["switch_s"], out["switch_max_s"] = statistics.median(times), max(times)
            out["switch_cpu_s"] = statistics.median(cpu)  # the server's own work: what load cannot stretch
        if leaderboard:  # then the Leaderboard, from the sidebar of the same server
            wait_idle(proc)
            used, drawn = cpu_s(proc), browser_cpu_s()
            start = time.perf_counter()
            page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Leaderboard").click()
            page.locator(LEADERBOARD_READY).first.wait_for()
            out["leaderboard_s"], out["leaderboard_cpu_s"] = time.perf_counter() - start, cpu_s(proc) - used
            out["leaderboard_browser_s"] = browser_cpu_s() - drawn
        out["peak_rss_mb"], out["rss_mb"] = peak_rss_mb(proc)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=100_000)
    ap.add_argument("--variants", type=int, default=4)
    ap.add_argument("--switches", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=3, help="fresh servers per way of opening the page")
    args = ap.parse_args()
    print(f"machine load average before the bench: {os.getloadavg()[0]:.1f}")
    ways = (("nav", "from the sidebar", True), ("load", "loading its URL", True),
            ("cold", "URL, server just up", False))
    with tempfile.TemporaryDirectory() as tmp:
        empty = str(Path(tmp) / "empty.duckdb")
        with store.connect(empty):
            pass
        empty_ready = '[data-testid="stAlert"]'  # "No runs yet": the page's own cost
        baseline = {key: [measure(empty, "nav" if key == "nav" else "load", 0, empty_ready, settle)
                          for _ in range(args.repeat)] for key, _, settle in ways}
        db = str(Path(tmp) / "bench.duckdb")
        t = time.perf_counter()
        build(db, args.items, args.variants)
        print(f"set-up: {args.items:,} items x {args.variants} variants written in {time.perf_counter() - t:.1f} s")
        runs = {key: [measure(db, "nav" if key == "nav" else "load", args.switches if (key == "nav" and k == 0)
                              else 0, GRID, settle, leaderboard=key == "nav") for k in range(args.repeat)]
                for key, _, settle in ways}
    print(f"median of {args.repeat} fresh servers each (machine load average now: {os.getloadavg()[0]:.1f})")
    for key, how, _ in ways:
        med = {k: statistics.median(r[k] for r in runs[key]) for k in ("first_s", "first_cpu_s", "first_browser_s",
                                                                       "whole_s")}
        base = {k: statistics.median(r[k] for r in baseline[key]) for k in ("first_s", "first_cpu_s",
                                                                            "first_browser_s")}
        print(f"grid first paint, {how:20s} {med['first_s']:.2f} s   ratio to goal 2 s: {med['first_s'] / 2.0:.2f}"
              f"   CPU: Streamlit {med['first_cpu_s']:.2f} s, Chromium {med['first_browser_s']:.2f} s;"
              f" whole page (chart drawn) {med['whole_s']:.2f} s   (empty Compare page the same way:"
              f" {base['first_s']:.2f} s, CPU {base['first_cpu_s']:.2f} s + {base['first_browser_s']:.2f} s)")
    m = runs["nav"][0]
    print(f"page switch (median)  {m['switch_s']:.3f} s  ratio to goal 0.5 s: {m['switch_s'] / 0.5:.2f}"
          f"   (slowest of {args.switches}: {m['switch_max_s']:.3f} s, ratio {m['switch_max_s'] / 0.5:.2f}; "
          f"Streamlit's CPU per switch {m['switch_cpu_s']:.3f} s)")
    board = {k: statistics.median(r[k] for r in runs["nav"]) for k in ("leaderboard_s", "leaderboard_cpu_s",
                                                                      "leaderboard_browser_s")}
    print(f"leaderboard first paint, from the sidebar {board['leaderboard_s']:.2f} s   ratio to goal 2 s: "
          f"{board['leaderboard_s'] / 2.0:.2f}   CPU: Streamlit {board['leaderboard_cpu_s']:.2f} s, "
          f"Chromium {board['leaderboard_browser_s']:.2f} s")
    peak = max(r["peak_rss_mb"] for r in runs["nav"])
    base_peak = max(r["peak_rss_mb"] for r in baseline["nav"])
    print(f"streamlit RSS         peak {peak:.0f} MB (Compare, page switches, Leaderboard), ratio to goal 600 MB: "
          f"{peak / 600:.2f}; after them {m['rss_mb']:.0f} MB; on an empty database: peak {base_peak:.0f} MB")


if __name__ == "__main__":
    main()

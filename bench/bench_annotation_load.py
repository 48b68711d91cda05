"""Team annotation under load: N raters (1, 6, 12) rating one claim-on-demand pairwise session at once in real
Chromium pages against `streamlit run` (the app a team uses), each clicking "A is better" as soon as an item shows.

Reported per N:
- server CPU per rating: the Streamlit server process's CPU time (user + system, /proc via psutil) over the
  rating phase (after every page has loaded and the server is idle), divided by the ratings stored; also net of
  what the idle server burns by itself (measured for 3 s before the clicks: Streamlit's file pollers). Goal <= 30 ms.
- click-to-next-item p50/p95, twice. In the browsers: from the click to the next item's heading in the page,
  which includes the pages' own work (12 Chromium renderers share one core here). On the server, with the
  browsers' CPU excluded: the app logs (WORKBENCH_ANNOTATE_TIMING) the seconds from the click's callback to the
  next item drawn, for every click; the server is pinned to CPU 0 and this process (with Playwright's driver
  and Chromium, which inherit it) to CPU 1, so the browsers cannot slow the server down either. Goal with 12
  raters: p95 <= 1 s (server figure).
- first load: from opening the link to the first item, all pages opening at once (p50 / max).
- stored / lost / duplicate: ratings in the database; clicks the page moved on from whose rating is missing;
  items rated more than once (k=1). Goal 0 lost, 0 duplicates, and the session completes (every item rated).

    .venv/bin/python bench/bench_annotation_load.py [--raters 1,6,12] [--items-per-rater 10]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.annotation_runs import make_runs  # noqa: E402
from tests.browser import CHROMIUM_FLAGS, app_server  # noqa: E402
from workbench import store  # noqa: E402
from workbench.rating import annotation as an  # noqa: E402

VARIANTS = [("support_few_shot", "openai:one"), ("support_persona", "openai:two"), ("support_zero_shot", "openai:three")]


def server_process(url: str) -> psutil.Process:
    port = int(url.rsplit(":", 1)[1])
    for p in psutil.Process().children(recursive=True):
        try:
            if any(c.laddr.port == port and c.status == psutil.CONN_LISTEN for c in p.net_connections()):
                return p
        except psutil.Error:
            continue
    raise RuntimeError("no streamlit server process found")


def cpu_seconds(p: psutil.Process) -> float:
    t = p.cpu_times()
    return t.user + t.system


async def rater(browser, url: str, sid: str, name: str, loaded: asyncio.Event, go: asyncio.Event, out: dict):
    page = await browser.new_page(viewport={"width": 1300, "height": 1400})
    page.set_default_timeout(300_000)  # 12 first loads on 2 shared cores took over 120 s
    began = time.monotonic()
    heading = page.get_by_role("heading", name="Item ")
    done = page.get_by_text("All your items are rated")
    try:
        await page.goto(f"{url}/?session={sid}&annotator={name}")
        await heading.or_(done).first.wait_for()
    except Exception as e:  # noqa: BLE001 - counted; the others must not wait for this rater forever
        out["failed"].append(f"{name}: {type(e).__name__}: {str(e)[:200]}")
        loaded.set()
        await page.close()
        return
    out["load"].append(time.monotonic() - began)
    loaded.set()
    await go.wait()
    while await heading.count():
        before = await heading.first.inner_text()
        t0 = time.monotonic()
        await page.get_by_role("button", name="A is better").click()
        # the next item, or the end: the heading text changes or the thank-you shows
        await page.wait_for_function(
            """(before) => { const h = [...document.querySelectorAll('h3')].map(e => e.innerText);
                             return !h.some(t => t.startsWith(before)) ||
                                    document.body.innerText.includes('All your items are rated'); }""",
            arg=before.strip(), polling=20)
        out["latency"].append(time.monotonic() - t0)
        out["clicks"][name] = out["clicks"].get(name, 0) + 1
        if await done.count():
            break
    await page.close()


async def settle(server: psutil.Process, quiet: float = 0.02, most: float = 60) -> None:
    """Wait until the server uses under `quiet` CPU-seconds per second."""
    deadline = time.monotonic() + most
    last = cpu_seconds(server)
    while time.monotonic() < deadline:
        await asyncio.sleep(1.0)
        now = cpu_seconds(server)
        if now - last < quiet:
            return
        last = now


async def drive(url: str, sid: str, n: int, out: dict) -> float:
    from playwright.async_api import async_playwright

    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=exe, args=CHROMIUM_FLAGS, headless=True)
        server = server_process(url)
        load0 = cpu_seconds(server)
        go = asyncio.Event()
        loaded = [asyncio.Event() for _ in range(n)]
        tasks = [asyncio.create_task(rater(browser, url, sid, f"rater{i}", loaded[i], go, out)) for i in range(n)]
        await asyncio.gather(*(e.wait() for e in loaded))
        out["load_cpu"] = cpu_seconds(server) - load0  # the server's share of the first loads
        await settle(server)  # the app's background warm-up (imports for other pages) is not a rating's work
        idle0 = cpu_seconds(server)
        await asyncio.sleep(3)
        out["idle_rate"] = (cpu_seconds(server) - idle0) / 3  # Streamlit's own pollers, with nobody clicking
        cpu0, t0 = cpu_seconds(server), time.monotonic()
        go.set()
        await asyncio.gather(*tasks)
        out["wall"] = time.monotonic() - t0
        cpu = cpu_seconds(server) - cpu0
        await browser.close()
    return cpu


def one(n: int, items_per_rater: int, tmp: Path) -> dict:
    db = str(tmp / f"load{n}.duckdb")
    rows = max(4, -(-items_per_rater * n // 3))  # 3 variants: 3 pairs per row
    runs = make_runs(db, VARIANTS, n_rows=rows)
    with store.connect(db) as con:
        sid = an.create_session(con, an.SessionSpec(runs, pairwise=True, k=1, seed=n))
        n_items = store.get_session(con, sid)["n_items"]
    out: dict = {"load": [], "latency": [], "clicks": {}, "failed": []}
    timing = tmp / f"timing{n}.txt"
    with app_server(db, env={"WORKBENCH_ANNOTATE_TIMING": str(timing)}) as url:
        server = server_process(url)
        if hasattr(os, "sched_setaffinity") and os.cpu_count() and os.cpu_count() >= 2:
            server.cpu_affinity([0])
            os.sched_setaffinity(0, {1})
        cpu = asyncio.run(drive(url, sid, n, out))
    with store.connect(db) as con:
        per_item = con.execute("SELECT item_idx, count(*) FROM ratings WHERE session_id = ? GROUP BY 1",
                               [sid]).fetchall()
        per_rater = dict(con.execute("SELECT annotator, count(*) FROM ratings WHERE session_id = ? GROUP BY 1",
                                     [sid]).fetchall())
    stored = sum(c for _, c in per_item)
    lat = sorted(out["latency"])
    served = sorted(float(x) for x in timing.read_text().split()) if timing.exists() else [float("nan")]
    return {
        "raters": n, "items": n_items, "stored": stored,
        "lost": sum(max(0, c - per_rater.get(r, 0)) for r, c in out["clicks"].items()),
        "duplicates": sum(1 for _, c in per_item if c > 1), "complete": stored == n_items and len(per_item) == n_items,
        "cpu_ms_per_rating": 1000 * cpu / max(stored, 1),
        "net_cpu_ms_per_rating": 1000 * (cpu - out["idle_rate"] * out["wall"]) / max(stored, 1),
        "p50_s": statistics.median(lat) if lat else float("nan"),
        "p95_s": lat[min(len(lat) - 1, int(0.95 * len(lat)))] if lat else float("nan"),
        "server_p50_s": statistics.median(served), "server_p95_s": served[min(len(served) - 1, int(0.95 * len(served)))],
        "first_load_p50_s": statistics.median(out["load"] or [float("nan")]),
        "first_load_max_s": max(out["load"] or [float("nan")]),
        "first_load_server_cpu_s": out["load_cpu"] / max(len(out["load"]), 1),
        "wall_s": out["wall"], "failed": out["failed"],
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--raters", default="1,6,12")
    ap.add_argument("--items-per-rater", type=int, default=10)
    args = ap.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in (int(x) for x in args.raters.split(",")):
            r = one(n, args.items_per_rater, Path(tmp))
            results.append(r)
            print(f"{n:>2} raters, {r['items']} items: stored {r['stored']}, lost {r['lost']}, duplicates "
                  f"{r['duplicates']}, complete {r['complete']}; server CPU {r['cpu_ms_per_rating']:.1f} ms/rating, "
                  f"{r['net_cpu_ms_per_rating']:.1f} without the idle server's own "
                  f"(goal 30: {r['cpu_ms_per_rating'] / 30:.2f}); click-to-next p50 {r['p50_s']:.3f} s, "
                  f"p95 {r['p95_s']:.3f} s in the browsers; on the server p50 {r['server_p50_s']:.3f} s, p95 "
                  f"{r['server_p95_s']:.3f} s (goal 1 s: {r['server_p95_s']:.2f}); first load p50 "
                  f"{r['first_load_p50_s']:.1f} s, max {r['first_load_max_s']:.1f} s (server CPU per first load "
                  f"{r['first_load_server_cpu_s']:.2f} s); rating phase {r['wall_s']:.1f} s; raters whose page "
                  f"never loaded {len(r['failed'])}", flush=True)
            for why in r["failed"]:
                print("   ", why, flush=True)
    ok = all(r["lost"] == 0 and r["duplicates"] == 0 and r["complete"] and not r["failed"] for r in results)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""The database work of one rating click on the Annotate page, in CPU time: record the rating, draw the next
item (claim), read the progress, through a lingering connection as the page does (one transaction,
annotation.rate_and_next; a checkout without it: the three units of work it replaced). No Streamlit and no
browser, so nothing else's CPU is counted.

    .venv/bin/python bench/bench_rating_click_cpu.py [--clicks 60] [--rounds 3] [--baseline /path/to/checkout]

With --baseline, the same measurement runs alternately with another checkout's `workbench` (e.g. main before
a change) and the ratio branch / baseline is printed per round (the machine is shared: compare within a round).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VARIANTS = [("support_few_shot", "openai:one"), ("support_persona", "openai:two"), ("support_zero_shot", "openai:three")]


def measure(clicks: int) -> dict[str, float]:
    """CPU ms per click of each part, with the workbench importable from the current directory."""
    sys.path.insert(0, os.getcwd())
    from tests.annotation_runs import make_runs
    from workbench import store
    from workbench.rating import annotation as an

    db = str(Path(tempfile.mkdtemp()) / "click.duckdb")
    runs = make_runs(db, VARIANTS, n_rows=max(4, clicks // 3 + 2))
    with store.connect(db) as con:
        sid = an.create_session(con, an.SessionSpec(runs, pairwise=True, k=1, seed=1))
        data = an.load_session(con, sid)
    if hasattr(an, "rate_and_next"):  # one transaction per click (this tree); an older checkout: three units
        return _one_transaction(db, sid, data, clicks)
    parts = dict.fromkeys(("record", "next", "progress"), 0.0)
    with store.connect(db, linger=1.0) as con:
        item = an.next_item(con, sid, "ann", data)
    for _ in range(clicks):
        t = time.process_time()
        with store.connect(db, linger=1.0) as con:  # the button's callback
            an.record_rating(con, sid, item.item_idx, "ann", "A", None, [], session=data.info)
        parts["record"] += time.process_time() - t
        t = time.process_time()
        with store.connect(db, linger=1.0) as con:  # the panel's rerun
            item = an.next_item(con, sid, "ann", data)
            parts["next"] += time.process_time() - t
            t = time.process_time()
            an.progress(con, sid, "ann", before=item.item_idx, session=data.info)
            parts["progress"] += time.process_time() - t
    out = {k: 1000 * v / clicks for k, v in parts.items()}
    out["total"] = sum(out.values())
    return out


def _one_transaction(db: str, sid: str, data, clicks: int) -> dict[str, float]:
    """The click as the page makes it now: the callback's rate_and_next, which the panel's rerun draws."""
    from workbench import store
    from workbench.rating import annotation as an

    with store.connect(db, linger=1.0) as con:
        item, _progress = an.rate_and_next(con, data, "ann")
    t = time.process_time()
    for _ in range(clicks):
        with store.connect(db, linger=1.0) as con:
            item, _progress = an.rate_and_next(con, data, "ann", item.item_idx, "A", None, [])
    return {"total": 1000 * (time.process_time() - t) / clicks}


def run_in(checkout: Path, clicks: int) -> dict[str, float]:
    code = f"import json, sys; sys.path.insert(0, {str(ROOT / 'bench')!r}); import bench_rating_click_cpu as b; " \
           f"print(json.dumps(b.measure({clicks})))"
    done = subprocess.run([sys.executable, "-c", code], cwd=checkout, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def parts(figures: dict[str, float]) -> str:
    named = [f"{k} {v:.1f}" for k, v in figures.items() if k != "total"]
    return f" ({', '.join(named)})" if named else " (one transaction)"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clicks", type=int, default=60)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--baseline", help="another checkout to measure alternately (its workbench/ and tests/)")
    args = ap.parse_args()
    for r in range(args.rounds):
        mine = run_in(ROOT, args.clicks)
        line = f"round {r + 1}: this tree {mine['total']:.1f} ms CPU per click{parts(mine)}"
        if args.baseline:
            base = run_in(Path(args.baseline), args.clicks)
            line += f"; baseline {base['total']:.1f} ms{parts(base)}; ratio {mine['total'] / base['total']:.2f}"
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

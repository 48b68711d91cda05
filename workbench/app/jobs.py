"""Background runs for the app: each job is a thread with its own asyncio loop running
`runner.execute`, so the page that started it can be left and revisited while it goes on.

Progress is read from the database (outputs stored per run against rows x repeats), not from the
thread, so runs started by the CLI or by another app process show up the same way. A job's Cancel
sets the Event the runner checks; the runner flushes what finished and marks its runs cancelled.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from dataclasses import dataclass, field

import pandas as pd

from workbench import store
from workbench.engine import runner
from workbench.errors import UserError
from workbench.providers import make_provider
from workbench.providers.keys import mask


@dataclass
class Job:
    id: str
    db: str
    plan: runner.Plan
    labels: list[str]  # "prompt@version × model" per variant
    cancel: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    error: str | None = None
    started: float = field(default_factory=time.time)
    finished: float | None = None

    @property
    def run_ids(self) -> list[str]:
        """Known once the runs are created (right after the job starts)."""
        return [v.run_id for v in self.plan.variants if v.run_id]

    @property
    def alive(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def wait(self, timeout: float | None = None) -> bool:
        if self.thread is not None:
            self.thread.join(timeout)
        return not self.alive


class Jobs:
    """The live jobs of one process (the app keeps one instance in st.cache_resource)."""

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def start(self, plan: runner.Plan, db: str | None = None, concurrency: int | None = None) -> Job:
        job = Job(uuid.uuid4().hex[:8], store.db_path(db), plan,
                  [f"{v.prompt.name}@{v.prompt.version[:8]} × {v.model_spec}" for v in plan.variants])
        created = threading.Event()
        job.thread = threading.Thread(target=self._run, args=(job, concurrency, created), daemon=True,
                                      name=f"workbench-job-{job.id}")
        with self._lock:
            self._jobs[job.id] = job
        job.thread.start()
        created.wait(30)  # so the caller sees the run ids (or the error) on its next read
        return job

    def _run(self, job: Job, concurrency: int | None, created: threading.Event) -> None:
        try:
            # A bad spec or a missing key must leave nothing behind: build every provider first.
            async def check() -> None:
                for spec in dict.fromkeys(v.model_spec for v in job.plan.variants):
                    await make_provider(spec, **job.plan.provider_options).aclose()

            asyncio.run(check())
            if not job.run_ids:  # a new plan (a resumed one has its runs)
                runner.create_runs(job.plan, job.db)
            created.set()
            asyncio.run(runner.execute(job.plan, job.db, concurrency=concurrency, cancel=job.cancel))
        except UserError as e:
            job.error = mask(e, None)
        except Exception as e:  # noqa: BLE001 - shown on the page; the runs are marked failed
            job.error = f"{type(e).__name__}: {mask(e)}"
            if job.run_ids:
                with store.connect(job.db) as con:
                    for run_id in job.run_ids:
                        store.set_status(con, run_id, "failed")
        finally:
            job.finished = time.time()
            created.set()

    def cancel(self, job_id: str) -> None:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is not None:
            job.cancel.set()

    def list(self) -> list[Job]:
        with self._lock:
            return sorted(self._jobs.values(), key=lambda j: j.started, reverse=True)

    def owner(self, run_id: str) -> Job | None:
        return next((j for j in self.list() if run_id in j.run_ids), None)


def progress(db: str | None = None, run_ids: list[str] | None = None) -> pd.DataFrame:
    """Every run (or the given ones), newest first: total, done, errors, fraction done, status."""
    with store.connect(db) as con:
        df = store.list_runs(con)
    if run_ids is not None:
        df = df[df["id"].isin(run_ids)]
    df = df.assign(total=df["n_rows"] * df["repeats"], done=df["n_outputs"], errors=df["n_errors"])
    df["fraction"] = (df["done"] / df["total"].where(df["total"] > 0)).fillna(0.0).clip(0, 1)
    return df.sort_values(["created_at", "id"], ascending=False).reset_index(drop=True)

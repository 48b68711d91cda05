"""The best-prompt bundle: the winning variant's prompt file, ready to ship and to run again.

The bundle is a valid prompt file (so `workbench eval prompts/NAME.best.yaml` works) whose
`params` are the ones the winning run used, headed by a comment block that is itself YAML: the
model spec, the dataset and its hash, the metric that decided, and every score of the winner and
the runs it beat. `read_bundle` parses both halves back.

Ranking: a quality metric's mean counts errored rows as 0 (an answer that never came is not a good
answer); a lower-is-better metric (latency) ranks by its mean over successful rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from workbench import store
from workbench.authoring.templates import Prompt, parse_prompt
from workbench.authoring.yaml_limits import load_yaml
from workbench.errors import UserError
from workbench.evaluation import analysis
from workbench.files import write_file
from workbench.metrics import LOWER_IS_BETTER

HEADER = "# workbench best-prompt bundle\n"


@dataclass
class Candidate:
    run_id: str
    prompt_name: str
    prompt_version: str
    model_spec: str
    effective: float  # the ranking value (see module doc)
    mean: float
    ci95: tuple[float, float]
    n: int
    error_rate: float
    scores: dict[str, dict[str, Any]]


@dataclass
class Bundle:
    filename: str
    text: str
    metadata: dict[str, Any]


def rank_runs(con, run_ids: list[str], metric: str) -> list[Candidate]:
    """The runs best first by `metric`; runs that never scored it are left out."""
    out = []
    for run_id in run_ids:
        s = analysis.summarize(con, run_id)
        m = next((x for x in s.metrics if x.metric == metric), None)
        if m is None or m.n == 0:
            continue
        error_rate = s.n_errors / s.n_outputs if s.n_outputs else 0.0
        effective = m.mean if metric in LOWER_IS_BETTER else m.mean * (1 - error_rate)
        scores = {x.metric: {"mean": round(x.mean, 4), "ci95": [round(x.ci_low, 4), round(x.ci_high, 4)], "n": x.n}
                  for x in s.metrics}
        out.append(Candidate(run_id, s.run["prompt_name"], s.run["prompt_hash"], s.run["model_spec"], effective,
                             m.mean, (m.ci_low, m.ci_high), m.n, error_rate, scores))
    out.sort(key=lambda c: c.effective, reverse=metric not in LOWER_IS_BETTER)
    return out


def build_bundle(con, run_ids: list[str], metric: str) -> Bundle:
    ranked = rank_runs(con, run_ids, metric)
    if not ranked:
        raise UserError(f"none of the chosen runs has {metric!r} scores", "metric")
    best = ranked[0]
    run = store.get_run(con, best.run_id)
    datasets = {store.get_run(con, c.run_id)["dataset_hash"] for c in ranked}
    if len(datasets) > 1:
        raise UserError("the chosen runs are on different datasets; pick the best among runs of one dataset", "runs")
    version = store.get_prompt_version(con, best.prompt_version)
    prompt = parse_prompt(version["content"], version["path"] or best.prompt_name)
    prompt.params = dict(run["params"])
    ds = store.get_dataset(con, run["dataset_hash"])
    metadata = {
        "model": best.model_spec,
        "params": dict(run["params"]),
        "prompt": {"name": best.prompt_name, "version": best.prompt_version},
        "dataset": {"name": ds["name"], "hash": ds["hash"], "rows": int(ds["n_rows"]), "lang": ds["lang"]},
        "chosen_by": {"metric": metric, "higher_is_better": metric not in LOWER_IS_BETTER,
                      "rule": "mean, errored rows counted as 0" if metric not in LOWER_IS_BETTER else "mean"},
        "run": best.run_id,
        "error_rate": round(best.error_rate, 4),
        "scores": best.scores,
        "beaten": [{"run": c.run_id, "prompt": f"{c.prompt_name}@{c.prompt_version[:8]}", "model": c.model_spec,
                    metric: round(c.effective, 4)} for c in ranked[1:]],
    }
    return Bundle(f"{_safe(prompt.name)}.best.yaml", render_bundle(prompt, metadata), metadata)


def render_bundle(prompt: Prompt, metadata: dict[str, Any]) -> str:
    head = yaml.safe_dump(metadata, sort_keys=False, allow_unicode=True, width=100, default_flow_style=None)
    return HEADER + "".join(f"# {line}\n" if line else "#\n" for line in head.splitlines()) + prompt.to_yaml()


def read_bundle(text: str, path: str = "<bundle>") -> tuple[dict[str, Any], Prompt]:
    """(metadata, prompt) of a bundle file."""
    if not text.startswith(HEADER):
        raise UserError("not a workbench bundle (no header)", path)
    head = []
    for line in text[len(HEADER):].splitlines():
        if not line.startswith("#"):
            break
        head.append(line[2:] if line.startswith("# ") else line[1:])
    return load_yaml("\n".join(head)) or {}, parse_prompt(text, path)


def write_bundle(bundle: Bundle, directory: str | Path) -> Path:
    """Write atomically into `directory` (the prompts directory); returns the path."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / bundle.filename
    write_file(path, bundle.text)
    return path


def _safe(name: str) -> str:
    return re.sub(r"[^\w.-]+", "_", name).strip("._") or "prompt"

"""examples/echo_plugin, installed for real (pip, offline, into a target folder): its dist-info's entry
points are what make `--model echo:any --metrics chars` work in a separate `workbench eval` process."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from tests.conftest import DATA_EN, ROOT, run_process
from workbench import store

EXAMPLE = ROOT / "examples" / "echo_plugin"


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """pip install --no-deps --no-build-isolation -t TARGET: a wheel is built from a copy of the example
    (setuptools is in the venv, nothing is downloaded) and installed with its dist-info."""
    work = tmp_path_factory.mktemp("echo")
    source = work / "src"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    target = work / "site"
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
                           "--quiet", "-t", str(target), str(source)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return target


def eval_echo(db: str, pythonpath: str):
    return run_process("eval", ROOT / "prompts" / "support_zero_shot.yaml", "--data", DATA_EN, "--model", "echo:any",
                       "--metrics", "chars", "--limit", "3", "--json",
                       env={"PYTHONPATH": pythonpath, "WORKBENCH_DB": db})


@pytest.mark.slow
def test_the_installed_plugin_runs_an_eval(installed, db):
    points = (next(installed.glob("workbench_echo-*.dist-info")) / "entry_points.txt").read_text()
    assert "echo = workbench_echo:EchoProvider" in points and "chars = workbench_echo:Chars" in points
    r = eval_echo(db, str(installed))
    assert r.returncode == 0, r.stderr
    run_id = json.loads(r.stdout)["runs"][0]["run_id"]
    questions = [json.loads(line)["question"] for line in DATA_EN.read_text(encoding="utf-8").splitlines()[:3]]
    with store.connect(db) as con:
        outputs = store.load_outputs(con, run_id)
        run = store.get_run(con, run_id)
    assert outputs["text"].tolist() == questions
    assert outputs["score_chars"].tolist() == [float(len(q)) for q in questions]
    assert run["metrics"] == [{"name": "chars"}] and run["signatures"] == {"chars": "chars|unit:chars"}


@pytest.mark.slow
def test_without_its_dist_info_the_package_is_not_a_plugin(installed, tmp_path, db):
    """The same module importable but not installed: no entry points, so no `chars` metric (checked
    first) and no `echo` kind."""
    bare = tmp_path / "bare"
    shutil.copytree(installed / "workbench_echo", bare / "workbench_echo")
    r = eval_echo(db, str(bare))
    assert r.returncode == 2 and "unknown metric 'chars'" in r.stderr, r.stderr

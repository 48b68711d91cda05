"""JUnit XML for CI systems (GitHub, GitLab, Jenkins show it natively): per run a test suite, with a test
case per gate and one per output that failed a check (its row, input and output in the failure text)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from workbench.evaluation.gates import FailedCheck, GateResult

MAX_TEXT = 2000  # characters of input and output quoted per failure


def _clip(text: str) -> str:
    text = "".join(ch for ch in str(text) if ch in "\t\n\r" or ord(ch) >= 32)  # XML 1.0 cannot hold the rest
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + f"... ({len(text) - MAX_TEXT} more characters)"


def junit_xml(results: list[GateResult], failures: list[FailedCheck], labels: dict[str, str]) -> str:
    """`labels`: run id -> what the suite is called (prompt x model)."""
    runs = list(dict.fromkeys([r.run_id for r in results] + [f.run_id for f in failures] + list(labels)))
    root = ET.Element("testsuites", name="workbench eval")
    total = failed = 0
    for run_id in runs:
        gates = [r for r in results if r.run_id == run_id]
        rows = [f for f in failures if f.run_id == run_id]
        n_fail = sum(not r.passed for r in gates) + len(rows)
        suite = ET.SubElement(root, "testsuite", name=f"{run_id} {labels.get(run_id, '')}".strip(),
                              tests=str(len(gates) + len(rows)), failures=str(n_fail), errors="0", skipped="0")
        for r in gates:
            case = ET.SubElement(suite, "testcase", classname=f"gates.{run_id}", name=r.gate.label)
            value = "none" if r.value is None else f"{r.value:.6g}"
            if not r.passed:
                ET.SubElement(case, "failure", message=f"{r.gate.label}: {value}",
                              type="gate").text = r.note or f"value {value} fails {r.gate.op} {r.gate.threshold:g}"
            else:
                ET.SubElement(case, "system-out").text = f"value {value}"
        for f in rows:
            case = ET.SubElement(suite, "testcase", classname=f"checks.{run_id}",
                                 name=f"row {f.row_idx}" + (f" repeat {f.repeat_idx}" if f.repeat_idx else ""))
            ET.SubElement(case, "failure", message=_clip("failed: " + ", ".join(f.checks)), type="check").text = (
                f"row: {f.row_idx}\nfailed: {_clip(', '.join(f.checks))}\n\ninput:\n{_clip(f.input)}\n\n"
                f"output:\n{_clip(f.output)}")
        total += len(gates) + len(rows)
        failed += n_fail
    root.set("tests", str(total))
    root.set("failures", str(failed))
    root.set("errors", "0")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_junit(path: str | Path, results: list[GateResult], failures: list[FailedCheck],
                labels: dict[str, str]) -> None:
    Path(path).write_text(junit_xml(results, failures, labels), encoding="utf-8")

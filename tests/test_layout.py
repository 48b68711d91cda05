"""The house rules that keep the package readable, checked on its source: no module over MAX_MODULE_LINES
lines and no function over MAX_FUNCTION_LINES, except the ones listed below with their reason."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "workbench"
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 80

# "path" or "path:function" -> why it may be longer. Keep this short: split instead where you can.
EXCEPTIONS: dict[str, str] = {}


def sizes(root: Path = PACKAGE) -> tuple[dict[str, int], dict[str, int]]:
    """Lines per module, and per function ("path:qualified.name"), under `root`."""
    modules, functions = {}, {}
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root.parent).as_posix()
        source = path.read_text(encoding="utf-8")
        modules[rel] = len(source.splitlines())
        _functions(ast.parse(source), rel, "", functions)
    return modules, functions


def _functions(node: ast.AST, rel: str, prefix: str, out: dict[str, int]) -> None:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            name = f"{prefix}{child.name}"
            if not isinstance(child, ast.ClassDef):
                first = min([child.lineno, *(d.lineno for d in child.decorator_list)])
                out[f"{rel}:{name}"] = child.end_lineno - first + 1
            _functions(child, rel, f"{name}.", out)
        else:
            _functions(child, rel, prefix, out)


def test_no_module_is_over_the_limit():
    modules, _ = sizes()
    over = {m: n for m, n in modules.items() if n > MAX_MODULE_LINES and m not in EXCEPTIONS}
    assert not over, f"modules over {MAX_MODULE_LINES} lines (split them, or list them in EXCEPTIONS): {over}"


def test_no_function_is_over_the_limit():
    _, functions = sizes()
    over = {f: n for f, n in functions.items() if n > MAX_FUNCTION_LINES and f not in EXCEPTIONS}
    assert not over, f"functions over {MAX_FUNCTION_LINES} lines (split them, or list them in EXCEPTIONS): {over}"


def test_every_exception_is_still_needed():
    modules, functions = sizes()
    stale = [k for k in EXCEPTIONS if (modules if ":" not in k else functions).get(k, 0)
             <= (MAX_MODULE_LINES if ":" not in k else MAX_FUNCTION_LINES)]
    assert not stale, f"listed in EXCEPTIONS but within the limits now: {stale}"


def test_the_checker_sees_long_functions_and_modules(tmp_path):
    pkg = tmp_path / "workbench"
    pkg.mkdir()
    body = "\n".join(f"        x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    (pkg / "long.py").write_text(f"class A:\n    @staticmethod\n    def f():\n{body}\n" + "\n" * MAX_MODULE_LINES)
    modules, functions = sizes(pkg)
    assert functions == {"workbench/long.py:A.f": MAX_FUNCTION_LINES + 2}
    assert modules["workbench/long.py"] > MAX_MODULE_LINES

"""Import boundaries (issue 16): the layers of ``.importlinter`` hold, and no function-local import
of the project's own modules hides a dependency (DESIGN.md: a function-local import is acceptable
only for a genuinely optional or heavy third-party library, never to dodge a cycle).

The allowlist below holds only the justified exceptions (boot order, AppConfig.ready); a new
function-level import of a first-party module fails the test, and so does a stale entry.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPS = ("backend", "modalities", "plans", "scheduling", "billing", "api", "dashboard")
FIRST_PARTY = {*APPS, "notifications", "tests", "bench"}

# "module -> imported module" of each function-level import of a first-party module.
ALLOWED_FUNCTION_LEVEL_IMPORTS: dict[str, set[str]] = {
    # Justified, stays: backend/__init__ loads the Celery app before Django is configured, and
    # backend.health needs Django (settings, the database) — boot order, not a cycle. An
    # AppConfig.ready() is where Django says app registries are filled (the plans port, the
    # protocol spec cache's signals, which need the catalogue models).
    "justified": {
        "backend.celery -> backend.health",
        "modalities.apps -> modalities.spec_cache",
        "scheduling.apps -> plans.ports",
        "scheduling.apps -> scheduling.selectors",
    },
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _absolute(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    base = base[: len(base) - node.level + (1 if is_package else 0)]
    return ".".join([*base, *([node.module] if node.module else [])])


def _imported(target: str, node: ast.ImportFrom) -> set[str]:
    """What ``from target import a, b`` imports: the submodule ``target.a`` where ``a`` is one,
    else ``target`` itself."""
    names: set[str] = set()
    for alias in node.names:
        submodule = ROOT.joinpath(*target.split("."), alias.name)
        is_module = submodule.with_suffix(".py").is_file() or (submodule / "__init__.py").is_file()
        names.add(f"{target}.{alias.name}" if is_module else target)
    return names


def _app_modules() -> list[Path]:
    return [
        path
        for app in APPS
        for path in sorted((ROOT / app).rglob("*.py"))
        if "migrations" not in path.relative_to(ROOT).parts
    ]


def function_level_imports(path: Path) -> set[str]:
    """``module -> imported`` for each import of a first-party module inside a function."""
    module = _module_name(path)
    is_package = path.name == "__init__.py"
    found: set[str] = set()

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if in_function and isinstance(child, ast.Import):
                found.update(
                    f"{module} -> {alias.name}"
                    for alias in child.names
                    if alias.name.split(".")[0] in FIRST_PARTY
                )
            elif in_function and isinstance(child, ast.ImportFrom):
                target = _absolute(module, is_package, child)
                if target.split(".")[0] in FIRST_PARTY:
                    found.update(f"{module} -> {name}" for name in _imported(target, child))
            visit(child, inner)

    visit(ast.parse(path.read_text(), filename=str(path)), False)
    return found


def test_no_function_level_import_of_a_first_party_module_beyond_the_allowlist():
    # given every app module (not tests, migrations or benchmarks)
    found = set().union(*(function_level_imports(path) for path in _app_modules()))
    allowed = set().union(*ALLOWED_FUNCTION_LEVEL_IMPORTS.values())
    # then the function-level imports of the project's own modules are exactly the allowlist:
    # a new one is a dependency hidden from the module's head (move it up, or invert it through
    # a port); one that is gone must leave the allowlist too
    assert sorted(found - allowed) == [], "new function-level imports"
    assert sorted(allowed - found) == [], "gone: remove them from the allowlist"


def test_the_scan_sees_relative_and_nested_imports(tmp_path, monkeypatch):
    # given a package module with a relative import inside a method of a class
    package = tmp_path / "plans"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "access.py").write_text("")
    source = "import os\n\nclass A:\n    def f(self):\n        from .models import X\n"
    source += "        from . import access\n        import json\n"
    (package / "thing.py").write_text(source)
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    # then it is found under its absolute name, and the standard library is not
    assert function_level_imports(package / "thing.py") == {
        "plans.thing -> plans.models",
        "plans.thing -> plans.access",
    }


def test_import_linter_contracts_are_kept():
    # the layers (backend ← notifications ← modalities ← plans ← scheduling ← billing ← api ←
    # dashboard) and "apps never import tests or bench"; function-level imports count too
    lint_imports = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run(
        [str(lint_imports), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout

"""Domain errors know nothing of HTTP (issue 16 part 3): no module below the interfaces imports
DRF, and the HTTP status of each domain error class is decided in ``api.errors``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from api.errors import domain_status
from backend.errors import ConflictError, DomainError, InvalidInput, NotFoundError

ROOT = Path(__file__).resolve().parents[2]
DOMAIN_PACKAGES = ("backend", "notifications", "modalities", "plans", "scheduling", "billing")


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):  # function-local imports count too
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
    return found


def test_no_domain_module_imports_rest_framework():
    offenders = []
    for package in DOMAIN_PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            bad = sorted(m for m in _imported_modules(path) if m.split(".")[0] == "rest_framework")
            if bad:
                offenders.append(f"{path.relative_to(ROOT)}: {', '.join(bad)}")
    assert not offenders, "\n".join(offenders)


def test_the_check_sees_a_function_local_import(tmp_path):
    # given: a module that imports DRF inside a function
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from rest_framework import status\n")
    # then: the walk finds it
    assert "rest_framework" in _imported_modules(module)


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (ConflictError("c", "m"), 409),
        (InvalidInput("c", "m"), 400),
        (NotFoundError(), 404),
        (DomainError("c", "m"), 409),
    ],
)
def test_each_domain_error_class_has_its_status_in_api(error, status):
    assert domain_status(error) == status


def test_a_subclass_takes_its_nearest_base_status():
    class _StaleVersion(InvalidInput):
        pass

    assert domain_status(_StaleVersion("stale", "m")) == 400
    assert not hasattr(_StaleVersion("stale", "m"), "status_code")

"""Every plans-area endpoint × every persona (issue 3 acceptance 6), and a coverage test that
fails when any /api/v1/ route lacks a case (other areas add theirs through tests.api.matrix)."""

from __future__ import annotations

import importlib
import re

import pytest
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver

from tests.api import matrix
from tests.api.matrix import CASES, Case, build_world, params, run_case

pytestmark = pytest.mark.django_db

#: modules whose ``CASES`` (and optional ``EXEMPT_ROUTES``) join the coverage check
CASE_MODULES = (
    "tests.api.matrix",
    "tests.api.test_permission_matrix_scheduling",
    "tests.api.test_permission_matrix_billing",
)
_METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture
def matrix_world(catalogue):
    return build_world()


@pytest.mark.parametrize("case", CASES, ids=str)
def test_plans_permission_matrix(case: Case, matrix_world):
    """Each case × all 8 personas on one world; every persona's request runs in a savepoint
    that is rolled back, so personas see the same state (and the world is built once)."""
    failures: list[str] = []
    for persona in matrix.PERSONAS:
        with transaction.atomic():
            try:
                run_case(case, persona, matrix_world)
            except AssertionError as exc:
                failures.append(str(exc).splitlines()[0])
            transaction.set_rollback(True)
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize(("case", "persona"), params(CASES[:2]))
def test_harness_runs_one_persona_per_test(case: Case, persona: str, matrix_world):
    # the per-(case, persona) form other areas use
    run_case(case, persona, matrix_world)


def test_profiles_keep_the_promises():
    # anonymous is always 401; another organisation never gets a 403 (it would confirm the
    # object exists) — object endpoints answer it 404
    for case in CASES:
        assert case.expect["anonymous"] == "401", case
        assert case.expect["coordinator_other_org"] in ("404", "ok"), case
        assert set(case.expect) == set(matrix.PERSONAS), case


def _api_routes() -> dict[str, set[str]]:
    """``{url name: {methods}}`` for every route under /api/v1/."""
    routes: dict[str, set[str]] = {}

    def walk(patterns, prefix: str, namespace: str) -> None:
        for p in patterns:
            if isinstance(p, URLResolver):
                ns = (
                    f"{namespace}:{p.namespace}"
                    if p.namespace and namespace
                    else (p.namespace or namespace)
                )
                walk(p.url_patterns, prefix + str(p.pattern), ns)
            elif isinstance(p, URLPattern) and (prefix + str(p.pattern)).startswith("api/v1/"):
                name = f"{namespace}:{p.name}" if namespace else str(p.name)
                callback = p.callback
                actions = getattr(callback, "actions", None)
                if actions:
                    # DRF adds "head" to a viewset's actions on its first request: HEAD mirrors
                    # GET, so whether it shows must not depend on which test ran first
                    methods = set(actions) - {"head"}
                else:
                    view = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
                    methods = {m for m in _METHODS if view is not None and hasattr(view, m)}
                routes.setdefault(name, set()).update(methods)

    walk(get_resolver().url_patterns, "", "")
    return routes


def _exists(module_name: str) -> bool:
    try:
        importlib.import_module(module_name)
    except ModuleNotFoundError:
        return False
    return True


def _covers(case, world) -> tuple[str, str]:
    """(url name, method) of a case: a harness ``Case``, or a plain tuple
    ``(name, method, url template with {placeholders}, body, expected)``."""
    if isinstance(case, Case):
        return matrix.view_name(case.url(world)), case.method
    _, method, template, *_ = case
    url = re.sub(r"\{[^}]+\}", "1", template)
    return matrix.view_name(url), method


def test_every_api_route_and_method_has_a_matrix_case(matrix_world):
    cases: list[Case] = []
    exempt: set[str] = set()
    for module_name in CASE_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError:
            continue
        cases += getattr(module, "CASES", [])
        exempt |= set(getattr(module, "EXEMPT_ROUTES", ()))
    covered: set[tuple[str, str]] = set()
    for case in cases:
        covered.add(_covers(case, matrix_world))
    for module_name in CASE_MODULES:  # routes a module checks outside CASES ("GET api:name")
        module = importlib.import_module(module_name) if _exists(module_name) else None
        for entry in getattr(module, "COVERED_ROUTES", ()):
            method, name = entry.split(" ", 1)
            covered.add((name, method.lower()))
    missing = sorted(
        f"{method.upper()} {name}"
        for name, methods in _api_routes().items()
        if name not in exempt
        for method in methods
        if (name, method) not in covered
    )
    assert not missing, "routes without a permission-matrix case:\n  " + "\n  ".join(missing)

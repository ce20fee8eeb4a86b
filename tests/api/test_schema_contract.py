"""The OpenAPI schema documents every error an operation can answer with (issue 12, item 1).

- every operation: 401/403 when it needs a login, 400 when it takes input, 404 when the path
  names an object, 413/415 with a body, 429 when throttled — each with the error shape whose
  ``code`` is an enum;
- every domain code a view can raise (read from the code of the services it calls, statically)
  is declared in the view's ``error_codes`` and so appears in the enum of its status;
- the runtime guard (``ContractCheckMiddleware``, test settings) fails a request whose error
  answer the schema does not document.
"""

from __future__ import annotations

import ast
import importlib
import inspect
from functools import cache
from pathlib import Path

import pytest
from drf_spectacular.generators import SchemaGenerator

from api.schema import undocumented_error

ROOT = Path(__file__).resolve().parents[2]
FOLLOWED = ("plans", "scheduling", "modalities", "api", "backend.errors")
PLATFORM_ENUM = "ErrorCode"  # backend.errors.ErrorCode: documented by default per status


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator(urlconf="backend.urls").get_schema(request=None, public=True)


def _operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield path, method.upper(), operation


def _codes(response) -> list[str]:
    body = response["content"]["application/json"]["schema"]
    assert set(body["required"]) == {"code", "message", "fields"}
    return body["properties"]["code"]["enum"]


def test_every_operation_documents_its_error_statuses_with_the_error_shape(schema):
    problems = []
    for path, method, operation in _operations(schema):
        responses = operation["responses"]
        public = operation.get("security") == [] or {} in operation.get("security", [{}])
        expected = set()
        if not public:
            expected |= {"401", "403"}
        if "{" in path:
            expected.add("404")
        if "requestBody" in operation:
            expected |= {"400", "413", "415"}
        if any(p["in"] == "query" for p in operation.get("parameters", [])):
            expected.add("400")
        missing = expected - set(responses)
        if missing:
            problems.append(f"{method} {path}: no {sorted(missing)}")
        for status, response in responses.items():
            if int(status) >= 400 and "content" in response:
                assert _codes(response), f"{method} {path} {status}: empty code enum"
    assert not problems, "\n".join(problems)


def test_throttled_token_endpoint_documents_429(schema):
    responses = schema["paths"]["/api/v1/auth/token/"]["post"]["responses"]
    assert _codes(responses["429"]) == ["throttled"]


def test_declared_domain_codes_are_the_enum_of_their_status(schema):
    # given: the activate view declares its 409 codes
    responses = schema["paths"]["/api/v1/plans/{id}/activate/"]["post"]["responses"]
    # then: the 409 enum is exactly those, and 400/401/403/404 keep their platform codes
    assert _codes(responses["409"]) == ["illegal_transition", "plan_has_no_components"]
    assert _codes(responses["404"]) == ["not_found"]
    assert _codes(responses["401"]) == ["authentication_failed", "not_authenticated"]
    check_in = schema["paths"]["/api/v1/sessions/{id}/check-in/"]["post"]["responses"]
    assert "readiness_gate_blocked" in _codes(check_in["409"])


def test_query_parameters_carry_their_bounds(schema):
    parameters = {p["name"]: p for p in schema["paths"]["/api/v1/plans/"]["get"]["parameters"]}
    assert parameters["page_size"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 200}
    assert parameters["page"]["schema"]["minimum"] == 1
    assert set(parameters["status"]["schema"]["enum"]) >= {"draft", "active", "revoked"}


def test_times_are_documented_as_sent(schema):
    opens = schema["components"]["schemas"]["ClinicHours"]["properties"]["opens"]
    assert "format" not in opens  # RFC 3339 full-time needs an offset; "08:00:00" has none
    import re

    assert re.match(opens["pattern"], "08:00:00")
    assert re.match(opens["pattern"], "08:00")
    assert not re.match(opens["pattern"], "25:00")


# --- static: the codes a view's services raise are declared on the view -----------------------


@cache
def _module_tree(name: str) -> tuple[ast.Module, dict[str, str]]:
    module = importlib.import_module(name)
    tree = ast.parse(inspect.getsource(module))
    imports: dict[str, str] = {}  # local name → "module" or "module:attr"
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                imports[alias.asname or alias.name] = f"{node.module}:{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                imports[alias.asname or alias.name] = alias.name
    return tree, imports


def _is_enum_name(module: str, name: str) -> str | None:
    """The enum class a local name refers to, when it is an ``*ErrorCode`` enum."""
    _, imports = _module_tree(module)
    target = imports.get(name, f"{module}:{name}")
    attr = target.split(":")[-1]
    return attr if attr.endswith("ErrorCode") else None


def _resolve(module: str, node: ast.expr) -> tuple[str, str] | None:
    """A called expression → (module, function) when it is a followed function."""
    _, imports = _module_tree(module)
    if isinstance(node, ast.Name):
        target = imports.get(node.id)
        if target is None:
            return (module, node.id)
        if ":" in target:
            mod, attr = target.split(":")
            # ``from plans import services`` → a module, not a function
            try:
                importlib.import_module(f"{mod}.{attr}")
                return None
            except ModuleNotFoundError:
                return (mod, attr)
        return None
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        target = imports.get(node.value.id)
        if target is None:
            return None
        mod = target.replace(":", ".")
        return (mod, node.attr)
    return None


def _function(module: str, name: str) -> tuple[str, ast.AST] | None:
    """Find ``name`` in ``module`` (following package re-exports such as plans.services)."""
    if not module.startswith(FOLLOWED):
        return None
    try:
        tree, imports = _module_tree(module)
    except (ModuleNotFoundError, TypeError, OSError):
        return None
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef) and node.name == name:
            return module, node
    target = imports.get(name)
    if target and ":" in target:
        mod, attr = target.split(":")
        if mod.startswith("."):
            return None
        return _function(mod, attr)
    return None


def _codes_raised(module: str, node: ast.AST, seen: set) -> set[str]:
    codes: set[str] = set()
    for sub in ast.walk(node):
        if (
            isinstance(sub, ast.Attribute)
            and isinstance(sub.value, ast.Name)
            and (enum := _is_enum_name(module, sub.value.id))
            and enum != PLATFORM_ENUM
        ):
            codes.add(sub.attr.lower())
        # calls and references alike (``service = staticmethod(services.activate_plan)``)
        if isinstance(sub, ast.Name | ast.Attribute):
            callee = _resolve(module, sub)
            if callee and callee not in seen:
                seen.add(callee)
                found = _function(*callee)
                if found:
                    codes |= _codes_raised(found[0], found[1], seen)
    return codes


def _api_views():
    views = [*(ROOT / "api").glob("*/views.py"), *(ROOT / "api").glob("*/views/[!_]*.py")]
    for path in sorted(views):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        module = importlib.import_module(name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == name and hasattr(cls, "as_view"):
                yield name, cls


# The analysis over-approximates (it follows every branch); where a code is unreachable from a
# view, say why here rather than documenting an answer the view never gives.
UNREACHABLE = {
    (view, "plan_has_no_components"): "only draft → active checks components (_transition)"
    for view in ("PlanHoldView", "PlanResumeView", "PlanCompleteView", "PlanRevokeView")
}


def test_every_domain_code_a_view_can_raise_is_declared():
    problems = []
    for module, cls in _api_views():
        raised: set[str] = set()
        for klass in cls.__mro__:
            if not klass.__module__.startswith("api."):
                continue
            found = _function(klass.__module__, klass.__name__)
            if found:
                raised |= _codes_raised(found[0], found[1], set())
        declared = {str(c) for codes in getattr(cls, "error_codes", {}).values() for c in codes}
        missing = {c for c in raised - declared if (cls.__name__, c) not in UNREACHABLE}
        if missing:
            problems.append(f"{module}.{cls.__name__}: raises {sorted(missing)} undeclared")
    assert not problems, "\n".join(problems)


# --- runtime guard ----------------------------------------------------------------------------


def test_guard_names_an_undocumented_code():
    # given: activate documents 409 illegal_transition / plan_has_no_components
    # when: an answer carries a 409 code it does not document
    problem = undocumented_error("POST", "/api/v1/plans/7/activate/", 409, "slot_conflict")
    # then: the guard says which operation and which code
    assert problem
    assert "slot_conflict" in problem
    assert "error_codes" in problem
    assert (
        undocumented_error("POST", "/api/v1/plans/7/activate/", 409, "illegal_transition") is None
    )
    assert "status it does not document" in (
        undocumented_error("GET", "/api/v1/protocols/", 409, "conflict") or ""
    )
    assert undocumented_error("GET", "/api/v1/not-a-route/", 404, "not_found") is None

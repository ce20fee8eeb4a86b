"""The OpenAPI schema is the contract (issue 12): every operation documents each error status it
can answer with the one error shape, its ``code`` an enum of that operation's stable codes.

Derived once, here, for every view (new views get correct docs by default):

- **400** ``validation_error`` when the operation takes a body or query parameters (plus
  ``parse_error`` with a JSON body); **401** when it authenticates (``authentication_failed``)
  and requires it (``not_authenticated``); **403** ``permission_denied`` when it requires a
  login (role rules); **404** ``not_found`` when the path names an object or the list is paged
  (a page past the end); **413** ``request_too_large`` and **415** ``unsupported_media_type``
  with a body; **429** ``throttled`` when the view throttles.
- Domain codes come from the view: ``error_codes = {409: (PlanErrorCode.ILLEGAL_TRANSITION,),
  400: (...), 404: ()}`` — status → codes raised by the services it calls (``()`` documents the
  status with its platform code only, e.g. a 404 for an id named in the body).

``ContractCheckMiddleware`` (test settings) holds the code to the documentation: any error answer
under ``/api/`` whose status or code the schema does not document for that operation fails the
test that provoked it — so the ~900 API tests and the fuzzing keep ``error_codes`` honest.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from typing import Any

from django.http import HttpRequest, HttpResponse
from drf_spectacular.extensions import (
    OpenApiSerializerExtension,
    OpenApiSerializerFieldExtension,
)
from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers
from rest_framework.permissions import AllowAny

from api.boundary import time_zones
from backend.errors import ErrorCode

ERROR_DESCRIPTIONS = {
    400: "Invalid input: `fields` names each rejected field or query parameter.",
    401: "Missing or invalid credentials.",
    403: "The caller's role may not do this.",
    404: "Not found — also what another organisation's object looks like.",
    409: "A rule of the domain refused the request in the current state.",
    413: "Request body larger than the server accepts.",
    415: "Unsupported Content-Type (the API takes application/json).",
    429: "Too many requests; retry after `Retry-After` seconds.",
}
BODY_METHODS = {"POST", "PUT", "PATCH"}
# What DRF's TimeField sends and takes: a local wall-clock time, "08:00" or "08:00:00[.ffffff]".
# OpenAPI's ``format: time`` is RFC 3339 full-time, which requires a UTC offset, so it is not used.
LOCAL_TIME_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?$"


class LocalTimeFieldExtension(OpenApiSerializerFieldExtension):
    """Every ``serializers.TimeField`` (clinic hours, clinician hours, preferred start)."""

    target_class = "rest_framework.fields.TimeField"
    match_subclasses = True

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        return {"type": "string", "pattern": LOCAL_TIME_PATTERN, "example": "08:00:00"}


class StrictInputExtension(OpenApiSerializerExtension):
    """Every input serializer (``api.boundary.StrictInputMixin``) answers an unknown key with 400
    naming it, so its request schema says ``additionalProperties: false``."""

    target_class = "api.boundary.StrictInputMixin"
    match_subclasses = True

    def map_serializer(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        if direction == "request":
            schema["additionalProperties"] = False
        return schema


def zone_identifier(zone: str) -> str:
    """``Etc/GMT+5`` → ``ETC_GMT_PLUS_5``; ``America/Port-au-Prince`` → ``AMERICA_PORT_AU_PRINCE``
    (an identifier per zone for client generators)."""
    text = re.sub(r"\+(?=\d)", "_PLUS_", zone)
    text = re.sub(r"-(?=\d)", "_MINUS_", text)
    return re.sub(r"\W+", "_", text).strip("_").upper()


def postprocess_zone_varnames(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """POSTPROCESSING_HOOKS (after the enum components are built): the time-zone enum names each
    value (``x-enum-varnames``) — client generators turn values into identifiers, and
    ``GMT+0``, ``GMT-0`` and ``GMT0`` would collide."""
    zones = list(time_zones())
    for component in result.get("components", {}).get("schemas", {}).values():
        if component.get("enum") == zones:
            component["x-enum-varnames"] = [zone_identifier(zone) for zone in zones]
    return result


class TimeZoneFieldExtension(OpenApiSerializerFieldExtension):
    """``api.boundary.TimeZoneField``: the zones the service accepts, as an enum."""

    target_class = "api.boundary.TimeZoneField"

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        schema.pop("maxLength", None)
        return {**schema, "enum": list(time_zones())}


class PhoneFieldExtension(OpenApiSerializerFieldExtension):
    """``api.boundary.PhoneField``: ``format: phone`` (not a pattern: possible numbers per
    country are libphonenumber's tables), the rule in the description."""

    target_class = "api.boundary.PhoneField"

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        rule = (
            "A possible phone number as libphonenumber reads it: E.164 (`+15555550123`) or a "
            "national US form (`(555) 555-0123`); answered in E.164."
        )
        if direction == "request":
            schema["description"] = " ".join(filter(None, [schema.get("description"), rule]))
        return {**schema, "format": "phone"}


def error_schema(codes: Iterable[str]) -> dict[str, Any]:
    """The error shape with ``code`` restricted to ``codes`` (backend/errors.py)."""
    return {
        "type": "object",
        "required": ["code", "message", "fields"],
        "properties": {
            "code": {"type": "string", "enum": sorted({str(code) for code in codes})},
            "message": {"type": "string"},
            "fields": {
                "type": "object",
                "description": "Field or parameter name → messages (nested for nested input).",
                "additionalProperties": {},
            },
        },
    }


def declared_error_codes(view: Any) -> dict[int, tuple[str, ...]]:
    declared: Mapping[int, Iterable[str]] = getattr(view, "error_codes", None) or {}
    return {int(status): tuple(str(c) for c in codes) for status, codes in declared.items()}


def _references(field: Any, depth: int = 0) -> bool:
    """Does this serializer (or field) hold a related-object field anywhere inside it?"""
    if depth > 4:
        return False
    if isinstance(field, serializers.RelatedField | serializers.ManyRelatedField):
        return True
    child = getattr(field, "child", None) or getattr(field, "child_relation", None)
    if child is not None and _references(child, depth + 1):
        return True
    if isinstance(field, serializers.BaseSerializer) and hasattr(field, "fields"):
        return any(_references(f, depth + 1) for f in field.fields.values())
    return False


class ContractAutoSchema(AutoSchema):
    """``DEFAULT_SCHEMA_CLASS``: drf-spectacular's, plus the error responses above."""

    def _requires_login(self) -> bool:
        return any(not isinstance(p, AllowAny) for p in self.view.get_permissions())

    def _authenticates(self) -> bool:
        return bool(self.view.get_authenticators())

    def _has_body(self) -> bool:
        return self.method in BODY_METHODS and self.get_request_serializer() is not None

    def _body_names_objects(self) -> bool:
        """The body carries ids checked against what the caller may see (``api.boundary``'s
        ``VisibleRelatedField``): an invisible or unknown one is a 404 (issue 13)."""
        serializer = self.get_request_serializer()
        if serializer is None:
            return False
        if isinstance(serializer, type):
            serializer = serializer()
        return _references(serializer)

    def _has_query(self) -> bool:
        if self._get_format_parameters():  # ?format= (several renderers): a bad one is refused
            return True
        if self._is_list_view() and self._get_paginator() is not None:
            return True
        if self._is_list_view() and self.get_filter_backends():
            return True
        return any(
            getattr(p, "location", "query") == "query" for p in self.get_override_parameters()
        )

    def _rule_serializers(self) -> list[Any]:
        found = [self.get_request_serializer() if self._has_body() else None]
        found += [p for p in self.get_override_parameters() if not hasattr(p, "location")]
        return [s for s in found if s is not None]

    def get_description(self) -> str:  # type: ignore[override]
        """The view's docstring, plus the cross-field rules its input serializers declare
        (``cross_field_rules``: what JSON Schema cannot say, each a 400 ``validation_error``
        naming the field)."""
        description = super().get_description() or ""
        rules = [r for s in self._rule_serializers() for r in getattr(s, "cross_field_rules", ())]
        if not rules:
            return description
        listed = "\n".join(f"- {rule}" for rule in dict.fromkeys(rules))
        head = "Rules across fields (each broken one is 400 `validation_error` naming the field):"
        return f"{description}\n\n{head}\n{listed}".strip()

    def _get_filter_parameters(self) -> list[dict[str, Any]]:
        """A filter sent empty is a 400 (``api.filters.StrictFilterSet``): text filters say
        ``minLength: 1``, so the schema calls ``?code=`` invalid too."""
        parameters = super()._get_filter_parameters()
        for parameter in parameters:
            schema = parameter.get("schema", {})
            if schema.get("type") == "string" and not ({"enum", "format"} & set(schema)):
                schema.setdefault("minLength", 1)
        return parameters

    def error_statuses(self) -> dict[int, set[str]]:
        errors: dict[int, set[str]] = {}
        body = self._has_body()
        if body or self._has_query():
            errors[400] = {ErrorCode.VALIDATION_ERROR}
            if body:
                errors[400].add(ErrorCode.PARSE_ERROR)
        if self._authenticates():
            errors[401] = {ErrorCode.AUTHENTICATION_FAILED}
        if self._requires_login():
            errors.setdefault(401, set()).add(ErrorCode.NOT_AUTHENTICATED)
            errors[403] = {ErrorCode.PERMISSION_DENIED}
        paged = self._is_list_view() and self._get_paginator() is not None
        if "{" in self.path or paged or (body and self._body_names_objects()):
            errors[404] = {ErrorCode.NOT_FOUND}
        if body:
            errors[413] = {ErrorCode.REQUEST_TOO_LARGE}
            errors[415] = {ErrorCode.UNSUPPORTED_MEDIA_TYPE}
        if self.view.get_throttles():
            errors[429] = {ErrorCode.THROTTLED}
        for status, codes in declared_error_codes(self.view).items():
            defaults = {404: {ErrorCode.NOT_FOUND}, 403: {ErrorCode.PERMISSION_DENIED}}
            errors.setdefault(status, set(defaults.get(status, set()))).update(codes)
        return errors

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for status, codes in sorted(self.error_statuses().items()):
            described = responses.get(str(status), {}).get("description")
            responses[str(status)] = {
                "description": described or ERROR_DESCRIPTIONS.get(status, "Error."),
                "content": {"application/json": {"schema": error_schema(codes)}},
            }
        return responses


# --- the contract, checked on every error answer the tests provoke ----------------------------


@lru_cache(maxsize=1)
def documented_operations() -> list[tuple[re.Pattern[str], int, dict[str, dict[int, set[str]]]]]:
    """(path regex, literal-ness, {METHOD: {status: codes}}) for every path of the schema."""
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator(urlconf="backend.urls").get_schema(request=None, public=True)
    out = []
    for path, item in schema["paths"].items():
        regex = re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path)) + "$")
        methods: dict[str, dict[int, set[str]]] = {}
        for method, operation in item.items():
            statuses: dict[int, set[str]] = {}
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {}).get("application/json", {})
                code = content.get("schema", {}).get("properties", {}).get("code", {})
                statuses[int(status)] = set(code.get("enum", ()))
            methods[method.upper()] = statuses
        out.append((regex, path.count("{"), methods))
    out.sort(key=lambda row: row[1])  # literal paths before templated ones
    return out


def undocumented_error(method: str, path: str, status: int, code: str) -> str | None:
    """Why this answer breaks the schema, or None when it is documented (or not an operation)."""
    for regex, _, methods in documented_operations():
        if not regex.match(path):
            continue
        statuses = methods.get(method.upper())
        if statuses is None:
            return None  # not an operation: 405 (schemathesis' unsupported_method checks it)
        if status not in statuses:
            return f"{method} {path} answered {status} `{code}`, a status it does not document"
        if code not in statuses[status]:
            return (
                f"{method} {path} answered {status} `{code}`, a code it does not document: "
                f"add it to the view's `error_codes` (api/schema.py)"
            )
        return None
    return None


class ContractCheckMiddleware:
    """Test settings only: an undocumented error answer under ``/api/v1/`` raises, failing the
    test (or, behind the live server, showing up as a 500 to the fuzzer)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            request.path.startswith("/api/v1/")
            and 400 <= response.status_code < 500
            and response.get("Content-Type", "").startswith("application/json")
        ):
            import json

            try:
                code = str(json.loads(response.content).get("code", ""))
            except (ValueError, AttributeError):
                code = ""
            problem = undocumented_error(
                request.method or "", request.path, response.status_code, code
            )
            if problem:
                raise AssertionError(problem)
        return response

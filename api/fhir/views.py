"""``/fhir/R4/``: a read-only FHIR R4 facade (JSON, ``application/fhir+json``), and the plan export.

Same authentication and access rules as the REST API (token or session; ``plans.access``: deny
by default, another organisation's resource is a 404), one ``AuditEvent`` per successful request
that touches patient data, and every error as an ``OperationOutcome`` with the HTTP status that
fits — never an HTML page, never the API's ``{"code", …}`` shape, never an unhandled 500.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import uuid
from typing import Any
from urllib.parse import urlencode

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpResponse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.schemas.inspectors import ViewInspector
from rest_framework.views import APIView, set_rollback

from api.errors import api_exception_handler, domain_status
from api.fhir import capability, codes, mapping, queries
from api.requests import AuthenticatedRequest
from api.schema import ContractAutoSchema
from backend.accounts.models import User
from backend.audit.models import AuditAction
from backend.audit.services import record_event
from backend.errors import DomainError, InvalidInput, NotFoundError

logger = logging.getLogger(__name__)

FHIR_JSON = "application/fhir+json"
DEFAULT_COUNT = 50
MAX_COUNT = 200


class FhirJSONRenderer(JSONRenderer):
    media_type = FHIR_JSON
    format = "fhir+json"
    charset = "utf-8"


class InvalidSearch(InvalidInput):
    """A search parameter the facade does not understand or a malformed value (400)."""

    def __init__(self, message: str, *, issue: str = "invalid") -> None:
        super().__init__(issue, message)


# --- errors as OperationOutcome -----------------------------------------------------------------

_ISSUE_BY_STATUS = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    406: "not-supported",
    415: "not-supported",
    429: "throttled",
}


def outcome_response(status_code: int, code: str, message: str, **headers: str) -> Response:
    assert code in codes.status_maps()["issue_type"]["allowed"], code
    response = Response(mapping.operation_outcome(code, message), status=status_code)
    for name, value in headers.items():
        response[name] = value
    return response


def fhir_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """Every exception → OperationOutcome; the transaction is rolled back. Unexpected errors are
    logged with the request id and answered 500 ``exception`` without internals."""
    set_rollback()
    if isinstance(exc, InvalidSearch):
        return outcome_response(400, exc.code, exc.message)
    if isinstance(exc, DomainError):
        status_code = domain_status(exc)
        code = _ISSUE_BY_STATUS.get(status_code, "processing")
        return outcome_response(status_code, code, exc.message)
    if isinstance(exc, Http404):
        return outcome_response(404, "not-found", "Not found.")
    if isinstance(exc, DjangoPermissionDenied):
        return outcome_response(403, "forbidden", "Forbidden.")
    if isinstance(exc, exceptions.APIException):
        headers = {}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header  # type: ignore[attr-defined]
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))  # type: ignore[attr-defined]
        code = _ISSUE_BY_STATUS.get(exc.status_code, "processing")
        return outcome_response(exc.status_code, code, str(exc.detail), **headers)
    request = context.get("request")
    logger.exception(
        "FHIR request failed (request id %s)", getattr(request, "request_id", "") or "-"
    )
    return outcome_response(500, "exception", "Internal server error.")


class FhirView(APIView):
    """Base of every FHIR view: FHIR JSON whatever the ``Accept`` header (FHIR clients send
    ``application/fhir+json``, ``application/json`` or ``*/*``), OperationOutcome errors."""

    renderer_classes = [FhirJSONRenderer]
    # FHIR has its own contract (metadata); not part of the OpenAPI schema
    schema: ViewInspector | None = None
    metadata_class = None  # OPTIONS → 405 OperationOutcome, not DRF's own metadata document

    def perform_content_negotiation(self, request, force=False):
        renderer = FhirJSONRenderer()
        return renderer, renderer.media_type

    def get_exception_handler(self):
        return fhir_exception_handler

    def base_url(self, request: Request) -> str:
        return request.build_absolute_uri("/fhir/R4").rstrip("/")

    def ctx(self, request: Request) -> mapping.Ctx:
        return mapping.Ctx(base=self.base_url(request))


def _audit(
    request: Request,
    *,
    object_type: str,
    object_id: Any = "",
    patient_id: Any = None,
    detail: dict[str, Any] | None = None,
) -> None:
    record_event(
        actor=request.user,
        action=AuditAction.READ,
        object_type=object_type,
        object_id=object_id,
        patient_id=patient_id,
        detail={"fhir": request.get_full_path()[:300], **(detail or {})},
    )


# --- metadata -----------------------------------------------------------------------------------


class MetadataView(FhirView):
    """``GET metadata``: the CapabilityStatement. Public, like the API root: it holds no data, and
    FHIR clients read it before they authenticate (SMART discovery). Not audited."""

    authentication_classes: list = []
    permission_classes: list = []

    def get(self, request: Request) -> Response:
        return Response(capability.capability_statement(base=self.base_url(request)))


# --- read ---------------------------------------------------------------------------------------


class ReadView(FhirView):
    def get(self, request: AuthenticatedRequest, resource_type: str, pk: str) -> Response:
        found = queries.read(user=request.user, resource_type=resource_type, pk=pk)
        _audit(
            request, object_type=f"fhir.{resource_type}", object_id=pk, patient_id=found.patient_id
        )
        return Response(found.resource)


class EverythingView(FhirView):
    """``GET Patient/{id}/$everything``: a searchset Bundle of everything about the patient."""

    def get(self, request: AuthenticatedRequest, pk: str) -> Response:
        _reject_unknown(request, allowed=(), result_params=("_format",))  # one Bundle, no paging
        patient_id, resources = queries.everything(user=request.user, patient_id=pk)
        _audit(
            request,
            object_type="fhir.Patient.$everything",
            object_id=patient_id,
            patient_id=patient_id,
        )
        ctx = self.ctx(request)
        body = mapping.bundle(
            bundle_type="searchset",
            total=len(resources),
            links=[{"relation": "self", "url": request.build_absolute_uri()}],
            entry=mapping.entries(ctx, resources, mode="match"),
        )
        return Response(body)


# --- search -------------------------------------------------------------------------------------

#: result parameters every search accepts (FHIR R4 search spec, section 3.1.1.5.7, paging;
#: ``_format`` is content type)
_RESULT_PARAMS = ("_count", "page", "_format")
_DATE_PREFIX = re.compile(r"^(eq|ge|le|gt|lt)?(.+)$")


def _reject_unknown(
    request: Request, *, allowed: tuple[str, ...], result_params: tuple[str, ...] = _RESULT_PARAMS
) -> None:
    unknown = sorted(set(request.query_params) - set(allowed) - set(result_params))
    if unknown:
        raise InvalidSearch(
            f"Unsupported search parameter(s): {', '.join(unknown)}.", issue="not-supported"
        )


def _patient_param(request: Request) -> int | None:
    values = request.query_params.getlist("patient")
    if not values:
        return None
    if len(values) > 1:
        raise InvalidSearch("Give 'patient' once.")
    raw = values[0].removeprefix("Patient/")
    if not raw.isdigit():
        raise InvalidSearch("'patient' must be a Patient id or Patient/{id}.")
    return int(raw)


def _paging(request: Request) -> tuple[int, int, int]:
    """``(page, count, offset)`` from ``page`` (1-based) and ``_count`` (1..200, default 50)."""
    try:
        count = int(request.query_params.get("_count", DEFAULT_COUNT))
        page = int(request.query_params.get("page", 1))
    except ValueError:
        raise InvalidSearch("'_count' and 'page' must be integers.") from None
    if not 1 <= count <= MAX_COUNT:
        raise InvalidSearch(f"'_count' must be between 1 and {MAX_COUNT}.")
    if page < 1:
        raise InvalidSearch("'page' must be 1 or more.")
    return page, count, (page - 1) * count


def _instant(raw: str, prefix: str) -> dt.datetime:
    """A FHIR date/dateTime search value → an aware datetime (a bare date means its start in
    UTC; ``le``/``gt`` on a bare date take the whole day)."""
    try:
        day = parse_date(raw) if len(raw) == 10 else None
    except ValueError:  # well-formed but impossible, e.g. 2027-13-45
        raise InvalidSearch(f"'date' value {raw!r} is not a valid date.") from None
    if day is not None:
        start = dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)
        return (
            start + dt.timedelta(days=1) - dt.timedelta(microseconds=1)
            if prefix in ("le", "gt")
            else start
        )
    try:
        value = parse_datetime(raw)
    except ValueError:
        value = None
    if value is None:
        raise InvalidSearch(f"'date' value {raw!r} is not a FHIR date or dateTime.")
    if timezone.is_naive(value):
        raise InvalidSearch("'date' with a time needs a time zone (Z or ±hh:mm).")
    return value


def _date_params(request: Request) -> list[tuple[str, dt.datetime]]:
    out = []
    for raw in request.query_params.getlist("date"):
        match = _DATE_PREFIX.match(raw)
        prefix, value = (match.group(1) or "eq", match.group(2)) if match else ("eq", raw)
        if prefix == "eq":
            start = _instant(value, "ge")
            if len(value) == 10:
                out += [("ge", start), ("le", _instant(value, "le"))]
                continue
            out.append(("eq", start))
        else:
            out.append((prefix, _instant(value, prefix)))
    return out


def _token_list(request: Request, name: str) -> list[str] | None:
    values = request.query_params.getlist(name)
    if not values:
        return None
    return [v.strip() for raw in values for v in raw.split(",") if v.strip()]


def _loinc_codes(request: Request) -> list[str] | None:
    tokens = _token_list(request, "code")
    if tokens is None:
        return None
    out = []
    for token in tokens:
        system, _, code = token.rpartition("|")
        if system and system != codes.LOINC:
            continue  # another system's code never matches
        out.append(code)
    return out


def _flag_statuses(request: Request) -> list[str] | None:
    tokens = _token_list(request, "status")
    if tokens is None:
        return None
    bad = [t for t in tokens if t not in queries.FLAG_STATUS_SEARCH]
    if bad:
        raise InvalidSearch(f"Unknown Flag status: {', '.join(bad)}.", issue="code-invalid")
    return tokens


class SearchView(FhirView):
    """``GET {type}?…``: a searchset Bundle with ``total`` and self/first/previous/next/last."""

    def get(self, request: AuthenticatedRequest, resource_type: str) -> Response:
        allowed = queries.SEARCH_PARAMS.get(resource_type)
        if allowed is None:
            if resource_type in queries.READ_TYPES:
                raise InvalidSearch(f"{resource_type} supports read only.", issue="not-supported")
            raise NotFoundError(f"Resource type {resource_type} is not supported.")
        _reject_unknown(request, allowed=allowed)
        patient_id = _patient_param(request)
        page, count, offset = _paging(request)
        common: dict[str, Any] = {
            "user": request.user,
            "patient_id": patient_id,
            "offset": offset,
            "count": count,
        }
        if resource_type == "CarePlan":
            result = queries.search_care_plans(**common)
        elif resource_type == "Appointment":
            result = queries.search_appointments(dates=_date_params(request), **common)
        elif resource_type == "Observation":
            result = queries.search_observations(loinc_codes=_loinc_codes(request), **common)
        else:
            result = queries.search_flags(statuses=_flag_statuses(request), **common)
        search = {"search": dict(request.query_params.lists()), "total": result.total}
        _audit(request, object_type=f"fhir.{resource_type}", patient_id=patient_id, detail=search)
        body = mapping.bundle(
            bundle_type="searchset",
            total=result.total,
            links=_links(request, resource_type, page=page, count=count, total=result.total),
            entry=mapping.entries(self.ctx(request), result.resources, mode="match"),
        )
        return Response(body)


def _links(request: Request, resource_type: str, *, page: int, count: int, total: int) -> list:
    base = request.build_absolute_uri(f"/fhir/R4/{resource_type}")
    params = [
        (k, v) for k, vs in request.query_params.lists() for v in vs if k not in ("page", "_count")
    ]
    last = max(1, -(-total // count))

    def url(n: int) -> str:
        return f"{base}?{urlencode([*params, ('_count', count), ('page', n)])}"

    links = [{"relation": "self", "url": url(page)}, {"relation": "first", "url": url(1)}]
    if page > 1:
        links.append({"relation": "previous", "url": url(min(page - 1, last))})
    if page < last:
        links.append({"relation": "next", "url": url(page + 1)})
    links.append({"relation": "last", "url": url(last)})
    return links


class UnknownRouteView(FhirView):
    """Anything else under /fhir/R4/: 404 OperationOutcome (after authentication, so that an
    anonymous caller learns nothing but 401)."""

    def _refuse(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        raise NotFoundError("Unknown FHIR interaction or resource type.")

    get = post = put = patch = delete = _refuse


# --- plan export (REST API and dashboard) -------------------------------------------------------


def plan_export_bundle(*, user: User, plan_id: Any, base: str) -> tuple[Any, dict[str, Any]]:
    """A ``collection`` Bundle of one plan (``queries.plan_export``) with an identifier and a
    timestamp, for download. Returns ``(plan, bundle)``; the caller audits."""
    plan, resources = queries.plan_export(user=user, plan_id=plan_id)
    body = mapping.bundle(
        bundle_type="collection",
        identifier={"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{uuid.uuid4()}"},
        timestamp=timezone.now(),
        entry=mapping.entries(mapping.Ctx(base=base), resources),
    )
    return plan, body


class PlanFhirExportView(FhirView):
    """``GET /api/v1/plans/{id}/fhir/``: the plan as a FHIR ``collection`` Bundle (a download).

    An /api/v1/ route: its errors keep the API's ``{"code", "message", "fields"}`` shape."""

    schema = ContractAutoSchema()  # an /api/v1/ route: in the OpenAPI contract
    renderer_classes = [FhirJSONRenderer, JSONRenderer]

    def get_exception_handler(self):
        return api_exception_handler

    def perform_content_negotiation(self, request, force=False):
        if "format" in request.query_params:  # the documented ?format=: DRF's negotiation
            return APIView.perform_content_negotiation(self, request, force)
        return super().perform_content_negotiation(request, force)

    def finalize_response(self, request, response, *args, **kwargs):
        if response.status_code >= 400:
            request.accepted_renderer, request.accepted_media_type = (
                JSONRenderer(),
                "application/json",
            )
        return super().finalize_response(request, response, *args, **kwargs)

    @extend_schema(
        responses={
            (200, FHIR_JSON): OpenApiTypes.OBJECT,
            (200, "application/json"): OpenApiTypes.OBJECT,  # ?format=json
        }
    )
    def get(self, request: AuthenticatedRequest, pk: int) -> Response:
        plan, body = plan_export_bundle(user=request.user, plan_id=pk, base=self.base_url(request))
        record_event(
            actor=request.user,
            action=AuditAction.READ,
            object_type="plans.careplan",
            object_id=plan.pk,
            patient_id=plan.patient_id,
            detail={"export": "fhir", "entries": len(body.get("entry", []))},
        )
        response = Response(body)
        response["Content-Disposition"] = f'attachment; filename="plan-{plan.pk}-fhir.json"'
        return response


def attachment(body: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type=f"{FHIR_JSON}; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response

"""Prior authorisations, the re-authorisation packet and the reports (issue 11).

Access: ``access_*`` 404s what the user may not see; ``require`` 403s what they may see but not
do; reports are for coordinators, clinicians and admins (patients 403), scoped to the patients
the user sees. Audit: one event per request — writes in the services, reads here (a report's
read event is written before its first byte streams).
"""

from __future__ import annotations

from typing import Any

from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.billing import serializers as s
from api.parsers import BoundaryJSONParser
from backend.audit.models import AuditAction
from backend.audit.services import record_event, record_object
from backend.errors import InvalidInput
from billing import reports
from billing.csv_export import csv_chunks
from plans import access
from plans.access import Action, require
from plans.authorizations import course_session_days, get_authorization_usage, window_of
from plans.errors import PlanErrorCode
from plans.models import PriorAuthorization
from plans.packet import read_reauthorization_packet
from plans.rules.authorization import usage_of
from plans.selectors import clinic_today
from plans.services.authorizations import (
    add_authorization_evidence,
    create_authorization,
    update_authorization,
)


def _authorization_out(authorization: PriorAuthorization) -> dict[str, Any]:
    authorization = PriorAuthorization.objects.prefetch_related("evidence").get(pk=authorization.pk)
    today = clinic_today(authorization.component.plan.clinic)
    usage = get_authorization_usage(authorization=authorization, today=today)
    return s.AuthorizationOut(authorization, context={"usage": {authorization.pk: usage}}).data


@extend_schema(tags=["authorizations"])
class ComponentAuthorizationsView(APIView):
    """A component's prior authorisations (newest first) with the units used; POST records a
    request or an approval."""

    error_codes = {400: (PlanErrorCode.INVALID_AUTHORIZATION, PlanErrorCode.INVALID_COVERAGE)}

    @extend_schema(responses=s.AuthorizationOut(many=True))
    def get(self, request: Request, pk: int) -> Response:
        component = access.access_component(user=request.user, component_id=pk)
        rows = list(
            component.authorizations.prefetch_related("evidence").order_by("-starts_on", "-id")
        )
        today = clinic_today(component.plan.clinic)
        days = course_session_days([component.pk]).get(component.pk, [])
        usage = {a.pk: usage_of(window_of(a), days, today=today) for a in rows}
        record_event(
            actor=request.user,
            action=AuditAction.READ,
            object_type="plans.priorauthorization",
            object_id="",
            patient_id=component.plan.patient_id,
            detail={"list": True, "component": component.pk},
        )
        return Response(s.AuthorizationOut(rows, many=True, context={"usage": usage}).data)

    @extend_schema(request=s.AuthorizationIn, responses={201: s.AuthorizationOut})
    def post(self, request: Request, pk: int) -> Response:
        component = access.access_component(user=request.user, component_id=pk)
        require(request.user, Action.MANAGE_PLANS)
        data = s.AuthorizationIn(data=request.data)
        data.is_valid(raise_exception=True)
        authorization = create_authorization(
            component=component, by=request.user, **data.validated_data
        )
        return Response(_authorization_out(authorization), status=status.HTTP_201_CREATED)


@extend_schema(tags=["authorizations"])
class AuthorizationDetailView(APIView):
    """One prior authorisation with its units used; PATCH changes it (status machine)."""

    error_codes = {
        400: (PlanErrorCode.INVALID_AUTHORIZATION,),
        409: (PlanErrorCode.ILLEGAL_TRANSITION,),
    }

    @extend_schema(responses=s.AuthorizationOut)
    def get(self, request: Request, pk: int) -> Response:
        authorization = access.access_authorization(user=request.user, authorization_id=pk)
        record_object(
            actor=request.user,
            action=AuditAction.READ,
            obj=authorization,
            patient_id=authorization.component.plan.patient_id,
        )
        return Response(_authorization_out(authorization))

    @extend_schema(request=s.AuthorizationIn, responses=s.AuthorizationOut)
    def patch(self, request: Request, pk: int) -> Response:
        authorization = access.access_authorization(user=request.user, authorization_id=pk)
        require(request.user, Action.MANAGE_PLANS)
        data = s.AuthorizationIn(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        authorization = update_authorization(
            authorization=authorization, by=request.user, **data.validated_data
        )
        return Response(_authorization_out(authorization))


@extend_schema(tags=["authorizations"])
class AuthorizationEvidenceView(APIView):
    """Attach evidence: a link (``url``), a recorded evaluation of the patient (``evaluation``)
    or a file (multipart ``file``) — exactly one."""

    error_codes = {400: (PlanErrorCode.INVALID_AUTHORIZATION,), 404: ()}

    parser_classes = [BoundaryJSONParser, MultiPartParser, FormParser]

    @extend_schema(request=s.EvidenceIn, responses={201: s.EvidenceOut})
    def post(self, request: Request, pk: int) -> Response:
        authorization = access.access_authorization(user=request.user, authorization_id=pk)
        require(request.user, Action.MANAGE_PLANS)
        data = s.EvidenceIn(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        evaluation = None
        if v["evaluation"] is not None:
            evaluation = access.visible_evaluations(request.user).filter(pk=v["evaluation"]).first()
            if evaluation is None:
                raise InvalidInput(
                    PlanErrorCode.INVALID_AUTHORIZATION,
                    "Unknown evaluation.",
                    fields={"evaluation": ["unknown evaluation"]},
                )
        evidence = add_authorization_evidence(
            authorization=authorization,
            by=request.user,
            title=v["title"],
            url=v["url"],
            file=v["file"],
            evaluation=evaluation,
        )
        return Response(s.EvidenceOut(evidence).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["authorizations"])
class ReauthorizationPacketView(APIView):
    """The criteria evidence recorded for a component, for the payer (JSON). The printable page
    is ``/dashboard/components/<id>/reauthorization-packet/``. Staff only."""

    @extend_schema(responses={200: OpenApiResponse(description="the packet (JSON object)")})
    def get(self, request: Request, pk: int) -> Response:
        _, packet = read_reauthorization_packet(user=request.user, component_id=pk)
        return Response(packet)


# ---------------------------------------------------------------------------------------------
# Reports


def _filters(request: Request) -> tuple[reports.ReportFilters, dict[str, Any]]:
    reports.require_report_access(request.user)
    data = s.ReportFiltersIn(data=request.query_params)
    data.is_valid(raise_exception=True)
    v = data.validated_data
    filters = reports.ReportFilters(
        clinic=v["clinic"],
        protocol=v["protocol"] or None,
        date_from=v["date_from"],
        date_to=v["date_to"],
    )
    return filters, v


def _audit_report(request: Request, name: str, filters: reports.ReportFilters, **extra) -> None:
    record_event(
        actor=request.user,
        action=AuditAction.READ,
        object_type=f"billing.{name}",
        detail={"report": name, "filters": filters.as_dict(), **extra},
    )


def _csv(name: str, columns, rows) -> StreamingHttpResponse:
    response = StreamingHttpResponse(csv_chunks(columns, rows), content_type="text/csv")
    stamp = timezone.now().strftime("%Y%m%d")
    response["Content-Disposition"] = f'attachment; filename="{name}-{stamp}.csv"'
    response["Cache-Control"] = "no-store"
    return response


_REPORT = {200: OpenApiResponse(description="report rows (JSON)")}
_CSV = {200: OpenApiResponse(description="text/csv, streamed, with a header row")}


@extend_schema(tags=["reports"], responses=_REPORT, parameters=[s.ReportFiltersIn])
class ClaimsReportView(APIView):
    """Superbill/claims rows, one per fulfilled session: date, clinic, rendering clinician,
    codes, units, payer, authorisation number, ICD-10 diagnoses (``limit``/``offset``)."""

    def get(self, request: Request) -> Response:
        filters, v = _filters(request)
        _audit_report(request, "claims", filters, limit=v["limit"], offset=v["offset"])
        rows = reports.iter_claim_rows(user=request.user, filters=filters)
        page = []
        for i, row in enumerate(rows):
            if i >= v["offset"] + v["limit"]:
                break
            if i >= v["offset"]:
                page.append(row)
        return Response(
            {
                "columns": list(reports.CLAIM_COLUMNS),
                "results": page,
                "limit": v["limit"],
                "offset": v["offset"],
            }
        )


@extend_schema(tags=["reports"], responses=_CSV, parameters=[s.ReportFiltersIn])
class ClaimsCsvView(APIView):
    def get(self, request: Request) -> StreamingHttpResponse:
        filters, _ = _filters(request)
        _audit_report(request, "claims", filters, format="csv")
        rows = reports.iter_claim_rows(user=request.user, filters=filters)
        return _csv("claims", reports.CLAIM_COLUMNS, rows)


OUTCOME_COLUMNS = (
    "protocol",
    "protocol_name",
    "indication",
    "started",
    "completed",
    "evaluable",
    "responders",
    "response_rate",
    "remitters",
    "remission_rate",
    "mean_change_phq9",
    "mean_change_gad7",
    "mean_change_pain_nrs",
)


def _outcome_flat(group: reports.OutcomeGroup) -> dict[str, Any]:
    d = group.as_dict()
    for inst, value in d.pop("mean_change").items():
        d[f"mean_change_{inst}"] = value
    return d


@extend_schema(tags=["reports"], responses=_REPORT, parameters=[s.ReportFiltersIn])
class OutcomesReportView(APIView):
    """Per protocol and indication: started, completed, PHQ-9 response (≥ 50 % drop) and
    remission (< 5) with counts and rates, mean change of PHQ-9 / GAD-7 / pain NRS."""

    def get(self, request: Request) -> Response:
        filters, _ = _filters(request)
        _audit_report(request, "outcomes", filters)
        groups = reports.outcome_report(user=request.user, filters=filters)
        return Response({"results": [g.as_dict() for g in groups]})


@extend_schema(tags=["reports"], responses=_CSV, parameters=[s.ReportFiltersIn])
class OutcomesCsvView(APIView):
    def get(self, request: Request) -> StreamingHttpResponse:
        filters, _ = _filters(request)
        _audit_report(request, "outcomes", filters, format="csv")
        groups = reports.outcome_report(user=request.user, filters=filters)
        return _csv("outcomes", OUTCOME_COLUMNS, (_outcome_flat(g) for g in groups))


AUTH_COLUMNS = (
    "category",
    "status",
    "number",
    "payer_name",
    "patient_mrn",
    "patient_name",
    "clinic",
    "protocol",
    "authorized_units",
    "used",
    "remaining",
    "starts_on",
    "ends_on",
    "days_left",
    "decision_note",
    "plan",
    "component",
    "id",
)


@extend_schema(tags=["reports"], responses=_REPORT, parameters=[s.ReportFiltersIn])
class AuthorizationWorklistView(APIView):
    """Authorisations needing work: denied, exhausted, expired, expiring (≤ 14 days),
    requested."""

    def get(self, request: Request) -> Response:
        filters, _ = _filters(request)
        _audit_report(request, "authorizations", filters)
        rows = reports.authorization_worklist(user=request.user, filters=filters)
        return Response({"results": rows})


@extend_schema(tags=["reports"], responses=_CSV, parameters=[s.ReportFiltersIn])
class AuthorizationWorklistCsvView(APIView):
    def get(self, request: Request) -> StreamingHttpResponse:
        filters, _ = _filters(request)
        _audit_report(request, "authorizations", filters, format="csv")
        rows = reports.authorization_worklist(user=request.user, filters=filters)
        return _csv("authorizations", AUTH_COLUMNS, rows)

"""Plans API views: validate shape → authorise (plans.access) → call one service → serialize.

Access: ``access_*`` fetches or 404s (another organisation's object, a patient outside the
care team); ``require`` 403s a visible object the role may not change (promise 7). Audit: each
request touching patient data records exactly one ``AuditEvent`` — writes inside the service,
reads here (list endpoints: one event, with the patient when the list is scoped to one).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Prefetch
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.boundary import resolve_subject
from api.pagination_cursor import KeysetPagination
from api.plans import serializers as s
from api.plans.filters import (
    EvaluationFilter,
    FlagFilter,
    MeasureFilter,
    PlanFilter,
    ProtocolFilter,
)
from api.plans.rows import list_plans, plan_rows
from api.requests import AuthenticatedRequest
from backend.accounts.models import Role
from backend.audit.models import AuditAction
from backend.audit.services import record_event, record_object
from backend.errors import InvalidInput, NotFoundError
from modalities.models import Protocol
from plans import access, services
from plans.access import Action, require
from plans.errors import PlanErrorCode
from plans.errors import PlanErrorCode as P
from plans.models import CarePlan, CareTeamMember, Measure, PlanComponent, RecordStatus
from plans.selectors import (
    baseline_for,
    components_with_protocols,
    get_plan_detail,
    get_plan_readiness,
    order_flags_by_priority,
    plans_for_detail,
)

# Domain codes the services return (400) per input kind; each view declares its ``error_codes``
# (status → codes) so the OpenAPI schema documents them (api/schema.py).
PATIENT_INPUT_CODES = (
    P.INVALID_PHONE,
    P.INVALID_TIMEZONE,
    P.CARE_TEAM_MEMBER_INVALID,
    P.USER_NOT_IN_ORGANIZATION,
)
COMPONENT_INPUT_CODES = (P.INDICATION_NOT_IN_PROTOCOL, P.PROTOCOL_INACTIVE, P.INVALID_COVERAGE)

# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def audit_read(request: Request, obj: Any, patient_id: int | None) -> None:
    record_object(actor=request.user, action=AuditAction.READ, obj=obj, patient_id=patient_id)


def _int_param(request: Request, name: str) -> int | None:
    try:
        return int(request.query_params[name])
    except (KeyError, ValueError):
        return None


class AuditedListMixin:
    """List endpoints: one read event per request; ``patient_id`` when scoped to one patient."""

    audit_object_type = ""

    def scoped_patient_id(self, request: Request) -> int | None:
        patient = _int_param(request, "patient")
        if patient is not None:
            return patient
        plan = _int_param(request, "plan")
        if plan is not None:
            return (
                access.visible_plans(request.user)
                .filter(pk=plan)
                .values_list("patient_id", flat=True)
                .first()
            )
        return None

    def audit_list(self, request: Request) -> None:
        """The one read event of a list request (promise 7)."""
        record_event(
            actor=request.user,
            action=AuditAction.READ,
            object_type=self.audit_object_type,
            patient_id=self.scoped_patient_id(request),
            detail={"list": True, "query": dict(request.query_params.items())},
        )

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().list(request, *args, **kwargs)  # type: ignore[misc]
        self.audit_list(request)
        return response


def _plan_detail_response(
    plan: CarePlan, *, code: int = status.HTTP_200_OK, reload: bool = True
) -> Response:
    """The plan detail. ``reload`` after a write (the row changed); a plain read passes the plan
    ``access_plan`` already loaded with its patient, clinic and coordinator (loaded once)."""
    if reload:
        plan = plans_for_detail(CarePlan.objects.filter(pk=plan.pk)).get()
    plan.detail = get_plan_detail(plan=plan)  # type: ignore[attr-defined]
    return Response(s.PlanDetailOut(plan).data, status=code)


# ---------------------------------------------------------------------------------------------
# Protocol catalogue (no patient data: not audited)
# ---------------------------------------------------------------------------------------------


def _protocols():
    return Protocol.objects.prefetch_related("indications", "requirements").annotate(
        component_count=Count("components", distinct=True)
    )


class ProtocolListView(generics.ListAPIView):
    """The versioned protocol catalogue (read-only): label status per indication, target,
    phases, minutes, cap, requirement specs with their sources."""

    serializer_class = s.ProtocolOut
    filterset_class = ProtocolFilter

    def get_queryset(self):
        return _protocols().order_by("modality", "code", "-version")


class ProtocolDetailView(generics.RetrieveAPIView):
    serializer_class = s.ProtocolOut

    def get_queryset(self):
        return _protocols()


# ---------------------------------------------------------------------------------------------
# Patients and care teams
# ---------------------------------------------------------------------------------------------


def _patients(user):
    return access.visible_patients(user).prefetch_related(
        Prefetch("team_members", queryset=CareTeamMember.objects.select_related("user"))
    )


class PatientListCreateView(AuditedListMixin, generics.ListCreateAPIView):
    error_codes = {400: PATIENT_INPUT_CODES, 409: (P.DUPLICATE_MRN,)}

    serializer_class = s.PatientOut
    audit_object_type = "plans.patient"

    def get_queryset(self):
        return _patients(self.request.user)

    @extend_schema(request=s.PatientIn, responses={201: s.PatientOut})
    # narrower than ListCreateAPIView.post: DRF calls it only once IsAuthenticated passed
    def post(self, request: AuthenticatedRequest) -> Response:  # type: ignore[override]
        require(request.user, Action.MANAGE_PATIENTS)
        payload = request.data
        if request.user.role != Role.ADMIN and isinstance(payload, dict):
            # "organization" is for admins; everyone else creates in their own organisation
            payload = {k: v for k, v in payload.items() if k != "organization"}
        data = s.PatientIn(data=payload, context={"request": request})
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        organization = values.pop("organization", None)
        if request.user.role != Role.ADMIN or organization is None:
            organization = request.user.organization
        if organization is None:
            raise InvalidInput(PlanErrorCode.USER_NOT_IN_ORGANIZATION, "Organisation required.",
                               fields={"organization": ["required"]})  # fmt: skip
        team = values.pop("care_team", [])
        patient = services.create_patient(
            organization=organization, by=request.user, care_team=tuple(team), **values
        )
        return Response(s.PatientOut(_patients(request.user).get(pk=patient.pk)).data, status=201)


class PatientDetailView(APIView):
    error_codes = {400: PATIENT_INPUT_CODES, 409: (P.DUPLICATE_MRN,)}

    @extend_schema(responses=s.PatientOut)
    def get(self, request: Request, pk: int) -> Response:
        patient = access.access_patient(user=request.user, patient_id=pk)
        audit_read(request, patient, patient.pk)
        return Response(s.PatientOut(_patients(request.user).get(pk=patient.pk)).data)

    @extend_schema(request=s.PatientPatchIn, responses=s.PatientOut)
    def patch(self, request: Request, pk: int) -> Response:
        patient = access.access_patient(user=request.user, patient_id=pk)
        require(request.user, Action.MANAGE_PATIENTS)
        data = s.PatientPatchIn(data=request.data, partial=True, context={"request": request})
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        services.update_patient(patient=patient, by=request.user, **values)
        return Response(s.PatientOut(_patients(request.user).get(pk=patient.pk)).data)


class CareTeamAddView(APIView):
    error_codes = {400: (P.CARE_TEAM_MEMBER_INVALID, P.USER_NOT_IN_ORGANIZATION)}

    @extend_schema(request=s.CareTeamIn, responses={201: s.PatientOut})
    def post(self, request: Request, pk: int) -> Response:
        patient = access.access_patient(user=request.user, patient_id=pk)
        require(request.user, Action.MANAGE_PATIENTS)
        data = s.CareTeamIn(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        user = data.validated_data["user"]
        services.add_care_team_member(
            patient=patient, user=user, role=data.validated_data["role"], by=request.user
        )
        return Response(s.PatientOut(_patients(request.user).get(pk=patient.pk)).data, status=201)


class CareTeamRemoveView(APIView):
    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request, pk: int, user_id: int) -> Response:
        patient = access.access_patient(user=request.user, patient_id=pk)
        require(request.user, Action.MANAGE_PATIENTS)
        member = CareTeamMember.objects.filter(patient=patient, user_id=user_id).first()
        if member is None:
            raise NotFoundError("Care-team member not found.")
        services.remove_care_team_member(patient=patient, user=member.user, by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# ---------------------------------------------------------------------------------------------
# Plans
# ---------------------------------------------------------------------------------------------


class PlanListCreateView(AuditedListMixin, generics.ListCreateAPIView):
    """Plans, newest first, in keyset pages (``?cursor=``; ``?count=true`` for the total;
    ``?page=`` still gives numbered pages)."""

    # 404: the patient named in the body is not visible to the caller
    error_codes = {
        400: (P.CLINIC_NOT_IN_ORGANIZATION, P.USER_NOT_IN_ORGANIZATION, *COMPONENT_INPUT_CODES),
        404: (),
    }

    serializer_class = s.PlanOut
    filterset_class = PlanFilter
    pagination_class = KeysetPagination
    audit_object_type = "plans.careplan"

    def get_queryset(self):
        return list_plans(access.visible_plans(self.request.user))

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """The page, rendered by ``api.plans.rows`` (the same JSON as ``PlanOut``, without
        DRF's per-field cost), then audited by ``AuditedListMixin``."""
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        # a paginator is configured, so the page is a list, never None
        response = self.get_paginated_response(plan_rows(page))  # type: ignore[arg-type]
        self.audit_list(request)
        return response

    @extend_schema(request=s.PlanIn, responses={201: s.PlanDetailOut})
    def post(self, request: Request) -> Response:
        resolve_subject(s.PlanIn, request)  # 404 for an invisible patient before the 403
        require(request.user, Action.MANAGE_PLANS)
        data = s.PlanIn(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        patient = values.pop("patient")
        plan = services.create_plan(
            patient=patient,
            clinic=values.pop("clinic"),
            coordinator=values.pop("coordinator", None),
            by=request.user,
            components=[dict(c) for c in values.pop("components", [])],
            **values,
        )
        return _plan_detail_response(plan, code=status.HTTP_201_CREATED)


class PlanDetailView(APIView):
    error_codes = {
        400: (P.CLINIC_NOT_IN_ORGANIZATION, P.USER_NOT_IN_ORGANIZATION),
        409: (P.PLAN_LOCKED,),
    }

    @extend_schema(responses=s.PlanDetailOut)
    def get(self, request: Request, pk: int) -> Response:
        plan = access.access_plan(user=request.user, plan_id=pk)
        audit_read(request, plan, plan.patient_id)
        return _plan_detail_response(plan, reload=False)

    @extend_schema(request=s.PlanPatchIn, responses=s.PlanDetailOut)
    def patch(self, request: Request, pk: int) -> Response:
        plan = access.access_plan(user=request.user, plan_id=pk)
        require(request.user, Action.MANAGE_PLANS)
        data = s.PlanPatchIn(data=request.data, partial=True, context={"request": request})
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        services.update_plan(plan=plan, by=request.user, **values)
        return _plan_detail_response(plan)


class _PlanActionView(APIView):
    """One view per state change (STYLE.md habit 3); 409 ``illegal_transition`` otherwise."""

    error_codes: dict = {409: (P.ILLEGAL_TRANSITION,)}

    service: Any = None
    takes_reason = False

    @extend_schema(request=s.ReasonIn, responses=s.PlanDetailOut)
    def post(self, request: Request, pk: int) -> Response:
        plan = access.access_plan(user=request.user, plan_id=pk)
        require(request.user, Action.MANAGE_PLANS)
        kwargs: dict[str, Any] = {}
        if self.takes_reason:
            data = s.ReasonIn(data=request.data, context={"request": request})
            data.is_valid(raise_exception=True)
            kwargs["reason"] = data.validated_data["reason"]
        type(self).service(plan=plan, by=request.user, **kwargs)
        return _plan_detail_response(plan)


@extend_schema_view(post=extend_schema(request=None, responses=s.PlanDetailOut))
class PlanActivateView(_PlanActionView):
    """draft → active (needs at least one component)."""

    error_codes = {409: (P.ILLEGAL_TRANSITION, P.PLAN_HAS_NO_COMPONENTS)}

    service = staticmethod(services.activate_plan)


class PlanHoldView(_PlanActionView):
    """active → on-hold, with an optional reason."""

    service = staticmethod(services.hold_plan)
    takes_reason = True


@extend_schema_view(post=extend_schema(request=None, responses=s.PlanDetailOut))
class PlanResumeView(_PlanActionView):
    """on-hold → active."""

    service = staticmethod(services.resume_plan)


class PlanCompleteView(_PlanActionView):
    """active | on-hold → completed."""

    service = staticmethod(services.complete_plan)
    takes_reason = True


@extend_schema_view(post=extend_schema(request=s.ReasonRequiredIn, responses=s.PlanDetailOut))
class PlanRevokeView(_PlanActionView):
    """any open status → revoked; the reason is required."""

    error_codes = {400: (P.REASON_REQUIRED,), 409: (P.ILLEGAL_TRANSITION,)}

    service = staticmethod(services.revoke_plan)
    takes_reason = True


class PlanReadinessView(APIView):
    """Per component and requirement: satisfied / missing / expired / not applicable, with the
    reason, source and why it applies; ``ready_to_start`` per component and for the plan."""

    @extend_schema(responses=s.PlanReadinessOut)
    def get(self, request: Request, pk: int) -> Response:
        plan = access.access_plan(user=request.user, plan_id=pk)
        audit_read(request, plan, plan.patient_id)
        readiness = get_plan_readiness(plan=plan)
        return Response(s.PlanReadinessOut(readiness).data)


# ---------------------------------------------------------------------------------------------
# Components
# ---------------------------------------------------------------------------------------------


def _component_out(component: PlanComponent) -> dict:
    row = components_with_protocols(PlanComponent.objects.filter(pk=component.pk)).get()
    return s.ComponentOut(row).data


class PlanComponentCreateView(APIView):
    error_codes = {400: COMPONENT_INPUT_CODES, 409: (P.COMPONENT_LOCKED, P.PLAN_LOCKED)}

    @extend_schema(request=s.ComponentIn, responses={201: s.ComponentOut})
    def post(self, request: Request, pk: int) -> Response:
        plan = access.access_plan(user=request.user, plan_id=pk)
        require(request.user, Action.MANAGE_PLANS)
        data = s.ComponentIn(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        component = services.add_component(plan=plan, by=request.user, **data.validated_data)
        return Response(_component_out(component), status=status.HTTP_201_CREATED)


class ComponentDetailView(APIView):
    error_codes = {400: COMPONENT_INPUT_CODES, 409: (P.COMPONENT_LOCKED, P.PLAN_LOCKED)}

    @extend_schema(responses=s.ComponentOut)
    def get(self, request: Request, pk: int) -> Response:
        component = access.access_component(user=request.user, component_id=pk)
        audit_read(request, component, component.plan.patient_id)
        return Response(_component_out(component))

    @extend_schema(request=s.ComponentPatchIn, responses=s.ComponentOut)
    def patch(self, request: Request, pk: int) -> Response:
        component = access.access_component(user=request.user, component_id=pk)
        require(request.user, Action.MANAGE_PLANS)
        data = s.ComponentPatchIn(data=request.data, partial=True, context={"request": request})
        data.is_valid(raise_exception=True)
        services.update_component(component=component, by=request.user, **data.validated_data)
        return Response(_component_out(component))

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        component = access.access_component(user=request.user, component_id=pk)
        require(request.user, Action.MANAGE_PLANS)
        services.remove_component(component=component, by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# ---------------------------------------------------------------------------------------------
# Evaluations
# ---------------------------------------------------------------------------------------------


def _scope(request: Request, values: dict[str, Any]):
    """Patient, optional plan and component — each already resolved inside what the caller may
    see (``VisibleRelatedField``: unknown and invisible ids are the same 404)."""
    return values.pop("patient"), values.pop("plan", None), values.pop("component", None)


class EvaluationListCreateView(AuditedListMixin, generics.ListCreateAPIView):
    # 404: the patient, plan or component named in the body is not visible to the caller
    error_codes = {
        400: (P.COMPONENT_NOT_IN_PLAN, P.PLAN_NOT_OF_PATIENT, P.INVALID_EVALUATION_DATA),
        404: (),
    }

    serializer_class = s.EvaluationOut
    filterset_class = EvaluationFilter
    audit_object_type = "plans.evaluation"

    def get_queryset(self):
        return access.visible_evaluations(self.request.user)

    @extend_schema(request=s.EvaluationIn, responses={201: s.EvaluationOut})
    def post(self, request: Request) -> Response:
        data = s.EvaluationIn(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        patient, plan, component = _scope(request, values)
        require(request.user, Action.RECORD_CLINICAL)
        evaluation = services.record_evaluation(
            patient=patient,
            plan=plan,
            component=component,
            by=request.user,
            kind=values["kind"],
            performed_at=values.get("performed_at") or timezone.now(),
            data=values.get("data", {}),
            valid_until=values.get("valid_until"),
            note=values.get("note", ""),
        )
        return Response(s.EvaluationOut(evaluation).data, status=status.HTTP_201_CREATED)


class EvaluationDetailView(APIView):
    @extend_schema(responses=s.EvaluationOut)
    def get(self, request: Request, pk: int) -> Response:
        evaluation = access.access_evaluation(user=request.user, evaluation_id=pk)
        audit_read(request, evaluation, evaluation.patient_id)
        return Response(s.EvaluationOut(evaluation).data)


class EvaluationEnteredInErrorView(APIView):
    """Mark an evaluation entered-in-error (with a reason) instead of deleting it."""

    error_codes = {400: (P.REASON_REQUIRED,), 409: (P.ALREADY_ENTERED_IN_ERROR,)}

    @extend_schema(request=s.ReasonRequiredIn, responses=s.EvaluationOut)
    def post(self, request: Request, pk: int) -> Response:
        evaluation = access.access_evaluation(user=request.user, evaluation_id=pk)
        require(request.user, Action.RECORD_CLINICAL)
        data = s.ReasonIn(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        evaluation = services.mark_evaluation_entered_in_error(
            evaluation=evaluation, by=request.user, reason=data.validated_data["reason"]
        )
        return Response(s.EvaluationOut(evaluation).data)


# ---------------------------------------------------------------------------------------------
# Measures
# ---------------------------------------------------------------------------------------------


def _baselines(measures: list[Measure]) -> dict[int, Measure | None]:
    """Baseline of each measure (same patient, plan and instrument) in one query."""
    if not measures:
        return {}
    pool = list(
        Measure.objects.filter(
            patient_id__in={m.patient_id for m in measures},
            instrument__in={m.instrument for m in measures},
            status=RecordStatus.FINAL,
        )
    )
    groups: dict[tuple, list[Measure]] = {}
    for m in pool:
        groups.setdefault((m.patient_id, m.plan_id, m.instrument), []).append(m)
    return {
        m.pk: baseline_for(
            groups.get((m.patient_id, m.plan_id, m.instrument), []), instrument=m.instrument
        )
        for m in measures
    }


class MeasureListCreateView(AuditedListMixin, generics.ListCreateAPIView):
    error_codes = {
        400: (P.COMPONENT_NOT_IN_PLAN, P.PLAN_NOT_OF_PATIENT, P.INVALID_ANSWERS),
        404: (),
    }

    serializer_class = s.MeasureOut
    filterset_class = MeasureFilter
    audit_object_type = "plans.measure"

    def get_queryset(self):
        return access.visible_measures(self.request.user)

    def get_serializer(self, *args: Any, **kwargs: Any):
        if args and not kwargs.get("data"):
            rows = args[0]
            rows = list(rows) if not isinstance(rows, Measure) else [rows]
            kwargs.setdefault("context", self.get_serializer_context())
            kwargs["context"]["baselines"] = _baselines(rows)
            if not isinstance(args[0], Measure):
                args = (rows, *args[1:])
        return super().get_serializer(*args, **kwargs)

    @extend_schema(request=s.MeasureIn, responses={201: s.MeasureOut})
    def post(self, request: Request) -> Response:
        data = s.MeasureIn(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        patient, plan, component = _scope(request, values)
        require(request.user, Action.RECORD_CLINICAL)
        measure = services.record_measure(
            patient=patient,
            plan=plan,
            component=component,
            by=request.user,
            instrument=values["instrument"],
            answers=values["answers"],
            taken_at=values.get("taken_at") or timezone.now(),
            is_baseline=values.get("is_baseline"),
        )
        return Response(
            s.MeasureOut(measure, context={"baselines": _baselines([measure])}).data,
            status=status.HTTP_201_CREATED,
        )


class MeasureDetailView(APIView):
    @extend_schema(responses=s.MeasureOut)
    def get(self, request: Request, pk: int) -> Response:
        measure = access.access_measure(user=request.user, measure_id=pk)
        audit_read(request, measure, measure.patient_id)
        return Response(s.MeasureOut(measure, context={"baselines": _baselines([measure])}).data)


# ---------------------------------------------------------------------------------------------
# Flags
# ---------------------------------------------------------------------------------------------


class FlagListView(AuditedListMixin, generics.ListAPIView):
    serializer_class = s.FlagOut
    filterset_class = FlagFilter
    audit_object_type = "plans.flag"

    def get_queryset(self):
        # safety-critical flags first, then by severity (issue 15)
        return order_flags_by_priority(
            access.visible_flags(self.request.user).select_related("plan")
        )


class FlagDetailView(APIView):
    @extend_schema(responses=s.FlagOut)
    def get(self, request: Request, pk: int) -> Response:
        flag = access.access_flag(user=request.user, flag_id=pk)
        audit_read(request, flag, flag.patient_id)
        return Response(s.FlagOut(flag).data)


class FlagDismissView(APIView):
    """Dismiss an open flag; the reason is required (400 ``reason_required``)."""

    error_codes = {400: (P.REASON_REQUIRED,), 409: (P.FLAG_NOT_OPEN,)}

    @extend_schema(request=s.ReasonRequiredIn, responses=s.FlagOut)
    def post(self, request: Request, pk: int) -> Response:
        flag = access.access_flag(user=request.user, flag_id=pk)
        require(request.user, Action.HANDLE_FLAGS)
        data = s.ReasonIn(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        flag = services.dismiss_flag(
            flag=flag, by=request.user, reason=data.validated_data["reason"]
        )
        return Response(s.FlagOut(flag).data)

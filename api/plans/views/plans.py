"""Plans (list, detail, state changes, readiness) and their components."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpResponseBase
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.boundary import resolve_subject
from api.pagination_cursor import KeysetPagination
from api.plans.detail import plan_detail_payload
from api.plans.filters import PlanFilter
from api.plans.rows import plan_rows_for, plan_rows_sql
from api.plans.serializers.plans import (
    ComponentIn,
    ComponentOut,
    ComponentPatchIn,
    PlanDetailOut,
    PlanIn,
    PlanOut,
    PlanPatchIn,
    PlanReadinessOut,
    ReasonIn,
    ReasonRequiredIn,
)
from api.plans.views.common import (
    COMPONENT_INPUT_CODES,
    AuditedListMixin,
    audit_read,
)
from plans import access, services
from plans.access import Action, require
from plans.errors import PlanErrorCode as P
from plans.models import CarePlan, PlanComponent
from plans.selectors import (
    components_with_protocols,
    get_plan_detail,
    get_plan_readiness,
    plans_for_detail,
)


def _plan_detail_response(
    plan: CarePlan, *, code: int = status.HTTP_200_OK, reload: bool = True
) -> Response:
    """The plan detail (``PlanDetailOut``, built by ``api.plans.detail``). ``reload`` after a
    write (the row changed); a plain read passes the plan ``access_plan`` already loaded with
    its patient, clinic and coordinator (loaded once)."""
    if reload:
        plan = plans_for_detail(CarePlan.objects.filter(pk=plan.pk)).get()
    return Response(plan_detail_payload(plan, get_plan_detail(plan=plan)), status=code)


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

    serializer_class = PlanOut
    filterset_class = PlanFilter
    pagination_class = KeysetPagination
    audit_object_type = "plans.careplan"

    def get_queryset(self):
        return access.visible_plans(self.request.user)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponseBase:  # type: ignore[override]
        """The page's JSON built by PostgreSQL (``api.plans.rows``: exactly ``PlanOut``) in one
        query, written into the body as it comes; then audited (``AuditedListMixin``).
        Queries: token → user, the page, the audit event (+ the COUNT when asked)."""
        paginator = self.paginator
        assert isinstance(paginator, KeysetPagination)
        qs = self.filter_queryset(self.get_queryset())
        response: HttpResponseBase
        if paginator.numbered(request):  # ?page=: ids of the numbered page, then their rows
            page = paginator.paginate_queryset(qs.only("id"), request, view=self)
            rows = [json.loads(text) for text in plan_rows_for([p.pk for p in page or []])]
            response = paginator.get_paginated_response(rows)
        else:
            response = paginator.json_response(plan_rows_sql(paginator.window(qs, request)))
        self.audit_list(request)
        return response

    @extend_schema(request=PlanIn, responses={201: PlanDetailOut})
    def post(self, request: Request) -> Response:
        resolve_subject(PlanIn, request)  # 404 for an invisible patient before the 403
        require(request.user, Action.MANAGE_PLANS)
        data = PlanIn(data=request.data, context={"request": request})
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

    @extend_schema(responses=PlanDetailOut)
    def get(self, request: Request, pk: int) -> Response:
        plan = access.access_plan(user=request.user, plan_id=pk)
        audit_read(request, plan, plan.patient_id)
        return _plan_detail_response(plan, reload=False)

    @extend_schema(request=PlanPatchIn, responses=PlanDetailOut)
    def patch(self, request: Request, pk: int) -> Response:
        plan = access.access_plan(user=request.user, plan_id=pk)
        require(request.user, Action.MANAGE_PLANS)
        data = PlanPatchIn(data=request.data, partial=True, context={"request": request})
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        services.update_plan(plan=plan, by=request.user, **values)
        return _plan_detail_response(plan)


class _PlanActionView(APIView):
    """One view per state change (STYLE.md habit 3); 409 ``illegal_transition`` otherwise."""

    error_codes: dict = {409: (P.ILLEGAL_TRANSITION,)}

    service: Any = None
    takes_reason = False

    @extend_schema(request=ReasonIn, responses=PlanDetailOut)
    def post(self, request: Request, pk: int) -> Response:
        plan = access.access_plan(user=request.user, plan_id=pk)
        require(request.user, Action.MANAGE_PLANS)
        kwargs: dict[str, Any] = {}
        if self.takes_reason:
            data = ReasonIn(data=request.data, context={"request": request})
            data.is_valid(raise_exception=True)
            kwargs["reason"] = data.validated_data["reason"]
        type(self).service(plan=plan, by=request.user, **kwargs)
        return _plan_detail_response(plan)


@extend_schema_view(post=extend_schema(request=None, responses=PlanDetailOut))
class PlanActivateView(_PlanActionView):
    """draft → active (needs at least one component)."""

    error_codes = {409: (P.ILLEGAL_TRANSITION, P.PLAN_HAS_NO_COMPONENTS)}

    service = staticmethod(services.activate_plan)


class PlanHoldView(_PlanActionView):
    """active → on-hold, with an optional reason."""

    service = staticmethod(services.hold_plan)
    takes_reason = True


@extend_schema_view(post=extend_schema(request=None, responses=PlanDetailOut))
class PlanResumeView(_PlanActionView):
    """on-hold → active."""

    service = staticmethod(services.resume_plan)


class PlanCompleteView(_PlanActionView):
    """active | on-hold → completed."""

    service = staticmethod(services.complete_plan)
    takes_reason = True


@extend_schema_view(post=extend_schema(request=ReasonRequiredIn, responses=PlanDetailOut))
class PlanRevokeView(_PlanActionView):
    """any open status → revoked; the reason is required."""

    error_codes = {400: (P.REASON_REQUIRED,), 409: (P.ILLEGAL_TRANSITION,)}

    service = staticmethod(services.revoke_plan)
    takes_reason = True


class PlanReadinessView(APIView):
    """Per component and requirement: satisfied / missing / expired / not applicable, with the
    reason, source and why it applies; ``ready_to_start`` per component and for the plan."""

    @extend_schema(responses=PlanReadinessOut)
    def get(self, request: Request, pk: int) -> Response:
        plan = access.access_plan(user=request.user, plan_id=pk)
        audit_read(request, plan, plan.patient_id)
        readiness = get_plan_readiness(plan=plan)
        return Response(PlanReadinessOut(readiness).data)


# ---------------------------------------------------------------------------------------------
# Components
# ---------------------------------------------------------------------------------------------


def _component_out(component: PlanComponent) -> dict:
    row = components_with_protocols(PlanComponent.objects.filter(pk=component.pk)).get()
    return ComponentOut(row).data


class PlanComponentCreateView(APIView):
    error_codes = {400: COMPONENT_INPUT_CODES, 409: (P.COMPONENT_LOCKED, P.PLAN_LOCKED)}

    @extend_schema(request=ComponentIn, responses={201: ComponentOut})
    def post(self, request: Request, pk: int) -> Response:
        plan = access.access_plan(user=request.user, plan_id=pk)
        require(request.user, Action.MANAGE_PLANS)
        data = ComponentIn(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        component = services.add_component(plan=plan, by=request.user, **data.validated_data)
        return Response(_component_out(component), status=status.HTTP_201_CREATED)


class ComponentDetailView(APIView):
    error_codes = {400: COMPONENT_INPUT_CODES, 409: (P.COMPONENT_LOCKED, P.PLAN_LOCKED)}

    @extend_schema(responses=ComponentOut)
    def get(self, request: Request, pk: int) -> Response:
        component = access.access_component(user=request.user, component_id=pk)
        audit_read(request, component, component.plan.patient_id)
        return Response(_component_out(component))

    @extend_schema(request=ComponentPatchIn, responses=ComponentOut)
    def patch(self, request: Request, pk: int) -> Response:
        component = access.access_component(user=request.user, component_id=pk)
        require(request.user, Action.MANAGE_PLANS)
        data = ComponentPatchIn(data=request.data, partial=True, context={"request": request})
        data.is_valid(raise_exception=True)
        services.update_component(component=component, by=request.user, **data.validated_data)
        return Response(_component_out(component))

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        component = access.access_component(user=request.user, component_id=pk)
        require(request.user, Action.MANAGE_PLANS)
        services.remove_component(component=component, by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

"""Evaluations, measures and flags."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.plans.filters import (
    EvaluationFilter,
    FlagFilter,
    MeasureFilter,
)
from api.plans.serializers.plans import ReasonIn, ReasonRequiredIn
from api.plans.serializers.records import (
    EvaluationIn,
    EvaluationOut,
    FlagOut,
    MeasureIn,
    MeasureOut,
)
from api.plans.views.common import (
    AuditedListMixin,
    audit_read,
    write_scope,
)
from plans import access, services
from plans.access import Action, require
from plans.errors import PlanErrorCode as P
from plans.flag_order import order_flags_by_priority
from plans.models import Measure, RecordStatus
from plans.selectors import baseline_for

# ---------------------------------------------------------------------------------------------
# Evaluations
# ---------------------------------------------------------------------------------------------


class EvaluationListCreateView(AuditedListMixin, generics.ListCreateAPIView):
    # 404: the patient, plan or component named in the body is not visible to the caller
    error_codes = {
        400: (P.COMPONENT_NOT_IN_PLAN, P.PLAN_NOT_OF_PATIENT, P.INVALID_EVALUATION_DATA),
        404: (),
    }

    serializer_class = EvaluationOut
    filterset_class = EvaluationFilter
    audit_object_type = "plans.evaluation"

    def get_queryset(self):
        return access.visible_evaluations(self.request.user)

    @extend_schema(request=EvaluationIn, responses={201: EvaluationOut})
    def post(self, request: Request) -> Response:
        data = EvaluationIn(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        patient, plan, component = write_scope(request, values)
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
        return Response(EvaluationOut(evaluation).data, status=status.HTTP_201_CREATED)


class EvaluationDetailView(APIView):
    @extend_schema(responses=EvaluationOut)
    def get(self, request: Request, pk: int) -> Response:
        evaluation = access.access_evaluation(user=request.user, evaluation_id=pk)
        audit_read(request, evaluation, evaluation.patient_id)
        return Response(EvaluationOut(evaluation).data)


class EvaluationEnteredInErrorView(APIView):
    """Mark an evaluation entered-in-error (with a reason) instead of deleting it."""

    error_codes = {400: (P.REASON_REQUIRED,), 409: (P.ALREADY_ENTERED_IN_ERROR,)}

    @extend_schema(request=ReasonRequiredIn, responses=EvaluationOut)
    def post(self, request: Request, pk: int) -> Response:
        evaluation = access.access_evaluation(user=request.user, evaluation_id=pk)
        require(request.user, Action.RECORD_CLINICAL)
        data = ReasonIn(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        evaluation = services.mark_evaluation_entered_in_error(
            evaluation=evaluation, by=request.user, reason=data.validated_data["reason"]
        )
        return Response(EvaluationOut(evaluation).data)


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

    serializer_class = MeasureOut
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

    @extend_schema(request=MeasureIn, responses={201: MeasureOut})
    def post(self, request: Request) -> Response:
        data = MeasureIn(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        patient, plan, component = write_scope(request, values)
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
            MeasureOut(measure, context={"baselines": _baselines([measure])}).data,
            status=status.HTTP_201_CREATED,
        )


class MeasureDetailView(APIView):
    @extend_schema(responses=MeasureOut)
    def get(self, request: Request, pk: int) -> Response:
        measure = access.access_measure(user=request.user, measure_id=pk)
        audit_read(request, measure, measure.patient_id)
        return Response(MeasureOut(measure, context={"baselines": _baselines([measure])}).data)


# ---------------------------------------------------------------------------------------------
# Flags
# ---------------------------------------------------------------------------------------------


class FlagListView(AuditedListMixin, generics.ListAPIView):
    serializer_class = FlagOut
    filterset_class = FlagFilter
    audit_object_type = "plans.flag"

    def get_queryset(self):
        # safety-critical flags first, then by severity (issue 15)
        return order_flags_by_priority(
            access.visible_flags(self.request.user).select_related("plan")
        )


class FlagDetailView(APIView):
    @extend_schema(responses=FlagOut)
    def get(self, request: Request, pk: int) -> Response:
        flag = access.access_flag(user=request.user, flag_id=pk)
        audit_read(request, flag, flag.patient_id)
        return Response(FlagOut(flag).data)


class FlagDismissView(APIView):
    """Dismiss an open flag; the reason is required (400 ``reason_required``)."""

    error_codes = {400: (P.REASON_REQUIRED,), 409: (P.FLAG_NOT_OPEN,)}

    @extend_schema(request=ReasonRequiredIn, responses=FlagOut)
    def post(self, request: Request, pk: int) -> Response:
        flag = access.access_flag(user=request.user, flag_id=pk)
        require(request.user, Action.HANDLE_FLAGS)
        data = ReasonIn(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        flag = services.dismiss_flag(
            flag=flag, by=request.user, reason=data.validated_data["reason"]
        )
        return Response(FlagOut(flag).data)

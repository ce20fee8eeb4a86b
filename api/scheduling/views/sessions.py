"""Course scheduling, sessions and their actions (one view per state change), availability."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.filters import FilterBackend
from api.scheduling import serializers as s
from api.scheduling.filters import SessionFilter
from api.scheduling.views.common import audit_read, aware
from plans.access import access_component
from scheduling import access, selectors
from scheduling.errors import SchedulingErrorCode as S
from scheduling.models import Session
from scheduling.services import (
    book_session,
    cancel_session,
    check_in_session,
    complete_session,
    mark_no_show,
    reschedule_session,
    schedule_course,
)

# ---------------------------------------------------------------------------------- course


@extend_schema(tags=["scheduling"])
class ComponentScheduleView(APIView):
    """Generate a component's course from its protocol: preview (commit=false) or book it."""

    error_codes = {
        409: (
            S.COMPONENT_NOT_SCHEDULABLE,
            S.COURSE_ALREADY_SCHEDULED,
            S.NO_SLOTS,
            S.SLOT_CONFLICT,
            S.REMS_SITE_NOT_CERTIFIED,
            S.AUTHORIZATION_EXCEEDED,
        ),
    }

    @extend_schema(
        request=s.ScheduleInputSerializer,
        responses={200: s.CourseScheduleSerializer, 201: s.CourseScheduleSerializer},
    )
    def post(self, request: Request, pk: int) -> Response:
        component = access_component(user=request.user, component_id=pk)
        data = s.ScheduleInputSerializer(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        v = data.validated_data
        clinician = access.access_clinician_in_organization(
            clinician=v["clinician"], organization_id=component.plan.organization_id
        )
        result = schedule_course(
            component=component,
            starts_on=v["starts_on"],
            preferred_start=v["preferred_start"],
            window_end=v["window_end"],
            clinician=clinician,
            by=request.user,
            commit=v["commit"],
            authorization_override_reason=v["authorization_override_reason"],
        )
        if not result.committed:
            audit_read(
                request,
                object_type="plans.plancomponent",
                object_id=component.pk,
                patient_id=component.plan.patient_id,
                preview=True,
            )
        body = s.CourseScheduleSerializer(result).data
        return Response(body, status=status.HTTP_201_CREATED if result.committed else 200)


# ---------------------------------------------------------------------------------- sessions


@extend_schema(tags=["sessions"])
class SessionListView(generics.ListAPIView):
    """Sessions visible to the caller, filtered by date range, clinic, clinician, patient,
    status; POST books one session (an evaluation, a follow-up or a single course session)."""

    error_codes = {
        404: (),  # the component, resources or clinician named in the body
        409: (
            S.CAP_REACHED,
            S.COMPONENT_NOT_SCHEDULABLE,
            S.OUTSIDE_CLINIC_HOURS,
            S.SLOT_CONFLICT,
            S.REMS_SITE_NOT_CERTIFIED,
            S.AUTHORIZATION_EXCEEDED,
            S.COIL_NOT_ALLOWED,
        ),
    }

    serializer_class = s.SessionSerializer
    filter_backends = [FilterBackend]
    filterset_class = SessionFilter

    def get_queryset(self):
        return selectors.list_sessions(user=self.request.user)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().list(request, *args, **kwargs)
        results = response.data.get("results", []) if isinstance(response.data, dict) else []
        patients = sorted({row["patient"] for row in results})
        audit_read(
            request,
            object_type="scheduling.session",
            patient_id=patients[0] if len(patients) == 1 else None,
            patients=patients,
            count=len(results),
        )
        return response

    @extend_schema(request=s.BookSessionInputSerializer, responses={201: s.SessionSerializer})
    def post(self, request: Request) -> Response:
        data = s.BookSessionInputSerializer(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        v = data.validated_data
        component = v["component"]
        clinic = component.plan.clinic
        resources = list(dict.fromkeys(v["resource_ids"])) if v.get("resource_ids") else None
        clinician = access.access_clinician_in_organization(
            clinician=v.get("clinician"), organization_id=component.plan.organization_id
        )
        session = book_session(
            component=component,
            kind=v["kind"],
            starts_at=aware(v["starts_at"], clinic),
            minutes=v.get("minutes"),
            resources=resources,
            clinician=clinician,
            by=request.user,
            authorization_override_reason=v["authorization_override_reason"],
        )
        session = selectors.list_sessions(user=request.user).get(pk=session.pk)
        return Response(s.SessionSerializer(session).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["sessions"])
class SessionDetailView(APIView):
    @extend_schema(responses=s.SessionSerializer)
    def get(self, request: Request, pk: int) -> Response:
        session = access.access_session(user=request.user, session_id=pk)
        audit_read(
            request,
            object_type="scheduling.session",
            object_id=session.pk,
            patient_id=session.patient_id,
        )
        return Response(_render(request, session))


def _render(request: Request, session: Session) -> dict:
    fresh = selectors.list_sessions(user=request.user).filter(pk=session.pk).first() or session
    return s.SessionSerializer(fresh).data


class _SessionAction(APIView):
    input_serializer: type = s.CheckInInputSerializer

    def _load(self, request: Request, pk: int) -> tuple[Session, dict]:
        session = access.access_session(user=request.user, session_id=pk)
        data = self.input_serializer(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        return session, data.validated_data


def _missed(request: Request, session: Session, result: Any) -> Response:
    return Response(
        {
            "session": _render(request, session),
            "make_up": {
                "session": _render(request, result.session) if result.session else None,
                "problem": result.problem,
            },
        }
    )


@extend_schema(tags=["sessions"])
class SessionRescheduleView(_SessionAction):
    error_codes = {
        409: (
            S.ILLEGAL_TRANSITION,
            S.OUTSIDE_CLINIC_HOURS,
            S.SLOT_CONFLICT,
            S.REMS_SITE_NOT_CERTIFIED,
            S.AUTHORIZATION_EXCEEDED,
        ),
    }

    input_serializer = s.RescheduleInputSerializer

    @extend_schema(request=s.RescheduleInputSerializer, responses=s.SessionSerializer)
    def post(self, request: Request, pk: int) -> Response:
        session, v = self._load(request, pk)
        moved = reschedule_session(
            session=session,
            starts_at=aware(v["starts_at"], session.clinic),
            by=request.user,
            authorization_override_reason=v["authorization_override_reason"],
        )
        return Response(_render(request, moved))


# Cancel and no-show: the make-up session appended to the course can conflict like any booking.
MISSED_SESSION_CODES = {
    409: (
        S.ILLEGAL_TRANSITION,
        S.SLOT_CONFLICT,
        S.REMS_SITE_NOT_CERTIFIED,
        S.AUTHORIZATION_EXCEEDED,
    ),
}


@extend_schema(tags=["sessions"])
class SessionCancelView(_SessionAction):
    error_codes = MISSED_SESSION_CODES

    input_serializer = s.CancelInputSerializer

    @extend_schema(request=s.CancelInputSerializer, responses=s.MissedSessionOutputSerializer)
    def post(self, request: Request, pk: int) -> Response:
        session, v = self._load(request, pk)
        result = cancel_session(session=session, reason=v["reason"], by=request.user)
        return _missed(request, session, result)


@extend_schema(tags=["sessions"])
class SessionNoShowView(_SessionAction):
    error_codes = MISSED_SESSION_CODES

    input_serializer = s.NoShowInputSerializer

    @extend_schema(request=s.NoShowInputSerializer, responses=s.MissedSessionOutputSerializer)
    def post(self, request: Request, pk: int) -> Response:
        session, v = self._load(request, pk)
        result = mark_no_show(session=session, note=v["note"], by=request.user)
        return _missed(request, session, result)


@extend_schema(tags=["sessions"])
class SessionCheckInView(_SessionAction):
    """Check in behind the readiness gate; 409 ``readiness_gate_blocked`` lists the missing
    steps; a prescriber may pass ``override_reason``."""

    error_codes = {409: (S.ILLEGAL_TRANSITION, S.READINESS_GATE_BLOCKED)}

    input_serializer = s.CheckInInputSerializer

    @extend_schema(request=s.CheckInInputSerializer, responses=s.SessionSerializer)
    def post(self, request: Request, pk: int) -> Response:
        session, v = self._load(request, pk)
        checked = check_in_session(
            session=session, override_reason=v["override_reason"], by=request.user
        )
        return Response(_render(request, checked))


@extend_schema(tags=["sessions"])
class SessionCompleteView(_SessionAction):
    error_codes = {400: (S.COMPLETION_INVALID,), 409: (S.ILLEGAL_TRANSITION,)}

    input_serializer = s.CompleteInputSerializer

    @extend_schema(request=s.CompleteInputSerializer, responses=s.SessionSerializer)
    def post(self, request: Request, pk: int) -> Response:
        session, v = self._load(request, pk)
        done = complete_session(session=session, completion=v["completion"], by=request.user)
        return Response(_render(request, done))


# ---------------------------------------------------------------------------------- availability


@extend_schema(tags=["scheduling"])
class AvailabilityView(APIView):
    """Free slots for one resource of a kind, for a duration, over a date range (≤ 31 days)."""

    error_codes = {404: ()}  # the clinic named in the query

    @extend_schema(
        parameters=[s.AvailabilityQuerySerializer], responses=s.FreeSlotSerializer(many=True)
    )
    def get(self, request: Request) -> Response:
        query = s.AvailabilityQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        v = query.validated_data
        clinic = access.access_clinic(user=request.user, clinic_id=v["clinic"])
        slots = selectors.find_free_slots(
            clinic=clinic,
            kind=v["kind"],
            minutes=v["minutes"],
            start_date=v["start"],
            end_date=v["end"],
        )
        return Response(s.FreeSlotSerializer(slots, many=True).data)

"""Scheduling API: clinics, resources, clinician hours, course scheduling, sessions and their
actions (one view per state change), availability search and calendar feeds.

Views validate shape, authorise through ``plans.access`` / ``scheduling.selectors`` (another
organisation's object is a 404) and call one service (STYLE.md habit 3).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.http import HttpResponse
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, mixins, status, viewsets
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.scheduling import serializers as s
from api.scheduling.filters import ResourceFilter, SessionFilter
from backend.accounts.models import Organization, Role, User
from backend.audit.models import AuditAction
from backend.audit.services import record_event
from backend.errors import ConflictError, ErrorCode, NotFoundError
from plans.access import Action, access_component, require
from scheduling import selectors
from scheduling.errors import SchedulingErrorCode as S
from scheduling.models import CalendarFeed, Clinic, ClinicianHours, Resource, Session
from scheduling.services import (
    book_session,
    cancel_session,
    check_in_session,
    complete_session,
    mark_no_show,
    reschedule_session,
    schedule_course,
)
from scheduling.services.clinics import (
    add_closure,
    generate_closures,
    remove_closure,
    set_clinic_hours,
)
from scheduling.services.feeds import (
    create_feed,
    hash_token,
    may_manage_feed,
    render_feed,
    revoke_feed,
)

# ---------------------------------------------------------------------------------- helpers


def _aware(value: datetime, clinic: Clinic) -> datetime:
    """A naive datetime is the clinic's local wall-clock time (promise 9)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=ZoneInfo(clinic.timezone))
    return value


def _audit_read(request: Request, *, object_type: str, object_id: Any = "", patient_id=None,
                **detail: Any) -> None:  # fmt: skip
    record_event(
        actor=request.user,
        action=AuditAction.READ,
        object_type=object_type,
        object_id=object_id,
        patient_id=patient_id,
        detail=detail,
    )


def _clinician_in_org(clinician: User | None, organization_id: int | None) -> User | None:
    """The payload's clinician (already resolved inside what the caller sees) must work for the
    plan's organisation — only an admin can name one who does not; same 404 as unknown."""
    if clinician is None:
        return None
    if organization_id is not None and clinician.organization_id != organization_id:
        raise NotFoundError("Clinician not found.", fields={"clinician": ["not found"]})
    return clinician


# ---------------------------------------------------------------------------------- clinics


@extend_schema(tags=["clinics"])
class ClinicViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Sites: staff of the organisation read; coordinators (and admins) write. No delete."""

    error_codes = {409: (ErrorCode.CONFLICT,)}

    serializer_class = s.ClinicSerializer

    def get_queryset(self):
        return selectors.visible_clinics(self.request.user).prefetch_related("hours", "closures")

    def get_object(self) -> Clinic:
        return selectors.access_clinic(user=self.request.user, clinic_id=self.kwargs["pk"])

    def _organization(self) -> Organization:
        user = self.request.user
        if user.role == Role.ADMIN:
            org_id = self.request.data.get("organization")
            valid = isinstance(org_id, int) and not isinstance(org_id, bool) and 0 < org_id < 2**31
            org = Organization.objects.filter(pk=org_id).first() if valid else None
            if org is None:
                from rest_framework.exceptions import ValidationError

                raise ValidationError({"organization": ["required for a platform admin"]})
            return org
        return user.organization

    @transaction.atomic
    def _save(self, serializer, **kwargs: Any) -> None:
        hours = serializer.validated_data.pop("hours", None)
        try:
            with transaction.atomic():
                clinic = serializer.save(**kwargs)
        except IntegrityError:
            raise ConflictError(
                ErrorCode.CONFLICT,
                "A clinic with this name already exists in the organisation.",
                fields={"name": ["already used in this organisation"]},
            ) from None
        if hours is not None:
            set_clinic_hours(clinic=clinic, hours=hours)

    def perform_create(self, serializer) -> None:
        require(self.request.user, Action.SCHEDULE)
        self._save(serializer, organization=self._organization())

    def perform_update(self, serializer) -> None:
        require(self.request.user, Action.SCHEDULE)
        self._save(serializer)


@extend_schema(tags=["clinics"])
class ClinicClosuresView(APIView):
    """Closures of a clinic: list, add one (POST), remove one (DELETE ?date=YYYY-MM-DD)."""

    @extend_schema(responses=s.ClinicClosureSerializer(many=True))
    def get(self, request: Request, pk: int) -> Response:
        clinic = selectors.access_clinic(user=request.user, clinic_id=pk)
        return Response(s.ClinicClosureSerializer(clinic.closures.all(), many=True).data)

    @extend_schema(request=s.ClosureInputSerializer, responses={201: s.ClinicClosureSerializer})
    def post(self, request: Request, pk: int) -> Response:
        clinic = selectors.access_clinic(user=request.user, clinic_id=pk)
        require(request.user, Action.SCHEDULE)
        data = s.ClosureInputSerializer(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        closure = add_closure(
            clinic=clinic, day=data.validated_data["date"], reason=data.validated_data["reason"]
        )
        return Response(s.ClinicClosureSerializer(closure).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "date", OpenApiTypes.DATE, required=True, description=s.CLOSURE_WINDOW.describe()
            )
        ],
        responses={204: None},
    )
    def delete(self, request: Request, pk: int) -> Response:
        clinic = selectors.access_clinic(user=request.user, clinic_id=pk)
        require(request.user, Action.SCHEDULE)
        data = s.ClosureInputSerializer(data={"date": request.query_params.get("date")})
        data.is_valid(raise_exception=True)
        if not remove_closure(clinic=clinic, day=data.validated_data["date"]):
            raise NotFoundError("Closure not found.")
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["clinics"])
class ClinicGenerateClosuresView(APIView):
    """Add the public holidays of the clinic's country/subdivision for a year as closures."""

    error_codes = {400: (S.HOLIDAYS_UNAVAILABLE,)}

    @extend_schema(
        request=s.GenerateClosuresInputSerializer,
        responses={201: s.GenerateClosuresOutputSerializer},
    )
    def post(self, request: Request, pk: int) -> Response:
        clinic = selectors.access_clinic(user=request.user, clinic_id=pk)
        require(request.user, Action.SCHEDULE)
        data = s.GenerateClosuresInputSerializer(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        created = generate_closures(clinic=clinic, year=data.validated_data["year"])
        return Response(
            {"created": s.ClinicClosureSerializer(created, many=True).data},
            status=status.HTTP_201_CREATED,
        )


@extend_schema(tags=["clinics"])
class ResourceViewSet(viewsets.ModelViewSet):
    """Bookable resources. Delete deactivates (bookings keep their history)."""

    error_codes = {404: (), 409: (ErrorCode.CONFLICT,)}  # 404: the clinic named in the body

    serializer_class = s.ResourceSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = ResourceFilter

    def get_queryset(self):
        return selectors.visible_resources(self.request.user).order_by("clinic", "kind", "name")

    def _check_clinic(self, clinic: Clinic) -> None:
        selectors.access_clinic(user=self.request.user, clinic_id=clinic.pk)
        require(self.request.user, Action.SCHEDULE)

    def _save(self, serializer) -> None:
        try:
            with transaction.atomic():
                serializer.save()
        except IntegrityError:
            raise ConflictError(
                ErrorCode.CONFLICT,
                "A resource with this name already exists at the clinic.",
                fields={"name": ["already used at this clinic"]},
            ) from None

    def perform_create(self, serializer) -> None:
        self._check_clinic(serializer.validated_data["clinic"])
        self._save(serializer)

    def perform_update(self, serializer) -> None:
        require(self.request.user, Action.SCHEDULE)
        self._check_clinic(serializer.validated_data.get("clinic", serializer.instance.clinic))
        self._save(serializer)

    def perform_destroy(self, instance: Resource) -> None:
        require(self.request.user, Action.SCHEDULE)
        instance.is_active = False
        instance.save(update_fields=["is_active"])


@extend_schema(tags=["clinics"])
class ClinicianHoursViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Clinician working hours per clinic: coordinators manage; clinicians their own."""

    error_codes = {404: ()}  # the clinician or clinic named in the body

    serializer_class = s.ClinicianHoursSerializer

    def get_queryset(self):
        return ClinicianHours.objects.filter(
            clinic__in=selectors.visible_clinics(self.request.user).values("pk")
        ).order_by("clinician", "weekday", "starts")

    def _check(self, clinician: User, clinic: Clinic) -> None:
        user = self.request.user
        selectors.access_clinic(user=user, clinic_id=clinic.pk)
        if clinician.role != Role.CLINICIAN or clinician.organization_id != clinic.organization_id:
            raise NotFoundError("Clinician not found.")
        if not (user.role in (Role.COORDINATOR, Role.ADMIN) or user.pk == clinician.pk):
            raise PermissionDenied("only coordinators or the clinician manage working hours")

    def perform_create(self, serializer) -> None:
        self._check(serializer.validated_data["clinician"], serializer.validated_data["clinic"])
        serializer.save()

    def perform_destroy(self, instance: ClinicianHours) -> None:
        self._check(instance.clinician, instance.clinic)
        instance.delete()


# ---------------------------------------------------------------------------------- course


@extend_schema(tags=["scheduling"])
class ComponentScheduleView(APIView):
    """Generate a component's course from its protocol: preview (commit=false) or book it."""

    error_codes = {
        409: (S.COMPONENT_NOT_SCHEDULABLE, S.COURSE_ALREADY_SCHEDULED, S.NO_SLOTS,
              S.SLOT_CONFLICT, S.REMS_SITE_NOT_CERTIFIED, S.AUTHORIZATION_EXCEEDED),
    }  # fmt: skip

    @extend_schema(
        request=s.ScheduleInputSerializer,
        responses={200: s.CourseScheduleSerializer, 201: s.CourseScheduleSerializer},
    )
    def post(self, request: Request, pk: int) -> Response:
        component = access_component(user=request.user, component_id=pk)
        data = s.ScheduleInputSerializer(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        v = data.validated_data
        clinician = _clinician_in_org(v["clinician"], component.plan.organization_id)
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
            _audit_read(
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
        409: (S.CAP_REACHED, S.COMPONENT_NOT_SCHEDULABLE, S.OUTSIDE_CLINIC_HOURS,
              S.SLOT_CONFLICT, S.REMS_SITE_NOT_CERTIFIED, S.AUTHORIZATION_EXCEEDED,
              S.COIL_NOT_ALLOWED),
    }  # fmt: skip

    serializer_class = s.SessionSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = SessionFilter

    def get_queryset(self):
        return selectors.list_sessions(user=self.request.user)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().list(request, *args, **kwargs)
        results = response.data.get("results", []) if isinstance(response.data, dict) else []
        patients = sorted({row["patient"] for row in results})
        _audit_read(
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
        clinician = _clinician_in_org(v.get("clinician"), component.plan.organization_id)
        session = book_session(
            component=component,
            kind=v["kind"],
            starts_at=_aware(v["starts_at"], clinic),
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
        session = selectors.access_session(user=request.user, session_id=pk)
        _audit_read(
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
        session = selectors.access_session(user=request.user, session_id=pk)
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
        409: (S.ILLEGAL_TRANSITION, S.OUTSIDE_CLINIC_HOURS, S.SLOT_CONFLICT,
              S.REMS_SITE_NOT_CERTIFIED, S.AUTHORIZATION_EXCEEDED),
    }  # fmt: skip

    input_serializer = s.RescheduleInputSerializer

    @extend_schema(request=s.RescheduleInputSerializer, responses=s.SessionSerializer)
    def post(self, request: Request, pk: int) -> Response:
        session, v = self._load(request, pk)
        moved = reschedule_session(
            session=session,
            starts_at=_aware(v["starts_at"], session.clinic),
            by=request.user,
            authorization_override_reason=v["authorization_override_reason"],
        )
        return Response(_render(request, moved))


@extend_schema(tags=["sessions"])
class SessionCancelView(_SessionAction):
    # the make-up session appended to the course can conflict like any booking
    error_codes = {
        409: (S.ILLEGAL_TRANSITION, S.SLOT_CONFLICT, S.REMS_SITE_NOT_CERTIFIED,
              S.AUTHORIZATION_EXCEEDED),
    }  # fmt: skip

    input_serializer = s.CancelInputSerializer

    @extend_schema(request=s.CancelInputSerializer, responses=s.MissedSessionOutputSerializer)
    def post(self, request: Request, pk: int) -> Response:
        session, v = self._load(request, pk)
        result = cancel_session(session=session, reason=v["reason"], by=request.user)
        return _missed(request, session, result)


@extend_schema(tags=["sessions"])
class SessionNoShowView(_SessionAction):
    # the make-up session appended to the course can conflict like any booking
    error_codes = {
        409: (S.ILLEGAL_TRANSITION, S.SLOT_CONFLICT, S.REMS_SITE_NOT_CERTIFIED,
              S.AUTHORIZATION_EXCEEDED),
    }  # fmt: skip

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
        clinic = selectors.access_clinic(user=request.user, clinic_id=v["clinic"])
        slots = selectors.find_free_slots(
            clinic=clinic,
            kind=v["kind"],
            minutes=v["minutes"],
            start_date=v["start"],
            end_date=v["end"],
        )
        return Response(s.FreeSlotSerializer(slots, many=True).data)


# ---------------------------------------------------------------------------------- feeds


def _managed_feeds(user: Any):
    qs = CalendarFeed.objects.select_related("patient").order_by("-created_at")
    if user.role == Role.ADMIN:
        return qs
    if user.role == Role.COORDINATOR:
        return qs.filter(patient__organization_id=user.organization_id)
    if user.role == Role.PATIENT:
        return qs.filter(patient__user_id=user.pk)
    if user.role == Role.CLINICIAN:
        return qs.filter(clinician_id=user.pk)
    return qs.none()


@extend_schema(tags=["feeds"])
class FeedListView(APIView):
    """Calendar feeds the caller manages; POST creates one and returns its secret URL once."""

    error_codes = {400: (S.FEED_OWNER_INVALID,), 404: ()}

    @extend_schema(responses=s.FeedSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(s.FeedSerializer(_managed_feeds(request.user), many=True).data)

    @extend_schema(request=s.FeedInputSerializer, responses={201: s.FeedCreatedSerializer})
    def post(self, request: Request) -> Response:
        data = s.FeedInputSerializer(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        v = data.validated_data
        if v["patient"] is not None:
            patient = v["patient"]
            feed, token = create_feed(by=request.user, patient=patient)
        else:
            if v["clinician"].pk != request.user.pk:
                raise PermissionDenied("a clinician feed is created by that clinician")
            feed, token = create_feed(by=request.user, clinician=request.user)
        body = dict(s.FeedSerializer(feed).data)
        body["url"] = request.build_absolute_uri(f"/api/v1/feeds/{token}.ics")
        return Response(body, status=status.HTTP_201_CREATED)


@extend_schema(tags=["feeds"])
class FeedRevokeView(APIView):
    @extend_schema(request=None, responses=s.FeedSerializer)
    def post(self, request: Request, pk: int) -> Response:
        feed = _managed_feeds(request.user).filter(pk=pk).first()
        if feed is None or not may_manage_feed(user=request.user, feed=feed):
            raise NotFoundError("Feed not found.")
        return Response(s.FeedSerializer(revoke_feed(feed=feed, by=request.user)).data)


@extend_schema(tags=["feeds"])
class FeedIcsView(APIView):
    """The feed itself, for calendar apps: the secret token is the only credential."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(
        auth=[],
        responses={
            (200, "text/calendar"): OpenApiResponse(OpenApiTypes.STR, description="iCalendar"),
            404: OpenApiResponse(description="Unknown or revoked feed"),
        },
    )
    def get(self, request: Request, token: str) -> HttpResponse:
        feed = selectors.get_feed_by_token_hash(token_hash=hash_token(token))
        if feed is None:
            raise NotFoundError("Feed not found.")
        body = render_feed(feed=feed)
        record_event(
            actor=None,
            action=AuditAction.READ,
            object_type="scheduling.calendarfeed",
            object_id=feed.pk,
            patient_id=feed.patient_id,
        )
        response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
        response["Cache-Control"] = "private, no-store"
        return response

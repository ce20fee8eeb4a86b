"""Clinics, their closures and resources, and clinicians' working hours."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.filters import FilterBackend
from api.requests import AuthenticatedRequest
from api.scheduling import serializers as s
from api.scheduling.filters import ResourceFilter
from backend.accounts.models import Organization, Role, User
from backend.errors import ConflictError, ErrorCode, NotFoundError
from plans.access import Action, require
from scheduling import access
from scheduling.errors import SchedulingErrorCode as S
from scheduling.models import Clinic, ClinicianHours, Resource
from scheduling.services.clinics import (
    add_closure,
    generate_closures,
    remove_closure,
    set_clinic_hours,
)


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

    request: AuthenticatedRequest
    serializer_class = s.ClinicSerializer

    def get_queryset(self):
        return access.visible_clinics(self.request.user).prefetch_related("hours", "closures")

    def get_object(self) -> Clinic:
        return access.access_clinic(user=self.request.user, clinic_id=self.kwargs["pk"])

    def _organization(self) -> Organization | None:
        user = self.request.user
        if user.role == Role.ADMIN:
            data = self.request.data
            org_id = data.get("organization") if isinstance(data, dict) else None
            org = None
            if isinstance(org_id, int) and not isinstance(org_id, bool) and 0 < org_id < 2**31:
                org = Organization.objects.filter(pk=org_id).first()
            if org is None:
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
        clinic = access.access_clinic(user=request.user, clinic_id=pk)
        return Response(s.ClinicClosureSerializer(clinic.closures.all(), many=True).data)

    @extend_schema(request=s.ClosureInputSerializer, responses={201: s.ClinicClosureSerializer})
    def post(self, request: Request, pk: int) -> Response:
        clinic = access.access_clinic(user=request.user, clinic_id=pk)
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
        clinic = access.access_clinic(user=request.user, clinic_id=pk)
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
        clinic = access.access_clinic(user=request.user, clinic_id=pk)
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
    filter_backends = [FilterBackend]
    filterset_class = ResourceFilter

    def get_queryset(self):
        return access.visible_resources(self.request.user).order_by("clinic", "kind", "name")

    def _check_clinic(self, clinic: Clinic) -> None:
        access.access_clinic(user=self.request.user, clinic_id=clinic.pk)
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

    request: AuthenticatedRequest
    serializer_class = s.ClinicianHoursSerializer

    def get_queryset(self):
        return access.visible_clinician_hours(self.request.user).order_by(
            "clinician", "weekday", "starts"
        )

    def _check(self, clinician: User, clinic: Clinic) -> None:
        access.require_manage_clinician_hours(
            user=self.request.user, clinician=clinician, clinic=clinic
        )

    def perform_create(self, serializer) -> None:
        self._check(serializer.validated_data["clinician"], serializer.validated_data["clinic"])
        serializer.save()

    def perform_destroy(self, instance: ClinicianHours) -> None:
        self._check(instance.clinician, instance.clinic)
        instance.delete()

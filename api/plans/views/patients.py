"""Patients and care teams."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.plans.serializers.patients import CareTeamIn, PatientIn, PatientOut, PatientPatchIn
from api.plans.views.common import (
    PATIENT_INPUT_CODES,
    AuditedListMixin,
    audit_read,
)
from api.requests import AuthenticatedRequest
from backend.accounts.models import Role, User
from backend.errors import InvalidInput, NotFoundError
from plans import access, services
from plans.access import Action, require
from plans.errors import PlanErrorCode
from plans.errors import PlanErrorCode as P
from plans.models import CareTeamMember, Patient


def _patients(user: User) -> QuerySet[Patient]:
    return access.visible_patients(user).prefetch_related(
        Prefetch("team_members", queryset=CareTeamMember.objects.select_related("user"))
    )


class PatientListCreateView(AuditedListMixin, generics.ListCreateAPIView):
    error_codes = {400: PATIENT_INPUT_CODES, 409: (P.DUPLICATE_MRN,)}

    serializer_class = PatientOut
    audit_object_type = "plans.patient"

    def get_queryset(self):
        return _patients(self.request.user)

    @extend_schema(request=PatientIn, responses={201: PatientOut})
    # narrower than ListCreateAPIView.post: DRF calls it only once IsAuthenticated passed
    def post(self, request: AuthenticatedRequest) -> Response:  # type: ignore[override]
        require(request.user, Action.MANAGE_PATIENTS)
        # "organization" is validated for everyone (its type, and visibility: a non-admin sees
        # only their own organisation, another's id is 404); everyone but an admin creates in
        # their own organisation
        data = PatientIn(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        organization = values.pop("organization", None)
        if request.user.role != Role.ADMIN or organization is None:
            organization = request.user.organization
        if organization is None:
            raise InvalidInput(
                PlanErrorCode.USER_NOT_IN_ORGANIZATION,
                "Organisation required.",
                fields={"organization": ["required"]},
            )
        team = values.pop("care_team", [])
        patient = services.create_patient(
            organization=organization, by=request.user, care_team=tuple(team), **values
        )
        return Response(PatientOut(_patients(request.user).get(pk=patient.pk)).data, status=201)


class PatientDetailView(APIView):
    error_codes = {400: PATIENT_INPUT_CODES, 409: (P.DUPLICATE_MRN,)}

    @extend_schema(responses=PatientOut)
    def get(self, request: AuthenticatedRequest, pk: int) -> Response:
        patient = access.access_patient(user=request.user, patient_id=pk)
        audit_read(request, patient, patient.pk)
        return Response(PatientOut(_patients(request.user).get(pk=patient.pk)).data)

    @extend_schema(request=PatientPatchIn, responses=PatientOut)
    def patch(self, request: AuthenticatedRequest, pk: int) -> Response:
        patient = access.access_patient(user=request.user, patient_id=pk)
        require(request.user, Action.MANAGE_PATIENTS)
        data = PatientPatchIn(data=request.data, partial=True, context={"request": request})
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        services.update_patient(patient=patient, by=request.user, **values)
        return Response(PatientOut(_patients(request.user).get(pk=patient.pk)).data)


class CareTeamAddView(APIView):
    error_codes = {400: (P.CARE_TEAM_MEMBER_INVALID, P.USER_NOT_IN_ORGANIZATION)}

    @extend_schema(request=CareTeamIn, responses={201: PatientOut})
    def post(self, request: AuthenticatedRequest, pk: int) -> Response:
        patient = access.access_patient(user=request.user, patient_id=pk)
        require(request.user, Action.MANAGE_PATIENTS)
        data = CareTeamIn(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        user = data.validated_data["user"]
        services.add_care_team_member(
            patient=patient, user=user, role=data.validated_data["role"], by=request.user
        )
        return Response(PatientOut(_patients(request.user).get(pk=patient.pk)).data, status=201)


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

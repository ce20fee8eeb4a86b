"""Patients and care teams. MRN unique per organisation (promise 3), E.164 phone, IANA zone."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import phonenumbers
from django.db import IntegrityError, transaction

from backend.accounts.models import Organization, Role
from backend.audit.models import AuditAction
from backend.errors import ConflictError, InvalidInput
from plans.errors import PlanErrorCode
from plans.models import CareTeamMember, Patient
from plans.services._common import audit_write

PATIENT_FIELDS = frozenset(
    {
        "mrn",
        "given_name",
        "family_name",
        "birth_date",
        "phone",
        "email",
        "timezone",
        "preferred_channel",
        "sms_consent_at",
        "user",
    }
)


def normalise_phone(value: str, *, region: str = "US") -> str:
    """E.164 or '' — raises InvalidInput(invalid_phone)."""
    if not value:
        return ""
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_possible_number(number):
        raise InvalidInput(
            PlanErrorCode.INVALID_PHONE,
            "Not a valid phone number.",
            fields={"phone": ["a valid phone number, e.g. +15555550123"]},
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def validate_timezone(value: str) -> str:
    try:
        if not value or value not in available_timezones():
            raise ZoneInfoNotFoundError(value)
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(
            PlanErrorCode.INVALID_TIMEZONE,
            "Unknown time zone.",
            fields={"timezone": ["an IANA time zone, e.g. America/New_York"]},
        ) from None
    return value


def _duplicate_mrn(mrn: str) -> ConflictError:
    return ConflictError(
        PlanErrorCode.DUPLICATE_MRN,
        "A patient with this MRN already exists in the organisation.",
        fields={"mrn": ["already used in this organisation"]},
    )


def _validate_user(user: Any, organization_id: int) -> None:
    if user is None:
        return
    if user.role != Role.PATIENT or user.organization_id != organization_id:
        raise InvalidInput(
            PlanErrorCode.USER_NOT_IN_ORGANIZATION,
            "The linked login must be a patient user of the same organisation.",
            fields={"user": ["a patient login of this organisation"]},
        )


def _save(patient: Patient, **kwargs: Any) -> None:
    try:
        with transaction.atomic():
            patient.save(**kwargs)
    except IntegrityError as exc:
        if "patient_mrn_per_org" in str(exc):
            raise _duplicate_mrn(patient.mrn) from None
        raise


@transaction.atomic
def create_patient(
    *, organization: Organization, by: Any, care_team: tuple = (), **fields: Any
) -> Patient:
    """Create a patient (fields: ``PATIENT_FIELDS``); optional initial care team of clinicians."""
    unknown = set(fields) - PATIENT_FIELDS
    if unknown:
        raise TypeError(f"unknown patient fields: {sorted(unknown)}")
    fields["phone"] = normalise_phone(fields.get("phone", ""))
    fields["timezone"] = validate_timezone(fields.get("timezone", ""))
    _validate_user(fields.get("user"), organization.pk)
    if Patient.objects.filter(organization=organization, mrn=fields.get("mrn")).exists():
        raise _duplicate_mrn(fields.get("mrn", ""))
    patient = Patient(organization=organization, **fields)
    _save(patient)
    for member in care_team:
        _add_member(patient=patient, user=member, role="")
    audit_write(by=by, action=AuditAction.CREATE, obj=patient, patient_id=patient.pk)
    return patient


@transaction.atomic
def update_patient(*, patient: Patient, by: Any, **changes: Any) -> Patient:
    unknown = set(changes) - PATIENT_FIELDS
    if unknown:
        raise TypeError(f"unknown patient fields: {sorted(unknown)}")
    if "phone" in changes:
        changes["phone"] = normalise_phone(changes["phone"] or "")
    if "timezone" in changes:
        changes["timezone"] = validate_timezone(changes["timezone"])
    if "user" in changes:
        _validate_user(changes["user"], patient.organization_id)
    if "mrn" in changes and changes["mrn"] != patient.mrn:
        clash = Patient.objects.filter(organization_id=patient.organization_id, mrn=changes["mrn"])
        if clash.exclude(pk=patient.pk).exists():
            raise _duplicate_mrn(changes["mrn"])
    for name, value in changes.items():
        setattr(patient, name, value)
    _save(patient)
    audit_write(
        by=by,
        action=AuditAction.UPDATE,
        obj=patient,
        patient_id=patient.pk,
        detail={"fields": sorted(changes)},
    )
    return patient


def _add_member(*, patient: Patient, user: Any, role: str) -> CareTeamMember:
    if user.role != Role.CLINICIAN or user.organization_id != patient.organization_id:
        raise InvalidInput(
            PlanErrorCode.CARE_TEAM_MEMBER_INVALID,
            "Care-team members are clinicians of the patient's organisation.",
            fields={"user": ["a clinician of this organisation"]},
        )
    member, created = CareTeamMember.objects.get_or_create(
        patient=patient, user=user, defaults={"role": role}
    )
    if not created and role and member.role != role:
        member.role = role
        member.save(update_fields=["role"])
    return member


@transaction.atomic
def add_care_team_member(*, patient: Patient, user: Any, by: Any, role: str = "") -> CareTeamMember:
    """Idempotent: adding a member twice keeps one membership."""
    member = _add_member(patient=patient, user=user, role=role)
    audit_write(
        by=by,
        action=AuditAction.UPDATE,
        obj=patient,
        patient_id=patient.pk,
        detail={"care_team_added": user.pk},
    )
    return member


@transaction.atomic
def remove_care_team_member(*, patient: Patient, user: Any, by: Any) -> bool:
    deleted, _ = CareTeamMember.objects.filter(patient=patient, user=user).delete()
    audit_write(
        by=by,
        action=AuditAction.UPDATE,
        obj=patient,
        patient_id=patient.pk,
        detail={"care_team_removed": getattr(user, "pk", user)},
    )
    return bool(deleted)

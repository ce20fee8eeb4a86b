"""Who may see and manage which calendar objects — deny by default (DESIGN.md promise 7).

The scheduling counterpart of ``plans.access`` (which it builds on: a session is visible exactly
when its patient is): ``visible_*`` scope reads, ``access_*`` fetch one object or raise
``NotFoundError`` (another organisation's object looks like a missing one, 404), and
``require_*`` raise ``PermissionDenied`` (403) for an object the user sees but may not change.

| object | admin | coordinator | clinician | patient |
|---|---|---|---|---|
| clinics, resources, working hours | all | their organisation's | their organisation's | none |
| sessions | all | visible patients' | visible patients' | their own |
| feeds (list, revoke) | all | their organisation's patients' | their own feed | their own |
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet

from backend.accounts.models import Role, User
from backend.errors import NotFoundError
from plans.access import active_user, visible_patients
from scheduling.models import CalendarFeed, Clinic, ClinicianHours, Resource, Session


def visible_sessions(user: Any) -> QuerySet[Session]:
    """Sessions the user may see: exactly those of the patients the user may see."""
    return Session.objects.filter(patient__in=visible_patients(user).values("pk"))


def visible_clinics(user: Any) -> QuerySet[Clinic]:
    """Clinics of the user's organisation (staff only); admins see all; patients none."""
    qs = Clinic.objects.all()
    role = getattr(user, "role", None)
    if not active_user(user):
        return qs.none()
    if role == Role.ADMIN:
        return qs
    if role in (Role.COORDINATOR, Role.CLINICIAN):
        return qs.filter(organization_id=user.organization_id)
    return qs.none()


def visible_resources(user: Any) -> QuerySet[Resource]:
    return Resource.objects.filter(clinic__in=visible_clinics(user).values("pk"))


def visible_clinician_hours(user: Any) -> QuerySet[ClinicianHours]:
    """Working hours at the clinics the user sees."""
    return ClinicianHours.objects.filter(clinic__in=visible_clinics(user).values("pk"))


def access_clinic(*, user: Any, clinic_id: Any) -> Clinic:
    try:
        return visible_clinics(user).get(pk=int(clinic_id))
    except (ValueError, TypeError, Clinic.DoesNotExist):
        raise NotFoundError("Clinic not found.") from None


def access_session(*, user: Any, session_id: Any, for_update: bool = False) -> Session:
    """The session if its patient is visible to ``user``, else ``NotFoundError`` (404)."""
    qs = visible_sessions(user).select_related(
        "patient", "clinic", "clinician", "component", "component__protocol", "component__plan"
    )
    if for_update:
        qs = qs.select_for_update(of=("self",))
    try:
        return qs.get(pk=int(session_id))
    except (ValueError, TypeError, Session.DoesNotExist):
        raise NotFoundError("Session not found.") from None


def require_manage_clinician_hours(*, user: User, clinician: User, clinic: Clinic) -> None:
    """Working hours of ``clinician`` at ``clinic``: the clinic must be visible (404), the
    clinician one of its organisation's (404, as unknown), and the user a coordinator, an admin
    or that clinician (403)."""
    access_clinic(user=user, clinic_id=clinic.pk)
    if clinician.role != Role.CLINICIAN or clinician.organization_id != clinic.organization_id:
        raise NotFoundError("Clinician not found.")
    if not (user.role in (Role.COORDINATOR, Role.ADMIN) or user.pk == clinician.pk):
        raise PermissionDenied("only coordinators or the clinician manage working hours")


def access_clinician_in_organization(
    *, clinician: User | None, organization_id: int | None
) -> User | None:
    """The payload's clinician (already resolved inside what the caller sees) must work for the
    plan's organisation — only an admin can name one who does not; same 404 as unknown."""
    if clinician is None:
        return None
    if organization_id is not None and clinician.organization_id != organization_id:
        raise NotFoundError("Clinician not found.", fields={"clinician": ["not found"]})
    return clinician


# --- calendar feeds -----------------------------------------------------------------------------


def visible_feeds(user: Any) -> QuerySet[CalendarFeed]:
    """Feeds the user manages (lists, revokes), newest first: admins all; coordinators those of
    their organisation's patients; a patient their own; a clinician their own clinician feed."""
    qs = CalendarFeed.objects.select_related("patient").order_by("-created_at")
    role = getattr(user, "role", None)
    if role == Role.ADMIN:
        return qs
    if role == Role.COORDINATOR:
        return qs.filter(patient__organization_id=user.organization_id)
    if role == Role.PATIENT:
        return qs.filter(patient__user_id=user.pk)
    if role == Role.CLINICIAN:
        return qs.filter(clinician_id=user.pk)
    return qs.none()


def may_manage_feed(*, user: Any, feed: CalendarFeed) -> bool:
    role = getattr(user, "role", "")
    if role == Role.ADMIN:
        return True
    if feed.clinician_id is not None:
        return feed.clinician_id == user.pk
    patient = feed.patient
    if patient is None:
        return False
    if role == Role.PATIENT:
        return patient.user_id == user.pk
    if role == Role.COORDINATOR:
        return patient.organization_id == user.organization_id
    return False


def access_feed(*, user: Any, feed_id: Any) -> CalendarFeed:
    """A feed the user manages, else ``NotFoundError`` (404)."""
    try:
        feed = visible_feeds(user).filter(pk=int(feed_id)).first()
    except (ValueError, TypeError):
        feed = None
    if feed is None or not may_manage_feed(user=user, feed=feed):
        raise NotFoundError("Feed not found.")
    return feed

"""iCalendar feeds behind revocable secret tokens (only a sha256 hash is stored).

The patient feed is patient-facing text: "Appointment at <clinic>", the place, the callback
number and the protocol's practical preparation — never a drug, modality or diagnosis name
(DESIGN.md promise 5; DOMAIN.md §7.2). Every text goes through ``contains_forbidden_term``; a
text that fails is replaced by a neutral one rather than leaked. The clinician feed shows the
patient's initials and the visit kind.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from icalendar import Calendar, Event

from backend.audit.models import AuditAction
from backend.audit.services import record_event
from backend.errors import InvalidInput
from notifications.terms import contains_forbidden_term
from scheduling.errors import SchedulingErrorCode
from scheduling.models import ACTIVE_SESSION_STATUSES, CalendarFeed, Session

FEED_LOOKBACK = timedelta(days=30)
NEUTRAL_PLACE = "your clinic"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def create_feed(*, by: Any, patient: Any = None, clinician: Any = None) -> tuple[CalendarFeed, str]:
    """A new feed and its secret token (returned once; only the hash is kept).

    Patient feed: by a coordinator/admin who may see the patient (the caller authorises), or by
    the patient themself. Clinician feed: by that clinician only.
    """
    if (patient is None) == (clinician is None):
        raise InvalidInput(
            SchedulingErrorCode.FEED_OWNER_INVALID,
            "A feed belongs to exactly one patient or one clinician.",
            fields={"non_field_errors": ["give patient or clinician, not both"]},
        )
    role = getattr(by, "role", "")
    if patient is not None:
        own = role == "patient" and patient.user_id == by.pk
        if not (own or role in ("coordinator", "admin")):
            raise PermissionDenied("only a coordinator or the patient may create this feed")
    elif not (role == "clinician" and clinician.pk == by.pk):
        raise PermissionDenied("a clinician feed is created by that clinician")
    token = secrets.token_urlsafe(32)
    feed = CalendarFeed.objects.create(
        token_hash=hash_token(token), patient=patient, clinician=clinician, created_by=by
    )
    record_event(
        actor=by,
        action=AuditAction.CREATE,
        object_type="scheduling.calendarfeed",
        object_id=feed.pk,
        patient_id=patient.pk if patient is not None else None,
    )
    return feed, token


@transaction.atomic
def revoke_feed(*, feed: CalendarFeed, by: Any) -> CalendarFeed:
    if feed.revoked_at is None:
        feed.revoked_at = timezone.now()
        feed.save(update_fields=["revoked_at"])
    record_event(
        actor=by,
        action=AuditAction.UPDATE,
        object_type="scheduling.calendarfeed",
        object_id=feed.pk,
        patient_id=feed.patient_id,
        detail={"revoked": True},
    )
    return feed


def _safe(text: str, fallback: str) -> str:
    return fallback if contains_forbidden_term(text or "") else text


def _initials(patient: Any) -> str:
    return f"{patient.given_name[:1]}.{patient.family_name[:1]}.".upper()


def _feed_sessions(feed: CalendarFeed) -> list[Session]:
    qs = Session.objects.filter(
        status__in=[s.value for s in ACTIVE_SESSION_STATUSES],
        ends_at__gte=timezone.now() - FEED_LOOKBACK,
    ).select_related("clinic", "patient", "component__protocol")
    if feed.patient_id is not None:
        qs = qs.filter(patient_id=feed.patient_id)
    else:
        # a clinician sees only sessions of their care-team patients assigned to them
        clinician_id = int(feed.clinician_id or 0)
        qs = qs.filter(
            clinician_id=clinician_id, patient__team_members__user_id=clinician_id
        ).distinct()
    return list(qs.order_by("starts_at", "id"))


def render_feed(*, feed: CalendarFeed) -> bytes:
    """The feed as an iCalendar document (UTC times; the clinic zone in X-WR-TIMEZONE)."""
    cal = Calendar()
    cal.add("prodid", "-//clinic-plans//scheduling//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", "Appointments" if feed.patient_id else "Clinic schedule")
    stamp = timezone.now()
    for session in _feed_sessions(feed):
        clinic = session.clinic
        event = Event()
        event.add("uid", f"session-{session.pk}@clinic-plans")
        event.add("dtstamp", stamp)
        event.add("dtstart", session.starts_at)
        event.add("dtend", session.ends_at)
        place = _safe(clinic.name, NEUTRAL_PLACE)
        if feed.patient_id is not None:
            event.add("summary", f"Appointment at {place}")
            address = _safe(clinic.address, "")
            if address:
                event.add("location", address)
            notes = [f"Questions or need to reschedule? Call {clinic.phone}."]
            preparation = session.component.protocol.preparation
            if preparation and not contains_forbidden_term(preparation):
                notes.insert(0, preparation)
            event.add("description", "\n\n".join(notes))
        else:
            kind = session.get_kind_display()
            event.add("summary", f"{_initials(session.patient)} – {kind}")
            event.add("location", place)
        cal.add_component(event)
    return cal.to_ical()

"""Stable error codes of the scheduling domain (STYLE.md habit 5). Tests assert these codes."""

from __future__ import annotations

from enum import StrEnum


class SchedulingErrorCode(StrEnum):
    SLOT_CONFLICT = "slot_conflict"  # patient or resource already booked (409)
    REMS_SITE_NOT_CERTIFIED = "rems_site_not_certified"  # SPRAVATO at an uncertified site (409)
    READINESS_GATE_BLOCKED = "readiness_gate_blocked"  # check-in with blocking gaps (409)
    ILLEGAL_TRANSITION = "illegal_transition"  # status machine refused the change (409)
    OUTSIDE_CLINIC_HOURS = "outside_clinic_hours"  # closed day or outside opening hours (409)
    CAP_REACHED = "cap_reached"  # the protocol's session cap reached (409)
    AUTHORIZATION_EXCEEDED = "authorization_exceeded"  # past the prior authorisation (409)
    NO_SLOTS = "no_slots"  # course generation placed no session at all (409)
    COURSE_ALREADY_SCHEDULED = "course_already_scheduled"  # all sessions already booked (409)
    COMPONENT_NOT_SCHEDULABLE = "component_not_schedulable"  # stopped/completed component (409)
    OVERRIDE_REASON_REQUIRED = "override_reason_required"  # empty override reason (400)
    COMPLETION_INVALID = "completion_invalid"  # kind-specific completion data invalid (400)
    FEED_OWNER_INVALID = "feed_owner_invalid"  # feed needs exactly one owner (400)
    COIL_NOT_ALLOWED = "coil_not_allowed"  # device coil other than the protocol's pinned one (409)
    HOLIDAYS_UNAVAILABLE = "holidays_unavailable"  # no holiday calendar for the country (400)

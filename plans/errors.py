"""Stable error codes of the plans domain (STYLE.md habit 5). Tests assert these, never text."""

from __future__ import annotations

from enum import StrEnum


class PlanErrorCode(StrEnum):
    ILLEGAL_TRANSITION = "illegal_transition"
    PLAN_HAS_NO_COMPONENTS = "plan_has_no_components"
    PLAN_LOCKED = "plan_locked"
    COMPONENT_LOCKED = "component_locked"
    INVALID_ANSWERS = "invalid_answers"
    INVALID_EVALUATION_DATA = "invalid_evaluation_data"
    INDICATION_NOT_IN_PROTOCOL = "indication_not_in_protocol"
    PROTOCOL_INACTIVE = "protocol_inactive"
    COMPONENT_NOT_IN_PLAN = "component_not_in_plan"
    PLAN_NOT_OF_PATIENT = "plan_not_of_patient"
    CLINIC_NOT_IN_ORGANIZATION = "clinic_not_in_organization"
    DUPLICATE_MRN = "duplicate_mrn"
    INVALID_PHONE = "invalid_phone"
    INVALID_TIMEZONE = "invalid_timezone"
    INVALID_COVERAGE = "invalid_coverage"
    INVALID_AUTHORIZATION = "invalid_authorization"
    ALREADY_ENTERED_IN_ERROR = "already_entered_in_error"
    REASON_REQUIRED = "reason_required"
    FLAG_NOT_OPEN = "flag_not_open"
    CARE_TEAM_MEMBER_INVALID = "care_team_member_invalid"
    USER_NOT_IN_ORGANIZATION = "user_not_in_organization"

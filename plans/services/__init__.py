"""Every write of the plans domain (STYLE.md habit 2: ``verb_noun``, keyword-only, atomic)."""

from plans.services.components import add_component, remove_component, update_component
from plans.services.evaluations import mark_evaluation_entered_in_error, record_evaluation
from plans.services.flags import dismiss_flag, open_or_escalate_flag, resolve_flag
from plans.services.measures import record_measure
from plans.services.patients import (
    add_care_team_member,
    create_patient,
    remove_care_team_member,
    update_patient,
)
from plans.services.plans import (
    activate_plan,
    complete_plan,
    create_plan,
    hold_plan,
    resume_plan,
    revoke_plan,
    update_plan,
)
from plans.services.readiness import (
    sync_clinic_plans,
    sync_patient_plans,
    sync_readiness_flags,
)

__all__ = [
    "activate_plan",
    "add_care_team_member",
    "add_component",
    "complete_plan",
    "create_patient",
    "create_plan",
    "dismiss_flag",
    "hold_plan",
    "mark_evaluation_entered_in_error",
    "open_or_escalate_flag",
    "record_evaluation",
    "record_measure",
    "remove_care_team_member",
    "remove_component",
    "resolve_flag",
    "resume_plan",
    "revoke_plan",
    "sync_clinic_plans",
    "sync_patient_plans",
    "sync_readiness_flags",
    "update_component",
    "update_patient",
    "update_plan",
]

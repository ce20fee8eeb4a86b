"""Who may see and change which patient's data — deny by default (DESIGN.md promise 7).

Every interface (API, dashboard, feeds) scopes its reads through ``visible_*`` and fetches single
objects through ``access_*``, which return the object or raise ``NotFoundError``: an object the
user may not see — another organisation's, or a patient outside a clinician's care team — is
indistinguishable from one that does not exist (404, never 403). A user who may *see* an object
but not perform an action on it gets ``PermissionDenied`` (403).

| role | sees | may write |
|---|---|---|
| admin | everything | everything |
| coordinator | patients of their organisation | plans, components, evaluations, measures, flags |
| clinician | their care-team patients | evaluations, measures, flags, check-in |
| patient | only their own record | nothing |
| anonymous / no role | nothing | nothing |
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet

from backend.accounts.models import Organization, Role, User
from backend.db.rows import MAX_BIGINT
from backend.errors import NotFoundError
from plans.detail_reads import plan_with_parties
from plans.models import (
    CarePlan,
    Evaluation,
    Flag,
    Measure,
    Patient,
    PlanComponent,
    PriorAuthorization,
)


class Action:
    """Actions checked by ``require``; each maps to the roles allowed to do it."""

    MANAGE_PATIENTS = "manage_patients"  # create/update patients, care teams
    MANAGE_PLANS = "manage_plans"  # create/update plans and components, status changes
    RECORD_CLINICAL = "record_clinical"  # evaluations, measures
    HANDLE_FLAGS = "handle_flags"  # dismiss flags
    SCHEDULE = "schedule"  # schedule, reschedule, cancel sessions
    CHECK_IN = "check_in"  # check a session in, complete it
    OVERRIDE_GATE = "override_gate"  # check in despite a blocking gap (prescriber only)


_ALLOWED: dict[str, frozenset[str]] = {
    Action.MANAGE_PATIENTS: frozenset({Role.COORDINATOR, Role.ADMIN}),
    Action.MANAGE_PLANS: frozenset({Role.COORDINATOR, Role.ADMIN}),
    Action.RECORD_CLINICAL: frozenset({Role.COORDINATOR, Role.CLINICIAN, Role.ADMIN}),
    Action.HANDLE_FLAGS: frozenset({Role.COORDINATOR, Role.CLINICIAN, Role.ADMIN}),
    Action.SCHEDULE: frozenset({Role.COORDINATOR, Role.ADMIN}),
    Action.CHECK_IN: frozenset({Role.CLINICIAN, Role.COORDINATOR, Role.ADMIN}),
    Action.OVERRIDE_GATE: frozenset({Role.CLINICIAN}),
}


def active_user(user: Any) -> bool:
    """Signed in and not deactivated: the first condition of every rule here."""
    return bool(getattr(user, "is_authenticated", False) and getattr(user, "is_active", False))


def can(user: Any, action: str) -> bool:
    if not active_user(user):
        return False
    if action == Action.OVERRIDE_GATE:
        return bool(user.can_override_gate)
    return user.role in _ALLOWED[action]


def require(user: Any, action: str) -> None:
    """Raise ``PermissionDenied`` unless the user's role allows ``action``."""
    if not can(user, action):
        raise PermissionDenied(f"your role may not {action.replace('_', ' ')}")


def visible_patients(user: Any) -> QuerySet[Patient]:
    """Patients the user may see. Deny by default: an unknown role sees nothing."""
    qs = Patient.objects.all()
    if not active_user(user):
        return qs.none()
    if user.role == Role.ADMIN:
        return qs
    if user.role == Role.COORDINATOR:
        return qs.filter(organization_id=user.organization_id)
    if user.role == Role.CLINICIAN:
        return qs.filter(
            organization_id=user.organization_id, team_members__user_id=user.pk
        ).distinct()
    if user.role == Role.PATIENT:
        return qs.filter(user_id=user.pk, organization_id=user.organization_id)
    return qs.none()


def visible_plans(user: Any) -> QuerySet[CarePlan]:
    """Plans the user may see, scoped by the plan's own ``organization`` column (indexed with
    the default ordering, issue 17); clinicians and patients further through their patients."""
    qs = CarePlan.objects.all()
    reach = _plan_reach(user)
    if reach is None:
        return qs.none()
    if reach == _ALL:
        return qs
    if reach == _ORGANIZATION:
        return qs.filter(organization_id=user.organization_id)
    return qs.filter(
        organization_id=user.organization_id, patient__in=visible_patients(user).values("pk")
    )


_ALL, _ORGANIZATION, _PATIENTS = "all", "organization", "patients"


def _plan_reach(user: Any) -> str | None:
    """How far the user sees plans — every plan (admin), their organisation's (coordinator),
    their visible patients' (everyone else: ``visible_patients`` decides, deny by default) —
    or None: nothing. ``visible_plans`` and ``access_plan`` both scope by it."""
    if not active_user(user):
        return None
    if user.role == Role.ADMIN:
        return _ALL
    if user.role == Role.COORDINATOR:
        return _ORGANIZATION
    return _PATIENTS


def visible_components(user: Any) -> QuerySet[PlanComponent]:
    return PlanComponent.objects.filter(plan__patient__in=visible_patients(user).values("pk"))


def _get_or_404(qs: QuerySet, pk: Any, label: str):
    try:
        return qs.get(pk=int(pk))
    except (ValueError, TypeError, qs.model.DoesNotExist):
        raise NotFoundError(f"{label} not found.") from None


def visible_users(user: Any) -> QuerySet:
    """Users a write payload may name (care team, coordinator, clinician, linked login): the
    caller's organisation; admins: everyone; patients and unknown roles: nobody."""
    qs = User.objects.all()
    if not active_user(user):
        return qs.none()
    if user.role == Role.ADMIN:
        return qs
    if user.role in (Role.COORDINATOR, Role.CLINICIAN):
        return qs.filter(organization_id=user.organization_id)
    return qs.none()


def visible_clinicians(user: Any) -> QuerySet:
    return visible_users(user).filter(role=Role.CLINICIAN)


def visible_organizations(user: Any) -> QuerySet:
    qs = Organization.objects.all()
    if not active_user(user):
        return qs.none()
    if user.role == Role.ADMIN:
        return qs
    return qs.filter(pk=user.organization_id)


def access_patient(*, user: Any, patient_id: Any) -> Patient:
    return _get_or_404(visible_patients(user), patient_id, "Patient")


def access_plan(*, user: Any, plan_id: Any, for_update: bool = False) -> CarePlan:
    """The plan if visible, with its patient, clinic and coordinator; with ``for_update`` the
    row is locked (call inside a transaction).

    Read by an admin or a coordinator — whose reach is a plain organisation test — it is one
    fixed, prepared statement (``plans.detail_reads.plan_with_parties``, issue 17: compiling
    this queryset was a fifth of a plan detail request); otherwise the queryset below."""
    reach = _plan_reach(user)
    if not for_update and reach in (_ALL, _ORGANIZATION):
        try:
            pk = int(plan_id)
        except (ValueError, TypeError):
            raise NotFoundError("Plan not found.") from None
        if not 0 < pk <= MAX_BIGINT:
            raise NotFoundError("Plan not found.")
        plan = plan_with_parties(
            pk, organization_id=None if reach == _ALL else user.organization_id
        )
        if plan is None:
            raise NotFoundError("Plan not found.")
        return plan
    qs = visible_plans(user).select_related("patient", "clinic", "coordinator")
    if for_update:
        qs = qs.select_for_update(of=("self",))
    return _get_or_404(qs, plan_id, "Plan")


def access_component(*, user: Any, component_id: Any) -> PlanComponent:
    qs = visible_components(user).select_related(
        "plan", "plan__patient", "plan__clinic", "protocol", "indication"
    )
    return _get_or_404(qs, component_id, "Component")


def visible_evaluations(user: Any) -> QuerySet[Evaluation]:
    return Evaluation.objects.filter(patient__in=visible_patients(user).values("pk"))


def visible_measures(user: Any) -> QuerySet[Measure]:
    return Measure.objects.filter(patient__in=visible_patients(user).values("pk"))


def visible_flags(user: Any) -> QuerySet[Flag]:
    """Plan flags and patient-level flags (no plan yet) of the patients the user may see."""
    return Flag.objects.filter(patient__in=visible_patients(user).values("pk"))


def access_evaluation(*, user: Any, evaluation_id: Any) -> Evaluation:
    return _get_or_404(visible_evaluations(user), evaluation_id, "Evaluation")


def access_measure(*, user: Any, measure_id: Any) -> Measure:
    return _get_or_404(visible_measures(user), measure_id, "Measure")


def access_flag(*, user: Any, flag_id: Any) -> Flag:
    return _get_or_404(visible_flags(user).select_related("plan"), flag_id, "Flag")


def visible_authorizations(user: Any) -> QuerySet:
    return PriorAuthorization.objects.filter(
        component__plan__patient__in=visible_patients(user).values("pk")
    )


def access_authorization(*, user: Any, authorization_id: Any):
    """A prior authorisation of a visible patient's component, else 404 (issue 11)."""
    qs = visible_authorizations(user).select_related(
        "component__plan__patient", "component__plan__clinic", "component__protocol"
    )
    return _get_or_404(qs, authorization_id, "Authorization")

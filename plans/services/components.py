"""Plan components: one course of one protocol version inside a plan (editable while draft)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.db import transaction

from backend.audit.models import AuditAction
from backend.errors import ConflictError, InvalidInput
from modalities.models import Protocol, ProtocolIndication
from modalities.rules.devices import label_status_with_devices
from modalities.vocab import LabelStatus, PayerType
from plans.errors import PlanErrorCode
from plans.models import CarePlan, Evaluation, Measure, Patient, PlanComponent, PlanStatus
from plans.ports import session_facts
from plans.selectors import clinic_today
from plans.services._common import audit_write
from plans.services.authorizations import sync_legacy_authorization
from plans.services.readiness import sync_readiness_flags
from plans.tasks import on_plan_changed

COMPONENT_FIELDS = frozenset(
    {
        "protocol",
        "indication",
        "target",
        "laterality",
        "rationale",
        "payer_type",
        "payer_name",
        "prior_auth_number",
        "prior_auth_sessions",
        "prior_auth_expires_on",
    }
)
_TEXT_FIELDS = frozenset({"laterality", "rationale", "payer_name", "prior_auth_number", "target"})
_PRIOR_AUTH = ("prior_auth_number", "prior_auth_sessions", "prior_auth_expires_on")


def age_on(birth_date: dt.date, day: dt.date) -> int:
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))


def derive_label_status(
    *,
    indication: ProtocolIndication,
    patient: Patient,
    today: dt.date,
    coils_used: Iterable[str] = (),
) -> str:
    """The indication's label status, or off-label when the patient's age is outside the
    cleared/approved range or a TMS device booked/used carries a coil outside the clearance
    (DOMAIN.md §1.1 data rule: clearance is device-, coil-, protocol- and age-specific, e.g.
    adolescent MDD 15–21; figure-8 devices are not cleared for OCD)."""
    status = indication.label_status
    if status in (LabelStatus.CLEARED, LabelStatus.APPROVED):
        age = age_on(patient.birth_date, today)
        if (indication.min_age is not None and age < indication.min_age) or (
            indication.max_age is not None and age > indication.max_age
        ):
            return LabelStatus.OFF_LABEL
    return label_status_with_devices(
        status=status, cleared_coils=indication.cleared_coils, coils_used=coils_used
    )


def tms_coils_in_use(*, component_id: int) -> list[str]:
    """Coils of the TMS devices held by the component's active bookings (one query, through
    the session-fact port: plans never imports scheduling)."""
    return session_facts().tms_coils_in_use(component_id=component_id)


@transaction.atomic
def relabel_for_devices(*, component: PlanComponent, by: Any) -> bool:
    """Re-derive the label status from the devices the component's sessions hold; a device
    outside the clearance makes the component off-label — audited, and the off-label
    requirements (consent, ABN) open their readiness flags at once. Never moves back on its
    own: the consent the patient signs refers to the off-label use. True when it changed."""
    component = (
        PlanComponent.objects.select_for_update(of=("self",))
        .select_related("plan__patient", "plan__clinic", "indication")
        .get(pk=component.pk)
    )
    status = derive_label_status(
        indication=component.indication,
        patient=component.plan.patient,
        today=clinic_today(component.plan.clinic),
        coils_used=tms_coils_in_use(component_id=component.pk),
    )
    if status != LabelStatus.OFF_LABEL or component.label_status == LabelStatus.OFF_LABEL:
        return False
    before = component.label_status
    component.label_status = status
    component.save(update_fields=["label_status", "updated_at"])
    detail = {"label_status": [before, status], "because": "device_outside_clearance"}
    audit_write(
        by=by,
        action=AuditAction.UPDATE,
        obj=component,
        patient_id=component.plan.patient_id,
        detail=detail,
    )
    _after_change(component.plan)
    return True


def _require_draft(plan: CarePlan) -> None:
    if plan.status != PlanStatus.DRAFT:
        raise ConflictError(
            PlanErrorCode.COMPONENT_LOCKED,
            f"Components can change only while the plan is a draft (it is {plan.status}).",
        )


def _resolve(values: dict[str, Any], index: int | None) -> tuple[Protocol, ProtocolIndication]:
    prefix = f"components[{index}]." if index is not None else ""
    protocol = values["protocol"]
    if not isinstance(protocol, Protocol):
        protocol = Protocol.objects.filter(pk=protocol).first()
        if protocol is None:
            raise InvalidInput(
                PlanErrorCode.INDICATION_NOT_IN_PROTOCOL,
                "Unknown protocol.",
                fields={f"{prefix}protocol": ["unknown protocol"]},
            )
    if not protocol.is_active:
        raise InvalidInput(
            PlanErrorCode.PROTOCOL_INACTIVE,
            "The protocol is retired.",
            fields={f"{prefix}protocol": ["retired protocol version"]},
        )
    indication = values["indication"]
    if isinstance(indication, ProtocolIndication):
        ok = indication.protocol_id == protocol.pk
    else:
        indication = ProtocolIndication.objects.filter(pk=indication, protocol=protocol).first()
        ok = indication is not None
    if not ok:
        raise InvalidInput(
            PlanErrorCode.INDICATION_NOT_IN_PROTOCOL,
            "The indication does not belong to the protocol.",
            fields={f"{prefix}indication": ["not an indication of this protocol"]},
        )
    return protocol, indication


def _validate_coverage(values: dict[str, Any], prefix: str) -> None:
    payer = values.get("payer_type")
    if payer not in {p.value for p in PayerType}:
        raise InvalidInput(
            PlanErrorCode.INVALID_COVERAGE,
            "Unknown payer type.",
            fields={f"{prefix}payer_type": ["unknown payer type"]},
        )
    if payer == PayerType.SELF_PAY:
        bad = [f for f in _PRIOR_AUTH if values.get(f) not in (None, "")]
        if bad:
            raise InvalidInput(
                PlanErrorCode.INVALID_COVERAGE,
                "Self-pay components have no prior authorisation.",
                fields={f"{prefix}{f}": ["must be empty for self-pay"] for f in bad},
            )


def build_component(
    *,
    plan: CarePlan,
    values: dict[str, Any],
    position: int,
    index: int | None = None,
    by: Any = None,
) -> PlanComponent:
    """Validate and save one component (no audit, no flag sync: callers do that)."""
    unknown = set(values) - COMPONENT_FIELDS
    if unknown:
        raise TypeError(f"unknown component fields: {sorted(unknown)}")
    prefix = f"components[{index}]." if index is not None else ""
    protocol, indication = _resolve(values, index)
    _validate_coverage(values, prefix)
    component = PlanComponent(
        plan=plan,
        protocol=protocol,
        indication=indication,
        label_status=derive_label_status(
            indication=indication, patient=plan.patient, today=clinic_today(plan.clinic)
        ),
        target=values.get("target") or protocol.target,
        laterality=values.get("laterality") or "",
        rationale=values.get("rationale") or "",
        payer_type=values["payer_type"],
        payer_name=values.get("payer_name") or "",
        position=position,
    )
    component.save()
    sync_legacy_authorization(component=component, values=values, by=by)
    return component


def _after_change(plan: CarePlan) -> None:
    sync_readiness_flags(plan=plan)
    on_plan_changed([plan.pk])


@transaction.atomic
def add_component(*, plan: CarePlan, by: Any, **values: Any) -> PlanComponent:
    plan = (
        CarePlan.objects.select_for_update(of=("self",))
        .select_related("patient", "clinic")
        .get(pk=plan.pk)
    )
    _require_draft(plan)
    position = plan.components.count()
    component = build_component(plan=plan, values=values, position=position, by=by)
    audit_write(by=by, action=AuditAction.CREATE, obj=component, patient_id=plan.patient_id)
    _after_change(plan)
    return component


@transaction.atomic
def update_component(*, component: PlanComponent, by: Any, **changes: Any) -> PlanComponent:
    """Change a draft component; the label status is re-derived when the indication changes."""
    unknown = set(changes) - COMPONENT_FIELDS
    if unknown:
        raise TypeError(f"unknown component fields: {sorted(unknown)}")
    plan = (
        CarePlan.objects.select_for_update(of=("self",))
        .select_related("patient", "clinic")
        .get(pk=component.plan_id)
    )
    _require_draft(plan)
    component = PlanComponent.objects.select_related("protocol", "indication").get(pk=component.pk)
    values = {
        "protocol": component.protocol,
        "indication": component.indication,
        "payer_type": component.payer_type,
        **{f: getattr(component, f) for f in _PRIOR_AUTH},
        **changes,
    }
    if "protocol" in changes and "indication" not in changes:
        values["indication"] = None
    protocol, indication = _resolve(values, None)
    _validate_coverage(values, "")
    if "protocol" in changes and "target" not in changes:
        component.target = protocol.target
    component.protocol, component.indication = protocol, indication
    component.label_status = derive_label_status(
        indication=indication,
        patient=plan.patient,
        today=clinic_today(plan.clinic),
        coils_used=tms_coils_in_use(component_id=component.pk),
    )
    for name in changes.keys() - {"protocol", "indication", *_PRIOR_AUTH}:
        value = changes[name]
        if value is None and name in _TEXT_FIELDS:
            value = ""
        setattr(component, name, value)
    if not component.target:
        component.target = protocol.target
    component.save()
    sync_legacy_authorization(component=component, values=changes, by=by)
    audit_write(
        by=by,
        action=AuditAction.UPDATE,
        obj=component,
        patient_id=plan.patient_id,
        detail={"fields": sorted(changes)},
    )
    _after_change(plan)
    return component


@transaction.atomic
def remove_component(*, component: PlanComponent, by: Any) -> None:
    plan = (
        CarePlan.objects.select_for_update(of=("self",))
        .select_related("patient", "clinic")
        .get(pk=component.plan_id)
    )
    _require_draft(plan)
    if (
        Evaluation.objects.filter(component_id=component.pk).exists()
        or Measure.objects.filter(component_id=component.pk).exists()
    ):
        raise ConflictError(
            PlanErrorCode.COMPONENT_LOCKED,
            "Evaluations or measures are recorded against this component; mark them "
            "entered-in-error first.",
        )
    audit_write(by=by, action=AuditAction.DELETE, obj=component, patient_id=plan.patient_id)
    component.delete()
    _after_change(plan)

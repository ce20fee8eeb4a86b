"""Prior authorisations as records (issue 11): request, decide, re-authorise, attach evidence.

Status machine: requested → approved | denied; approved → expired (by hand; the end date is
what the rules use); denied → requested (an appeal is a new request on the same record).
An approved authorisation needs a number, a unit count and a date window — what a payer's
approval letter carries (DOMAIN.md §1.6 "Session cap" [PAYER]; §2.5 approval periods [PAYER]).
Self-pay components take none. Every write is audited and re-syncs readiness.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from backend.audit.models import AuditAction
from backend.errors import ConflictError, InvalidInput
from modalities.vocab import PayerType
from plans.access import Action, require
from plans.errors import PlanErrorCode
from plans.models import (
    AuthorizationEvidence,
    AuthorizationStatus,
    Evaluation,
    EvidenceKind,
    PlanComponent,
    PriorAuthorization,
)
from plans.services._common import audit_write
from plans.services.readiness import sync_readiness_flags
from plans.tasks import on_plan_changed

S = AuthorizationStatus
_TRANSITIONS: dict[str, frozenset[str]] = {
    S.REQUESTED: frozenset({S.APPROVED, S.DENIED}),
    S.APPROVED: frozenset({S.EXPIRED, S.APPROVED}),
    S.DENIED: frozenset({S.REQUESTED}),
    S.EXPIRED: frozenset(),
}
FIELDS = frozenset(
    {"payer_name", "number", "authorized_units", "starts_on", "ends_on", "status", "decision_note"}
)


def _validate(values: dict[str, Any]) -> None:
    errors: dict[str, list[str]] = {}
    status = values.get("status") or S.REQUESTED
    if status not in {s.value for s in S}:
        errors["status"] = ["requested, approved, denied or expired"]
    if status == S.APPROVED:
        for name in ("number", "authorized_units", "starts_on", "ends_on"):
            if values.get(name) in (None, ""):
                errors[name] = ["required when approved"]
    units = values.get("authorized_units")
    if units is not None and (not isinstance(units, int) or units < 1):
        errors["authorized_units"] = ["a positive whole number of sessions"]
    start, end = values.get("starts_on"), values.get("ends_on")
    if isinstance(start, dt.date) and isinstance(end, dt.date) and end < start:
        errors["ends_on"] = ["on or after starts_on"]
    if status == S.DENIED and not (values.get("decision_note") or "").strip():
        errors["decision_note"] = ["the payer's reason is required for a denial"]
    if errors:
        raise InvalidInput(
            PlanErrorCode.INVALID_AUTHORIZATION, "The authorisation is invalid.", fields=errors
        )


def _after(component: PlanComponent) -> None:
    sync_readiness_flags(plan=component.plan)
    on_plan_changed([component.plan_id])


@transaction.atomic
def create_authorization(*, component: PlanComponent, by: Any, **values: Any) -> PriorAuthorization:
    """Record a request (or an approval already received) for a component's course."""
    require(by, Action.MANAGE_PLANS)
    unknown = set(values) - FIELDS
    if unknown:
        raise TypeError(f"unknown authorisation fields: {sorted(unknown)}")
    component = PlanComponent.objects.select_related("plan").get(pk=component.pk)
    if component.payer_type == PayerType.SELF_PAY:
        raise InvalidInput(
            PlanErrorCode.INVALID_COVERAGE,
            "Self-pay components have no prior authorisation.",
            fields={"component": ["self-pay"]},
        )
    _validate(values)
    authorization = PriorAuthorization.objects.create(
        component=component,
        payer_name=values.get("payer_name") or component.payer_name,
        number=values.get("number") or "",
        authorized_units=values.get("authorized_units"),
        starts_on=values.get("starts_on"),
        ends_on=values.get("ends_on"),
        status=values.get("status") or S.REQUESTED,
        decision_note=values.get("decision_note") or "",
        created_by=by,
        updated_by=by,
    )
    audit_write(
        by=by,
        action=AuditAction.CREATE,
        obj=authorization,
        patient_id=component.plan.patient_id,
        detail={"component": component.pk, "status": authorization.status},
    )
    _after(component)
    return authorization


@transaction.atomic
def update_authorization(
    *, authorization: PriorAuthorization, by: Any, **changes: Any
) -> PriorAuthorization:
    """Record the payer's decision or correct the details (status machine above)."""
    require(by, Action.MANAGE_PLANS)
    unknown = set(changes) - FIELDS
    if unknown:
        raise TypeError(f"unknown authorisation fields: {sorted(unknown)}")
    authorization = (
        PriorAuthorization.objects.select_for_update(of=("self",))
        .select_related("component__plan")
        .get(pk=authorization.pk)
    )
    target = changes.get("status", authorization.status)
    if target != authorization.status and target not in _TRANSITIONS.get(
        authorization.status, frozenset()
    ):
        raise ConflictError(
            PlanErrorCode.ILLEGAL_TRANSITION,
            f"A {authorization.status} authorisation cannot become {target}.",
            extra={"status": authorization.status, "target": target},
        )
    values = {f: getattr(authorization, f) for f in FIELDS} | changes
    _validate(values)
    for name, value in changes.items():
        setattr(
            authorization,
            name,
            "" if value is None and name in {"number", "payer_name", "decision_note"} else value,
        )
    authorization.updated_by = by
    authorization.save()
    audit_write(
        by=by,
        action=AuditAction.UPDATE,
        obj=authorization,
        patient_id=authorization.component.plan.patient_id,
        detail={"fields": sorted(changes), "status": authorization.status},
    )
    _after(authorization.component)
    return authorization


@transaction.atomic
def add_authorization_evidence(
    *,
    authorization: PriorAuthorization,
    by: Any,
    title: str,
    url: str = "",
    file: UploadedFile | None = None,
    evaluation: Evaluation | None = None,
) -> AuthorizationEvidence:
    """Attach what the payer was sent: exactly one of a link, a file or a recorded evaluation
    of the same patient (e.g. the antidepressant-trial history, DOMAIN.md §1.6)."""
    require(by, Action.MANAGE_PLANS)
    authorization = PriorAuthorization.objects.select_related("component__plan").get(
        pk=authorization.pk
    )
    given = [k for k, v in (("url", url), ("file", file), ("evaluation", evaluation)) if v]
    errors: dict[str, list[str]] = {}
    if len(given) != 1:
        errors["evidence"] = ["exactly one of url, file or evaluation"]
    if not (title or "").strip():
        errors["title"] = ["required"]
    patient_id = authorization.component.plan.patient_id
    if evaluation is not None and evaluation.patient_id != patient_id:
        errors["evaluation"] = ["not an evaluation of this patient"]
    if errors:
        raise InvalidInput(
            PlanErrorCode.INVALID_AUTHORIZATION, "The evidence is invalid.", fields=errors
        )
    kind = {"url": EvidenceKind.LINK, "file": EvidenceKind.FILE}.get(
        given[0], EvidenceKind.EVALUATION
    )
    evidence = AuthorizationEvidence(
        authorization=authorization,
        kind=kind,
        title=title.strip(),
        url=url or "",
        evaluation=evaluation,
        added_by=by,
    )
    if file is not None:
        evidence.file.save(file.name or "evidence", file, save=False)
    evidence.save()
    audit_write(
        by=by,
        action=AuditAction.CREATE,
        obj=evidence,
        patient_id=patient_id,
        detail={"authorization": authorization.pk, "kind": kind},
    )
    return evidence


def sync_legacy_authorization(*, component: PlanComponent, values: dict[str, Any], by: Any) -> None:
    """The component API still takes ``prior_auth_number/_sessions/_expires_on`` (clients
    written before issue 11): they write the component's current approved authorisation
    (created when there is none, with no recorded start: the old fields had none). No-op when
    none of the three is given."""
    given = {
        k: values[k]
        for k in ("prior_auth_number", "prior_auth_sessions", "prior_auth_expires_on")
        if k in values
    }
    if not given:
        return
    current = component.current_authorization
    number = given.get("prior_auth_number", current.number if current else "")
    if not number:
        if current is not None:  # clearing the number withdraws the approval
            current.status = S.EXPIRED
            current.updated_by = by
            current.save(update_fields=["status", "updated_by", "updated_at"])
        return
    fields = {
        "number": number,
        "authorized_units": given.get(
            "prior_auth_sessions", current.authorized_units if current else None
        ),
        "ends_on": given.get("prior_auth_expires_on", current.ends_on if current else None),
    }
    if current is None:
        PriorAuthorization.objects.create(
            component=component,
            payer_name=component.payer_name,
            status=S.APPROVED,
            starts_on=None,
            created_by=by,
            updated_by=by,
            **fields,
        )
    else:
        for name, value in fields.items():
            setattr(current, name, value)
        current.updated_by = by
        current.save()
    if hasattr(component, "_prefetched_objects_cache"):
        component._prefetched_objects_cache.pop("authorizations", None)

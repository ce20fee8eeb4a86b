"""Rows → FHIR R4 resources as plain dicts. No queries here: callers pass loaded rows.

One function per resource. Codes come only from ``api.fhir.codes`` (the YAML tables), statuses
only from ``codes.status`` (``status_maps.yaml``). Times are instants in UTC (``…Z``); the
clinic's IANA zone travels as the R4 core ``tz-code`` extension on ``Appointment.start``/``end``
and in a human-readable comment (DESIGN.md promise 9).

Design choices a reader may not expect:
- a plan's diagnoses are ``contained`` Conditions (ICD-10-CM) referenced from
  ``CarePlan.addresses`` — the service has no Condition endpoint of its own;
- each component is one ``CarePlan.activity``: ``detail.instantiatesCanonical`` names its
  protocol version (``<FHIR_CANONICAL_BASE>/PlanDefinition/<code>|<version>``), and
  ``outcomeReference`` lists its Appointments (an activity may not carry both ``reference`` and
  ``detail``); each Appointment points back to the CarePlan in ``supportingInformation``;
- a measure is a QuestionnaireResponse (the answers) plus, for instruments with a LOINC total in
  ``codes/loinc.yaml``, an Observation (the total) derived from it — same id, two types;
- Consent comes from the informed-consent, off-label-consent and financial-acknowledgment
  evaluation steps; Coverage from a component's payer fields (``coverage_from_component``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings

from api.fhir import codes
from backend.accounts.models import User

OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
CONSENT_SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
SUBSCRIBER_REL = "http://terminology.hl7.org/CodeSystem/subscriber-relationship"
FLAG_CATEGORY = "http://terminology.hl7.org/CodeSystem/flag-category"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
UCUM = "http://unitsofmeasure.org"
CONSENT_CATEGORY_LOINC = "59284-0"
FLAG_DETAIL = "http://hl7.org/fhir/StructureDefinition/flag-detail"  # R4 core extension

#: evaluation kinds exported as Consent (DESIGN.md §3 'Evaluation' [Consent])
CONSENT_KINDS = ("informed_consent", "off_label_consent", "financial_acknowledgment")
_CONSENT_TEXT = {
    "informed_consent": "Informed consent to treatment",
    "off_label_consent": "Consent to off-label use",
    "financial_acknowledgment": "Financial acknowledgment",
}
_FINANCIAL_FORM_TEXT = {
    "abn": "Advance Beneficiary Notice (CMS-R-131)",
    "good_faith_estimate": "Good Faith Estimate (No Surprises Act)",
    "waiver_not_needed": "no financial form needed",
}
_PAYER_TEXT = {
    "commercial": "Commercial insurance",
    "medicare": "Medicare",
    "medicaid": "Medicaid",
    "self_pay": "Self-pay",
}


def canonical_base() -> str:
    return str(getattr(settings, "FHIR_CANONICAL_BASE", "")).rstrip("/")


@dataclass(frozen=True, slots=True)
class Ctx:
    """Where the resources live: ``base`` is the absolute ``…/fhir/R4`` URL (for fullUrl)."""

    base: str

    def full_url(self, resource: dict[str, Any]) -> str:
        return f"{self.base}/{resource['resourceType']}/{resource['id']}"


# --- primitives --------------------------------------------------------------------------------


def instant(value: dt.datetime | None) -> str | None:
    """A timezone-aware datetime as a FHIR instant in UTC (``2026-03-10T14:00:00Z``)."""
    if value is None:
        return None
    return value.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def date(value: dt.date | None) -> str | None:
    return value.isoformat() if value else None


def ref(resource_type: str, pk: Any, display: str | None = None) -> dict[str, str]:
    out = {"reference": f"{resource_type}/{pk}"}
    if display:
        out["display"] = display
    return out


def _number(value: Decimal | float | int) -> int | float:
    value = Decimal(value)
    return int(value) if value == value.to_integral_value() else float(value)


def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _person(user: User | None) -> str | None:
    if user is None:
        return None
    return user.get_full_name() or user.username


def _drop_empty(data: dict[str, Any]) -> dict[str, Any]:
    """FHIR forbids empty elements (ele-1): drop None, '' and empty lists/dicts."""
    return {k: v for k, v in data.items() if v not in (None, "", [], {})}


# --- Patient ------------------------------------------------------------------------------------


def patient(p: Any) -> dict[str, Any]:
    """[Patient] MRN as an ``MR`` identifier, scoped to the organisation (MRNs are unique per
    organisation, not globally)."""
    telecom = []
    if p.phone:
        telecom.append({"system": "phone", "value": p.phone, "use": "mobile"})
    if p.email:
        telecom.append({"system": "email", "value": p.email})
    return _drop_empty(
        {
            "resourceType": "Patient",
            "id": str(p.pk),
            "identifier": [
                {
                    "use": "usual",
                    "type": codes.concept(V2_0203, "MR"),
                    "system": f"{canonical_base()}/sid/mrn/{p.organization.slug}",
                    "value": p.mrn,
                }
            ],
            "active": True,
            "name": [{"use": "official", "family": p.family_name, "given": [p.given_name]}],
            "telecom": telecom,
            "birthDate": date(p.birth_date),
        }
    )


# --- CarePlan -----------------------------------------------------------------------------------


def _condition(code: str, index: int, patient_id: int) -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "id": f"dx-{index}",
        "clinicalStatus": codes.concept(CONDITION_CLINICAL, "active"),
        "code": codes.icd10_concept(code),
        "subject": ref("Patient", patient_id),
    }


def _activity(component: Any, sessions: Sequence[Any], clinic_name: str) -> dict[str, Any]:
    protocol, indication = component.protocol, component.indication
    reasons = [codes.icd10_concept(c) for c in indication.icd10] or [{"text": indication.name}]
    label = component.label_status.replace("_", "-")
    target = component.target.replace("_", " ")
    if component.laterality:
        target = f"{target} ({component.laterality})"
    description = f"Treats {indication.name} ({label}); target {target}."
    if component.rationale:
        description += f" Rationale: {component.rationale}"
    period = None
    if sessions:
        period = {
            "start": instant(min(s.starts_at for s in sessions)),
            "end": instant(max(s.ends_at for s in sessions)),
        }
    canonical = f"{canonical_base()}/PlanDefinition/{protocol.code}|{protocol.version}"
    detail = _drop_empty(
        {
            "instantiatesCanonical": [canonical],
            "code": {"text": protocol.title},
            "reasonCode": reasons,
            "status": codes.status("careplan_activity", component.status),
            "scheduledPeriod": period,
            "location": {"display": clinic_name},
            "description": description,
        }
    )
    return _drop_empty(
        {
            "outcomeReference": [ref("Appointment", s.pk) for s in sessions],
            "detail": detail,
        }
    )


def care_plan(
    plan: Any, components: Sequence[Any], sessions_by_component: dict[int, list[Any]]
) -> dict[str, Any]:
    """[CarePlan] one activity per component (in plan order), diagnoses as contained ICD-10-CM
    Conditions. ``plan.clinic``/``plan.coordinator`` must be loaded."""
    contained = [_condition(c, i, plan.patient_id) for i, c in enumerate(plan.diagnoses, 1)]
    return _drop_empty(
        {
            "resourceType": "CarePlan",
            "id": str(plan.pk),
            "contained": contained,
            "status": codes.status("careplan", plan.status),
            "intent": "plan",
            "title": plan.title,
            "description": plan.goals or None,
            "subject": ref("Patient", plan.patient_id),
            "period": _drop_empty(
                {"start": instant(plan.activated_at), "end": instant(plan.ended_at)}
            ),
            "created": instant(plan.created_at),
            "author": {"display": _person(plan.coordinator)} if plan.coordinator_id else None,
            "addresses": [{"reference": f"#{c['id']}"} for c in contained],
            "activity": [
                _activity(c, sessions_by_component.get(c.pk, []), plan.clinic.name)
                for c in components
            ],
        }
    )


# --- Appointment --------------------------------------------------------------------------------


def appointment(session: Any, *, plan_id: int, protocol_title: str) -> dict[str, Any]:
    """[Appointment] status 1:1; start/end in UTC, the clinic's zone as ``tz-code`` and in the
    comment. ``session.clinic`` and ``session.clinician`` must be loaded."""
    clinic = session.clinic
    tz_ext = {"extension": [{"url": codes.TZ_CODE, "valueCode": clinic.timezone}]}
    zone = _zone(clinic.timezone)
    local = session.starts_at.astimezone(zone) if zone else session.starts_at
    kind = session.kind.replace("_", " ")
    seq = f" #{session.sequence}" if session.sequence else ""
    accepted = codes.status("participation", "booked")
    participants = [{"actor": ref("Patient", session.patient_id), "status": accepted}]
    if session.clinician_id:
        participants.append({"actor": {"display": _person(session.clinician)}, "status": accepted})
    participants.append({"actor": {"display": clinic.name}, "status": accepted})
    minutes = int((session.ends_at - session.starts_at).total_seconds() // 60)
    return _drop_empty(
        {
            "resourceType": "Appointment",
            "id": str(session.pk),
            "status": codes.status("appointment", session.status),
            "cancelationReason": {"text": session.cancel_reason} if session.cancel_reason else None,
            "description": f"{protocol_title}: {kind}{seq}",
            "start": instant(session.starts_at),
            "_start": tz_ext,
            "end": instant(session.ends_at),
            "_end": tz_ext,
            "minutesDuration": minutes if minutes > 0 else None,
            "created": instant(session.created_at),
            "comment": f"Clinic local time {local:%Y-%m-%d %H:%M} ({clinic.timezone})",
            "supportingInformation": [ref("CarePlan", plan_id)],
            "participant": participants,
        }
    )


# --- Measures -----------------------------------------------------------------------------------


def _answer(value: Any) -> dict[str, Any] | None:
    if isinstance(value, bool):
        return {"valueBoolean": value}
    if isinstance(value, int):
        return {"valueInteger": value}
    if isinstance(value, float | Decimal):
        return {"valueDecimal": _number(value)}
    if isinstance(value, str) and value:
        return {"valueString": value}
    return None


def questionnaire_response(measure: Any) -> dict[str, Any]:
    """[QuestionnaireResponse] the item answers as recorded, plus the server-computed total."""
    items = []
    for key in sorted(measure.answers or {}, key=_item_order):
        answer = _answer(measure.answers[key])
        item: dict[str, Any] = {"linkId": str(key)}
        if answer:
            item["answer"] = [answer]
        items.append(item)
    items.append(
        {
            "linkId": "total",
            "text": "Total score (computed by the service)",
            "answer": [{"valueDecimal": _number(measure.total)}],
        }
    )
    if measure.band:
        items.append({"linkId": "band", "text": "Band", "answer": [{"valueString": measure.band}]})
    return _drop_empty(
        {
            "resourceType": "QuestionnaireResponse",
            "id": str(measure.pk),
            "status": codes.status("questionnaire_response", measure.status),
            "subject": ref("Patient", measure.patient_id),
            "authored": instant(measure.taken_at),
            "basedOn": [ref("CarePlan", measure.plan_id)] if measure.plan_id else None,
            "item": items,
        }
    )


def _item_order(key: str) -> tuple[str, int, str]:
    digits = "".join(ch for ch in key if ch.isdigit())
    return (key.rstrip("0123456789"), int(digits) if digits else 0, key)


def has_observation(instrument: str) -> bool:
    return instrument in codes.loinc_for_instrument()


def observation(measure: Any) -> dict[str, Any]:
    """[Observation] the total under its LOINC code, derived from the QuestionnaireResponse.
    Only for instruments with a LOINC total (``has_observation``)."""
    loinc = codes.loinc_for_instrument()[measure.instrument]
    return _drop_empty(
        {
            "resourceType": "Observation",
            "id": str(measure.pk),
            "status": codes.status("observation", measure.status),
            "category": [codes.concept(OBS_CATEGORY, "survey")],
            "code": codes.concept(codes.LOINC, loinc),
            "subject": ref("Patient", measure.patient_id),
            "effectiveDateTime": instant(measure.taken_at),
            "issued": instant(measure.recorded_at),
            "valueQuantity": {
                "value": _number(measure.total),
                "unit": "{score}",
                "system": UCUM,
                "code": "{score}",
            },
            "interpretation": [{"text": measure.band}] if measure.band else None,
            "note": [{"text": "Safety alert raised (see the open flags)."}]
            if measure.safety_alert
            else None,
            "derivedFrom": [ref("QuestionnaireResponse", measure.pk)],
        }
    )


# --- Flag ---------------------------------------------------------------------------------------


def flag(f: Any, *, patient_id: int) -> dict[str, Any]:
    """[Flag] open → active; resolved or dismissed → inactive (with the period's end)."""
    end = f.resolved_at or f.dismissed_at
    return _drop_empty(
        {
            "resourceType": "Flag",
            "id": str(f.pk),
            # a patient-level flag (no plan yet) has no plan to point at
            "extension": [{"url": FLAG_DETAIL, "valueReference": ref("CarePlan", f.plan_id)}]
            if f.plan_id
            else None,
            "status": codes.status("flag", f.status),
            "category": [codes.concept(FLAG_CATEGORY, codes.flag_category(f.code))],
            "code": {"text": f"[{f.severity}] {f.message}"},
            "subject": ref("Patient", patient_id),
            "period": _drop_empty({"start": instant(f.opened_at), "end": instant(end)}),
        }
    )


# --- Consent ------------------------------------------------------------------------------------


def consent(evaluation: Any, *, today: dt.date) -> dict[str, Any]:
    """[Consent] from an informed-consent, off-label-consent or financial-acknowledgment step.
    A consent past its ``valid_until`` is ``inactive``; one marked in error stays visible as
    ``entered-in-error``."""
    if evaluation.status == "entered-in-error":
        state = "entered-in-error"
    elif evaluation.valid_until and evaluation.valid_until < today:
        state = "expired"
    else:
        state = "final"
    text = _CONSENT_TEXT[evaluation.kind]
    form = (evaluation.data or {}).get("form")
    if evaluation.kind == "financial_acknowledgment" and form in _FINANCIAL_FORM_TEXT:
        text = f"{text}: {_FINANCIAL_FORM_TEXT[form]}"
    return _drop_empty(
        {
            "resourceType": "Consent",
            "id": str(evaluation.pk),
            "status": codes.status("consent", state),
            "scope": codes.concept(CONSENT_SCOPE, "treatment"),
            "category": [codes.concept(codes.LOINC, CONSENT_CATEGORY_LOINC, text)],
            "patient": ref("Patient", evaluation.patient_id),
            "dateTime": instant(evaluation.performed_at),
            "policyRule": codes.concept(ACT_CODE, "OPTIN"),
            "provision": _drop_empty(
                {
                    "type": "permit",
                    "period": _drop_empty(
                        {
                            "start": instant(evaluation.performed_at),
                            "end": date(evaluation.valid_until),
                        }
                    ),
                }
            ),
        }
    )


# --- Coverage -----------------------------------------------------------------------------------


def coverage_from_component(component: Any, *, patient_id: int) -> dict[str, Any]:
    """[Coverage] of one course: payer type (Source of Payment Typology, or HL7 self-pay), payer
    name, prior-authorisation number as an identifier (with its expiry as the identifier's
    period end).

    The one place that knows where coverage lives: today the component's fields
    (``payer_type``, ``payer_name``, ``prior_auth_*``). When prior authorisations become their
    own records, switch this function (and ``queries``' loading) — nothing else reads them.
    """
    system, code = codes.coverage_type(component.payer_type)
    self_pay = component.payer_type == "self_pay"
    payor = (
        [ref("Patient", patient_id, "Self-pay")]
        if self_pay
        else [{"display": component.payer_name or _PAYER_TEXT[component.payer_type]}]
    )
    identifiers = []
    if component.prior_auth_number:
        identifiers.append(
            _drop_empty(
                {
                    "use": "secondary",
                    "type": {"text": "Prior authorization number"},
                    "system": f"{canonical_base()}/sid/prior-authorization",
                    "value": component.prior_auth_number,
                    "period": {"end": date(component.prior_auth_expires_on)}
                    if component.prior_auth_expires_on
                    else None,
                }
            )
        )
    return _drop_empty(
        {
            "resourceType": "Coverage",
            "id": str(component.pk),
            "identifier": identifiers,
            "status": codes.status("coverage", component.status),
            "type": codes.concept(system, code, _PAYER_TEXT[component.payer_type]),
            "beneficiary": ref("Patient", patient_id),
            "relationship": codes.concept(SUBSCRIBER_REL, "self"),
            "payor": payor,
        }
    )


# --- Bundles ------------------------------------------------------------------------------------


def entries(ctx: Ctx, resources: Iterable[dict[str, Any]], mode: str | None = None) -> list[dict]:
    out = []
    for resource in resources:
        entry: dict[str, Any] = {"fullUrl": ctx.full_url(resource), "resource": resource}
        if mode:
            entry["search"] = {"mode": mode}
        out.append(entry)
    return out


def bundle(
    *,
    bundle_type: str,
    entry: list[dict[str, Any]],
    total: int | None = None,
    links: list[dict[str, str]] | None = None,
    identifier: dict[str, str] | None = None,
    timestamp: dt.datetime | None = None,
) -> dict[str, Any]:
    assert bundle_type in codes.status_maps()["bundle_type"]["allowed"]
    return _drop_empty(
        {
            "resourceType": "Bundle",
            "identifier": identifier,
            "type": bundle_type,
            "timestamp": instant(timestamp),
            "total": total,
            "link": links,
            "entry": entry,
        }
    )


def operation_outcome(code: str, diagnostics: str, severity: str = "error") -> dict[str, Any]:
    """[OperationOutcome] ``code`` from http://hl7.org/fhir/ValueSet/issue-type."""
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": code, "diagnostics": diagnostics}],
    }

"""The re-authorisation packet (issue 11): the criteria evidence already recorded for a
component, assembled for the payer — a selector (reads only; the interface audits the read).

What payers ask for to continue or re-authorise TMS/SPRAVATO (DOMAIN.md §1.6 [PAYER]: failed
antidepressant trials from ≥ 2 classes with drug, class, dose, duration and reason stopped;
baseline severity on a standardised scale; psychotherapy; §2.5 [PAYER]: re-authorisation at
6 months with documented response) — plus the sessions used under the current authorisation.

Psychotherapy has no evaluation kind of its own: it is read from the ``psychotherapy`` entry of
any final evaluation's data (a list of {modality, weeks, outcome} or a note string), which is
where coordinators record it with the trial history or the psychiatric evaluation.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from backend.audit.models import AuditAction
from backend.audit.services import record_object
from modalities.vocab import EvaluationKind
from plans import access
from plans.authorizations import course_session_days, window_of
from plans.models import Evaluation, Measure, PlanComponent, RecordStatus
from plans.rules.authorization import usage_of
from plans.rules.readiness import TRIAL_OUTCOMES
from plans.selectors import clinic_today, clinic_zone, latest_measures

PACKET_INSTRUMENTS = ("phq9", "gad7", "pain_nrs", "bpi_sf")


def _number(value: Any) -> float | int | None:
    if value is None:
        return None
    f = float(value)
    return int(f) if f.is_integer() else f


def _trials(evaluations: list[Evaluation], zone: dt.tzinfo) -> list[dict[str, Any]]:
    out = []
    for e in evaluations:
        if e.kind != EvaluationKind.ANTIDEPRESSANT_TRIALS:
            continue
        for trial in (e.data or {}).get("trials") or []:
            if not isinstance(trial, dict):
                continue
            outcome = trial.get("outcome")
            out.append(
                {
                    "drug": trial.get("drug"),
                    "drug_class": trial.get("drug_class"),
                    "max_dose_mg": trial.get("max_dose_mg"),
                    "weeks": trial.get("weeks"),
                    "outcome": outcome if outcome in TRIAL_OUTCOMES else None,
                    "failed": outcome in ("inadequate_response", "intolerance"),
                    "evaluation": e.pk,
                    "recorded_on": e.performed_at.astimezone(zone).date().isoformat(),
                }
            )
    return out


def _psychotherapy(evaluations: list[Evaluation], zone: dt.tzinfo) -> list[dict[str, Any]]:
    out = []
    for e in evaluations:
        entry = (e.data or {}).get("psychotherapy")
        items = entry if isinstance(entry, list) else [entry] if entry else []
        for item in items:
            row = item if isinstance(item, dict) else {"note": str(item)}
            out.append(
                {
                    **row,
                    "evaluation": e.pk,
                    "kind": e.kind,
                    "recorded_on": e.performed_at.astimezone(zone).date().isoformat(),
                }
            )
    return out


def get_reauthorization_packet(*, component: PlanComponent, today: dt.date) -> dict[str, Any]:
    """Everything a re-authorisation request cites, from what is recorded. Five queries:
    authorisations + evidence (2), evaluations, measures, the course sessions."""
    plan, patient = component.plan, component.plan.patient
    authorizations = list(
        component.authorizations.prefetch_related("evidence__evaluation").order_by(
            "-starts_on", "-id"
        )
    )
    evaluations = list(
        Evaluation.objects.filter(patient_id=patient.pk, status=RecordStatus.FINAL).order_by(
            "performed_at", "id"
        )
    )
    measures = list(
        Measure.objects.filter(
            patient_id=patient.pk,
            plan_id=plan.pk,
            status=RecordStatus.FINAL,
            instrument__in=PACKET_INSTRUMENTS,
        )
    )
    days = course_session_days([component.pk]).get(component.pk, [])
    current = component.current_authorization
    usage = usage_of(window_of(current), days, today=today) if current else None
    zone = clinic_zone(plan.clinic)  # recorded on: the clinic's date, as readiness dates it
    trials = _trials(evaluations, zone)
    failed = [t for t in trials if t["failed"]]
    scores = []
    for summary in latest_measures(measures):
        base, latest, change = summary.baseline, summary.latest, summary.change
        scores.append(
            {
                "instrument": summary.instrument,
                "baseline": None
                if base is None
                else {
                    "total": _number(base.total),
                    "band": base.band,
                    "taken_at": base.taken_at.isoformat(),
                },
                "latest": {
                    "total": _number(latest.total),
                    "band": latest.band,
                    "taken_at": latest.taken_at.isoformat(),
                },
                "change": None if change is None else change.change,
                "percent_change": None if change is None else change.percent_change,
                "response": None if change is None else change.response,
                "remission": None if change is None else change.remission,
            }
        )
    fulfilled = sorted(d for d, status in days if status == "fulfilled")
    return {
        "generated_on": today.isoformat(),
        "patient": {
            "id": patient.pk,
            "mrn": patient.mrn,
            "name": f"{patient.given_name} {patient.family_name}",
            "birth_date": patient.birth_date.isoformat(),
        },
        "plan": {"id": plan.pk, "title": plan.title, "diagnoses": list(plan.diagnoses)},
        "component": {
            "id": component.pk,
            "protocol": component.protocol.title,
            "protocol_code": component.protocol.code,
            "protocol_version": component.protocol.version,
            "modality": component.protocol.modality,
            "indication": component.indication.name,
            "label_status": component.label_status,
            "target": component.target,
            "payer_type": component.payer_type,
            "payer_name": component.payer_name,
        },
        "authorizations": [
            {
                "id": a.pk,
                "number": a.number,
                "status": a.status,
                "payer_name": a.payer_name,
                "authorized_units": a.authorized_units,
                "starts_on": a.starts_on.isoformat() if a.starts_on else None,
                "ends_on": a.ends_on.isoformat() if a.ends_on else None,
                "decision_note": a.decision_note,
                "evidence": [
                    {
                        "id": ev.pk,
                        "kind": ev.kind,
                        "title": ev.title,
                        "url": ev.url,
                        "file": ev.file.name if ev.file else "",
                        "evaluation": ev.evaluation_id,
                        "evaluation_kind": ev.evaluation.kind if ev.evaluation else None,
                        "added_at": ev.added_at.isoformat(),
                    }
                    for ev in a.evidence.all()
                ],
            }
            for a in authorizations
        ],
        "antidepressant_trials": trials,
        "failed_trials": len(failed),
        "failed_trial_classes": sorted({str(t["drug_class"]) for t in failed if t["drug_class"]}),
        "psychotherapy": _psychotherapy(evaluations, zone),
        "scores": scores,
        "sessions": {
            "fulfilled": len(fulfilled),
            "first_session_on": fulfilled[0].isoformat() if fulfilled else None,
            "last_session_on": fulfilled[-1].isoformat() if fulfilled else None,
            "used_under_current_authorization": usage.used if usage else None,
            "held_under_current_authorization": usage.held if usage else None,
            "remaining_units": usage.remaining if usage else None,
        },
    }


def read_reauthorization_packet(*, user: Any, component_id: Any) -> tuple[PlanComponent, dict]:
    """The packet of a component the user may see and record clinical data for (404 / 403
    otherwise), with its read audited — the one entry point of the API and the printable page."""
    component = access.access_component(user=user, component_id=component_id)
    access.require(user, access.Action.RECORD_CLINICAL)
    packet = get_reauthorization_packet(
        component=component, today=clinic_today(component.plan.clinic)
    )
    record_object(
        actor=user,
        action=AuditAction.READ,
        obj=component,
        patient_id=component.plan.patient_id,
        detail={"reauthorization_packet": True},
    )
    return component, packet

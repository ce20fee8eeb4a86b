"""A FHIR test world: one demo plan per catalogue protocol, built through the plan services,
with sessions in every status, a measure of every instrument, the three consent steps and the
flags readiness opens by itself. Synthetic people only (example.com, +1-555-01xx)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from modalities.models import Protocol
from plans import services
from scheduling.models import Session
from tests import factories

MEASURES = {
    "phq9": {f"q{i}": 2 for i in range(1, 10)} | {"q9": 0},
    "gad7": {f"q{i}": 1 for i in range(1, 8)},
    "pain_nrs": {"score": 6},
    "bpi_sf": {"worst": 7, "least": 3, "average": 5, "now": 4}
    | dict.fromkeys(
        ("general_activity", "mood", "walking", "work", "relations", "sleep", "enjoyment"), 4
    ),
    "cssrs_screener": {"q1": False, "q2": False, "q6": False},
}
STATUSES = ("fulfilled", "fulfilled", "noshow", "cancelled", "arrived", "booked", "booked")


@dataclass
class FhirWorld:
    org: Any
    clinic: Any
    coordinator: Any
    plans: list[Any] = field(default_factory=list)


def latest_protocols() -> list[Protocol]:
    seen: dict[str, Protocol] = {}
    for p in Protocol.objects.filter(is_active=True).order_by("code", "-version"):
        seen.setdefault(p.code, p)
    return list(seen.values())


def add_sessions(component, *, n: int, start: dt.datetime, statuses=STATUSES) -> None:
    """``n`` sessions a day apart (leaves, like tests.factories.make_active_component)."""
    Session.objects.bulk_create(
        Session(
            component=component,
            patient_id=component.plan.patient_id,
            clinic=component.plan.clinic,
            kind="treatment",
            sequence=i + 1,
            starts_at=start + dt.timedelta(days=i),
            ends_at=start + dt.timedelta(days=i, minutes=40),
            status=statuses[i % len(statuses)],
            cancel_reason="patient unwell" if statuses[i % len(statuses)] == "cancelled" else "",
        )
        for i in range(n)
    )


def demo_plan(*, org, clinic, coordinator, protocol: Protocol, index: int, sessions: int = 7):
    indication = protocol.indications.order_by("code").first()
    off_label = indication.label_status == "off_label"
    patient = services.create_patient(
        organization=org,
        by=coordinator,
        mrn=f"FHIR-{index:03d}",
        given_name="Demo",
        family_name=f"Patient{index}",
        birth_date=dt.date(1980, 5, 17),
        phone=f"+155555501{index % 100:02d}",
        email=f"demo{index}@example.com",
        timezone="America/New_York",
    )
    component: dict[str, Any] = {"protocol": protocol, "indication": indication}
    if off_label:
        component["payer_type"] = "self_pay"
    else:
        expires = timezone.now().date() + dt.timedelta(days=90)
        component |= {
            "payer_type": "commercial",
            "payer_name": "Example Health Plan",
            "prior_auth_number": f"PA-{index:04d}",
            "prior_auth_sessions": 30,
            "prior_auth_expires_on": expires,
        }
    plan = services.create_plan(
        patient=patient,
        clinic=clinic,
        by=coordinator,
        coordinator=coordinator,
        title=f"Demo plan: {protocol.title}",
        diagnoses=list(indication.icd10[:1]) or ["F33.2"],
        goals="Remission; less pain.",
        components=[component],
    )
    now = timezone.now()
    for instrument, answers in MEASURES.items():
        services.record_measure(
            patient=patient,
            by=coordinator,
            plan=plan,
            instrument=instrument,
            answers=answers,
            taken_at=now - dt.timedelta(days=3),
        )
    services.record_evaluation(
        patient=patient, by=coordinator, plan=plan, kind="informed_consent", performed_at=now
    )
    form = "good_faith_estimate" if off_label else "waiver_not_needed"
    services.record_evaluation(
        patient=patient,
        by=coordinator,
        plan=plan,
        kind="financial_acknowledgment",
        performed_at=now,
        data={"form": form},
    )
    if off_label:
        services.record_evaluation(
            patient=patient,
            by=coordinator,
            plan=plan,
            kind="off_label_consent",
            performed_at=now,
            valid_until=now.date() + dt.timedelta(days=365),
        )
    add_sessions(plan.components.get(), n=sessions, start=now - dt.timedelta(days=4))
    return plan


def build_fhir_world() -> FhirWorld:
    org = factories.OrganizationFactory()
    clinic = factories.ClinicFactory(organization=org)
    coordinator = factories.CoordinatorFactory(organization=org)
    world = FhirWorld(org=org, clinic=clinic, coordinator=coordinator)
    for i, protocol in enumerate(latest_protocols(), 1):
        world.plans.append(
            demo_plan(org=org, clinic=clinic, coordinator=coordinator, protocol=protocol, index=i)
        )
    return world

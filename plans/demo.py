"""Synthetic demo scenario (issue 3 acceptance 2), built through the real services. Idempotent.

The seed patient (DESIGN.md §1): fibromyalgia (M79.7) intertwined with treatment-resistant
depression (F33.2); one plan with off-label HF rTMS to left M1 for the pain (self-pay), SPRAVATO
for TRD (commercial insurance, prior authorisation on file) and psychiatric follow-up. Only a GAD-7
and a C-SSRS screen are recorded, so readiness lists every missing step — baseline PHQ-9 and pain
score included. Synthetic people only: example.com, +1-555-01xx.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone

from modalities.models import Protocol
from modalities.services import sync_catalogue
from modalities.vocab import Instrument, PayerType
from plans import services
from plans.models import CarePlan, Patient

SEED_MRN = "DEMO-0001"


def _protocol(code: str) -> Protocol:
    return Protocol.objects.filter(code=code, is_active=True).order_by("-version")[:1].get()


def _component(code: str, indication: str, payer: str, **extra: Any) -> dict[str, Any]:
    protocol = _protocol(code)
    return {
        "protocol": protocol,
        "indication": protocol.indications.get(code=indication),
        "payer_type": payer,
        **extra,
    }


def _patient(organization, by, *, mrn: str, team: list, **fields: Any) -> tuple[Patient, bool]:
    existing = Patient.objects.filter(organization=organization, mrn=mrn).first()
    if existing is not None:
        return existing, False
    patient = services.create_patient(
        organization=organization, by=by, mrn=mrn, care_team=tuple(team), **fields
    )
    return patient, True


@transaction.atomic
def seed_scenario(*, organization, clinic, users: dict[str, Any]) -> dict[str, Any]:
    """Create the seed patient and plan (and two more patients for variety) once.

    ``users``: the demo logins by username ("coordinator", "psychiatrist", "technician",
    "nurse", "patient"), as returned by ``scheduling.demo_foundation.seed_foundation``.
    """
    if not Protocol.objects.exists():
        sync_catalogue()
    coordinator = users["coordinator"]
    now = timezone.now()
    today = now.date()

    patient, created = _patient(
        organization,
        coordinator,
        mrn=SEED_MRN,
        team=[users["psychiatrist"], users["technician"]],
        given_name="Alex",
        family_name="Example",
        birth_date=dt.date(1979, 4, 12),
        phone="+15555550111",
        email="alex.example@example.com",
        timezone="America/New_York",
        user=users.get("patient"),
    )
    if created:
        plan = services.create_plan(
            patient=patient,
            clinic=clinic,
            by=coordinator,
            coordinator=coordinator,
            title="Fibromyalgia with treatment-resistant depression",
            diagnoses=["M79.7", "F33.2"],
            goals="Less widespread pain; remission of depression.",
            components=[
                _component(
                    "tms_hf_lm1_fibromyalgia", "fibromyalgia", PayerType.SELF_PAY, laterality="left"
                ),
                _component(
                    "spravato_trd",
                    "trd",
                    PayerType.COMMERCIAL,
                    payer_name="Example Health Plan",
                    prior_auth_number="PA-DEMO-1001",
                    prior_auth_sessions=18,
                    prior_auth_expires_on=today + dt.timedelta(days=180),
                ),
                _component(
                    "psychiatric_follow_up",
                    "follow_up",
                    PayerType.COMMERCIAL,
                    payer_name="Example Health Plan",
                ),
            ],
        )
        # Baseline PHQ-9 and pain score are missing on purpose: readiness shows them.
        services.record_measure(
            patient=patient,
            by=coordinator,
            plan=plan,
            instrument=Instrument.GAD7,
            answers={f"q{i}": 1 for i in range(1, 8)},
            taken_at=now,
        )
        services.record_measure(
            patient=patient,
            by=coordinator,
            plan=plan,
            instrument=Instrument.CSSRS_SCREENER,
            answers={"q1": False, "q2": False, "q6": False},
            taken_at=now,
        )
    plan = CarePlan.objects.filter(patient=patient).order_by("created_at", "id")[:1].get()

    # Variety: a cleared-indication TMS patient on the nurse's team only …
    other, created = _patient(
        organization,
        coordinator,
        mrn="DEMO-0002",
        team=[users["nurse"]],
        given_name="Jordan",
        family_name="Sample",
        birth_date=dt.date(1988, 9, 3),
        phone="+15555550112",
        email="jordan.sample@example.com",
        timezone="America/Chicago",
    )
    if created:
        services.create_plan(
            patient=other,
            clinic=clinic,
            by=coordinator,
            coordinator=coordinator,
            title="Major depression, TMS",
            diagnoses=["F33.1"],
            components=[
                _component(
                    "tms_10hz_ldlpfc_mdd",
                    "mdd_inadequate_response",
                    PayerType.COMMERCIAL,
                    payer_name="Example Health Plan",
                )
            ],
        )
    # … and a ketamine patient with a baseline and a follow-up PHQ-9 (a response).
    third, created = _patient(
        organization,
        coordinator,
        mrn="DEMO-0003",
        team=[users["psychiatrist"]],
        given_name="Riley",
        family_name="Placeholder",
        birth_date=dt.date(1971, 1, 22),
        phone="+15555550113",
        email="riley.placeholder@example.com",
        timezone="America/New_York",
    )
    if created:
        ket = services.create_plan(
            patient=third,
            clinic=clinic,
            by=coordinator,
            coordinator=coordinator,
            title="Depression, IV ketamine series",
            diagnoses=["F33.2"],
            components=[_component("ketamine_iv_depression", "trd_off_label", PayerType.SELF_PAY)],
        )
        services.record_measure(
            patient=third,
            by=coordinator,
            plan=ket,
            instrument=Instrument.PHQ9,
            answers={f"q{i}": 2 for i in range(1, 10)} | {"q9": 0},
            taken_at=now - dt.timedelta(days=14),
        )
        services.record_measure(
            patient=third,
            by=coordinator,
            plan=ket,
            instrument=Instrument.PHQ9,
            answers={f"q{i}": 1 for i in range(1, 10)} | {"q9": 0, "q1": 0, "q2": 0},
            taken_at=now,
        )
    return {"patient": patient, "plan": plan, "others": [other, third]}

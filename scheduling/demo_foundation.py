"""Synthetic demo data for ``make run`` (``manage.py seed_demo``). Idempotent.

It lives in scheduling, the lowest layer that may import everything it seeds (the clinic is
scheduling's; ``seed_all`` then runs plans' and scheduling's own demo scenarios).

Only synthetic people: example.com addresses and +1-555-01xx numbers, so nothing can reach a
real person. Passwords are printed by the command; they are for a local demo only, and the
command refuses to run with DEBUG off unless forced.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time

from django.db import transaction

from backend.accounts.models import Credential, Organization, Role, User
from modalities import vocab
from plans.demo import seed_scenario
from scheduling.demo import seed_sessions
from scheduling.models import Clinic, ClinicHours, Resource


@dataclass(frozen=True)
class DemoUser:
    username: str
    password: str
    role: str
    credential: str = ""
    first_name: str = ""
    last_name: str = ""


DEMO_USERS = (
    DemoUser("coordinator", "demo-coordinator-2026", Role.COORDINATOR, "", "Casey", "Coordinator"),
    DemoUser(
        "psychiatrist",
        "demo-psychiatrist-2026",
        Role.CLINICIAN,
        Credential.PSYCHIATRIST,
        "Pat",
        "Prescriber",
    ),
    DemoUser(
        "technician",
        "demo-technician-2026",
        Role.CLINICIAN,
        Credential.TECHNICIAN,
        "Toni",
        "Technician",
    ),
    DemoUser("nurse", "demo-nurse-2026", Role.CLINICIAN, Credential.NURSE, "Noor", "Nurse"),
    DemoUser("patient", "demo-patient-2026", Role.PATIENT, "", "Alex", "Example"),
    DemoUser("admin", "demo-admin-2026", Role.ADMIN, "", "Ada", "Admin"),
)


@transaction.atomic
def seed_foundation() -> tuple[Organization, Clinic, dict[str, User]]:
    org, _ = Organization.objects.get_or_create(
        slug="demo", defaults={"name": "Demo Interventional Psychiatry"}
    )
    clinic, created = Clinic.objects.get_or_create(
        organization=org,
        name="Demo Clinic Midtown",
        defaults={
            "timezone": "America/New_York",
            "phone": "+15555550123",
            "address": "100 Example Avenue, Suite 5, New York, NY",
            "subdivision": "NY",
            "reminder_offsets_minutes": [24 * 60],
        },
    )
    if created:
        ClinicHours.objects.bulk_create(
            ClinicHours(clinic=clinic, weekday=day, opens=time(8), closes=time(18))
            for day in range(5)
        )
        Resource.objects.bulk_create(
            [
                Resource(
                    clinic=clinic,
                    kind=vocab.ResourceKind.TMS_DEVICE,
                    name="TMS 1",
                    coil_type="figure-8",
                ),
                Resource(
                    clinic=clinic,
                    kind=vocab.ResourceKind.TMS_DEVICE,
                    name="TMS 2 (H7)",
                    coil_type="H7",
                ),
                Resource(clinic=clinic, kind=vocab.ResourceKind.MONITORING_CHAIR, name="Chair A"),
                Resource(clinic=clinic, kind=vocab.ResourceKind.MONITORING_CHAIR, name="Chair B"),
                Resource(clinic=clinic, kind=vocab.ResourceKind.INFUSION_CHAIR, name="Infusion 1"),
                Resource(clinic=clinic, kind=vocab.ResourceKind.EEG_STATION, name="EEG 1"),
                Resource(clinic=clinic, kind=vocab.ResourceKind.CONSULT_ROOM, name="Consult 1"),
            ]
        )
    users: dict[str, User] = {}
    for demo in DEMO_USERS:
        user, made = User.objects.get_or_create(
            username=demo.username,
            defaults={
                "role": demo.role,
                "credential": demo.credential,
                "organization": None if demo.role == Role.ADMIN else org,
                "first_name": demo.first_name,
                "last_name": demo.last_name,
                "email": f"{demo.username}@example.com",
                "is_staff": demo.role == Role.ADMIN,
                "is_superuser": demo.role == Role.ADMIN,
            },
        )
        if made:
            user.set_password(demo.password)
            user.save(update_fields=["password"])
        users[demo.username] = user
    return org, clinic, users


def seed_all() -> dict:
    """Foundation (organisation, clinic, logins) then each area's scenario. Idempotent."""
    org, clinic, users = seed_foundation()
    scenario = seed_scenario(organization=org, clinic=clinic, users=users)
    # Book the courses so the calendar, reminders and dashboard timeline have something to show
    # (SPRAVATO stays unbooked: the demo clinic's REMS certification is missing on purpose).
    booked = [
        seed_sessions(plan=plan, by=users["coordinator"])
        for plan in [scenario["plan"], *(p.plans.first() for p in scenario["others"])]
        if plan is not None
    ]
    return {
        "organization": org,
        "clinic": clinic,
        "users": users,
        "plans": scenario,
        "sessions": booked,
    }

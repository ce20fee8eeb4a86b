"""Test data for the dashboard, built through the other domains' services (STYLE.md habit 10):
the demo foundation and seed scenario (``scheduling.demo_foundation``, ``plans.demo``),
``schedule_course``, ``book_session``, ``mark_no_show`` and ``record_measure``. Reminder rows are
made through the model: they are the workers' output, and the dashboard only reads them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from backend.accounts.models import User
from modalities.vocab import Instrument, Modality
from plans import services as plan_services
from plans.demo import seed_scenario
from plans.models import CarePlan, Patient, PlanComponent
from scheduling import services as scheduling_services
from scheduling.demo_foundation import DEMO_USERS, seed_foundation
from scheduling.models import Clinic, Reminder, ReminderKind, ReminderStatus, Session

PASSWORDS = {u.username: u.password for u in DEMO_USERS}


@dataclass
class Scenario:
    clinic: Clinic
    users: dict[str, User]
    plan: CarePlan
    patient: Patient
    other_patient: Patient  # on the nurse's team only
    other_plan: CarePlan
    tms: PlanComponent
    spravato: PlanComponent
    follow_up: PlanComponent


def build() -> Scenario:
    org, clinic, users = seed_foundation()
    seeded = seed_scenario(organization=org, clinic=clinic, users=users)
    plan = seeded["plan"]
    components = {c.protocol.modality: c for c in plan.components.select_related("protocol")}
    other = seeded["others"][0]
    return Scenario(
        clinic=clinic,
        users=users,
        plan=plan,
        patient=seeded["patient"],
        other_patient=other,
        other_plan=other.plans.get(),
        tms=components[Modality.TMS],
        spravato=components[Modality.SPRAVATO],
        follow_up=components[Modality.PSYCHIATRY],
    )


def next_monday(clinic: Clinic, now: dt.datetime) -> dt.date:
    today = now.astimezone(ZoneInfo(clinic.timezone)).date()
    return today + dt.timedelta(days=7 - today.weekday())


def schedule_tms(s: Scenario, *, starts_on: dt.date, clinician: Any = None) -> list[int]:
    result = scheduling_services.schedule_course(
        component=s.tms,
        starts_on=starts_on,
        preferred_start=dt.time(9, 0),
        clinician=clinician or s.users["technician"],
        by=s.users["coordinator"],
        commit=True,
    )
    return result.session_ids


def weekday_slots(
    clinic: Clinic, first_day: dt.date, n: int, at: dt.time = dt.time(14, 0)
) -> list[dt.datetime]:
    """``n`` local times on consecutive weekdays from ``first_day`` (clinic zone, aware)."""
    tz = ZoneInfo(clinic.timezone)
    out, day = [], first_day
    while len(out) < n:
        if day.weekday() < 5:
            out.append(dt.datetime.combine(day, at, tzinfo=tz))
        day += dt.timedelta(days=1)
    return out


def book_follow_ups(s: Scenario, starts: list[dt.datetime], clinician: Any = None) -> list[Session]:
    return [
        scheduling_services.book_session(
            component=s.follow_up,
            kind="follow_up",
            starts_at=at,
            clinician=clinician or s.users["psychiatrist"],
            by=s.users["coordinator"],
        )
        for at in starts
    ]


def record_phq9_series(s: Scenario, days_ago: list[int], totals_per_item: list[int]) -> None:
    now = dt.datetime.now(dt.UTC)
    for n, (ago, item) in enumerate(zip(days_ago, totals_per_item, strict=True)):
        plan_services.record_measure(
            patient=s.patient,
            by=s.users["coordinator"],
            plan=s.plan,
            instrument=Instrument.PHQ9,
            answers={f"q{i}": item for i in range(1, 9)} | {"q9": 0},
            taken_at=now - dt.timedelta(days=ago),
            is_baseline=n == 0,
        )


def add_reminders(sessions: list[Session]) -> None:
    Reminder.objects.bulk_create(
        Reminder(
            key=f"test:{sess.pk}:sms:reminder",
            patient_id=sess.patient_id,
            session=sess,
            channel="sms",
            kind=ReminderKind.REMINDER,
            due_at=sess.starts_at - dt.timedelta(days=1),
            status=ReminderStatus.SENT if n % 2 else ReminderStatus.SKIPPED,
            skip_reason="" if n % 2 else "quiet_hours_daily_limit",
            sent_at=sess.starts_at - dt.timedelta(days=1) if n % 2 else None,
        )
        for n, sess in enumerate(sessions)
    )

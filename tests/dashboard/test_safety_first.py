"""Safety-critical flags first everywhere, the prescriber told at once, human labels (issue 15).

The seed scenario's plan has two dozen open paperwork flags (many *blocking*); a PHQ-9 with
item 9 = 2 must still come first: in ``GET /api/v1/flags/``, on the worklist and at the top of
the plan page, and an email goes to the patient's prescribers after commit (subject without PHI).
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core import mail

from backend.celery import app as celery_app
from dashboard import labels
from modalities.catalogue import load_catalogue
from modalities.vocab import ClinicAttribute, EvaluationKind, Instrument
from notifications.models import OutboundMessage
from notifications.terms import contains_forbidden_term
from plans import services as plan_services
from plans.flag_codes import FlagCode
from plans.models import Flag
from plans.safety_alerts import SAFETY_SUBJECT, notify_safety_flag
from tests.dashboard.test_pages import plan_url, text

ITEM9 = {f"q{i}": 1 for i in range(1, 9)} | {"q9": 2}


@pytest.fixture
def eager_tasks():
    """Run published tasks in-process (the real task code; no broker double)."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


def _record_item9(scenario) -> None:
    plan_services.record_measure(
        patient=scenario.patient,
        by=scenario.users["coordinator"],
        plan=scenario.plan,
        instrument=Instrument.PHQ9,
        answers=ITEM9,
        taken_at=dt.datetime.now(dt.UTC),
    )


def test_item9_flag_emails_the_prescribers_once_after_commit(
    scenario, eager_tasks, django_capture_on_commit_callbacks
):
    # Given the seed patient's care team (a psychiatrist among them)
    prescriber = scenario.users["psychiatrist"]

    # When a PHQ-9 with item 9 = 2 is recorded (and its transaction commits)
    with django_capture_on_commit_callbacks(execute=True):
        _record_item9(scenario)

    # Then the prescriber got one email, whose subject names no patient, drug or diagnosis
    flag = Flag.objects.get(plan=scenario.plan, code=FlagCode.SAFETY_PHQ9_ITEM9, status="open")
    sent = [m for m in mail.outbox if prescriber.email in m.to]
    assert len(sent) == 1
    assert sent[0].subject == SAFETY_SUBJECT
    assert contains_forbidden_term(sent[0].subject) is None
    assert scenario.patient.family_name not in sent[0].subject
    assert f"/dashboard/plans/{scenario.plan.pk}/" in sent[0].body
    assert OutboundMessage.objects.filter(
        idempotency_key=f"safety-flag:{flag.pk}:{prescriber.pk}"
    ).exists()
    # And only prescribers are told (not the technician or the nurse)
    recipients = {to for m in mail.outbox for to in m.to}
    assert scenario.users["technician"].email not in recipients
    assert scenario.users["nurse"].email not in recipients

    # When the same answer is recorded again, or the task is delivered twice
    with django_capture_on_commit_callbacks(execute=True):
        _record_item9(scenario)
    assert notify_safety_flag(flag_id=flag.pk) == 0

    # Then no second email goes out (one open flag per gap; one message per recipient)
    assert len([m for m in mail.outbox if prescriber.email in m.to]) == 1


def test_api_flag_list_and_plan_detail_put_the_safety_flag_first(scenario, client_for):
    # Given a plan full of blocking paperwork flags, then an item-9 PHQ-9
    plan_services.sync_readiness_flags(plan=scenario.plan)
    assert Flag.objects.filter(plan=scenario.plan, status="open", severity="blocking").count() > 5
    _record_item9(scenario)
    client = client_for(scenario.users["coordinator"])

    # When the flags are listed and the plan is read
    listed = client.get("/api/v1/flags/", {"plan": scenario.plan.pk, "status": "open"}).json()
    detail = client.get(f"/api/v1/plans/{scenario.plan.pk}/").json()

    # Then the safety flag is first in both, ahead of every blocking requirement flag
    assert listed["results"][0]["code"] == FlagCode.SAFETY_PHQ9_ITEM9
    assert detail["open_flags"][0]["code"] == FlagCode.SAFETY_PHQ9_ITEM9


def _data_codes(html: str) -> list[str]:
    return re.findall(r'data-code="([a-z0-9_]+)"', html)


def test_worklist_and_plan_page_show_the_safety_flag_first(scenario, login):
    # Given the plan's paperwork flags and an item-9 PHQ-9
    plan_services.sync_readiness_flags(plan=scenario.plan)
    _record_item9(scenario)
    client = login(scenario.users["psychiatrist"])

    # When the worklist and the plan page are rendered
    worklist = client.get("/dashboard/").content.decode()
    page = client.get(plan_url(scenario.plan)).content.decode()

    # Then the first flag on each is the safety flag, in a banner above everything else
    assert _data_codes(worklist)[0] == FlagCode.SAFETY_PHQ9_ITEM9
    assert worklist.index('id="safety-flags"') < worklist.index('id="today"')
    assert _data_codes(page)[0] == FlagCode.SAFETY_PHQ9_ITEM9
    assert page.index('id="safety-banner"') < page.index('id="components"')
    # And the flag list of the worklist itself starts with it too
    flag_list = worklist.split('id="flags"', 1)[1]
    assert _data_codes(flag_list)[0] == FlagCode.SAFETY_PHQ9_ITEM9


# ------------------------------------------------------------------------------ labels


def test_every_code_the_dashboard_can_show_has_a_human_label():
    # Given every evidence code, instrument, clinic attribute, flag code and requirement key
    keys = {req.key for spec in load_catalogue() for req in spec.requirements}
    steps = {*(k.value for k in EvaluationKind), *(a.value for a in ClinicAttribute), *keys}

    # Then each has an explicit label (no "code with spaces" fallback)
    assert sorted(steps - set(labels.STEP_LABELS) - set(labels.INSTRUMENT_LABELS)) == []
    assert sorted({i.value for i in Instrument} - set(labels.INSTRUMENT_LABELS)) == []
    assert sorted({c.value for c in FlagCode} - set(labels.FLAG_LABELS)) == []
    # And codes inside free text are rewritten
    assert labels.humanize("no pain_nrs recorded") == "no Pain score (NRS) recorded"
    assert labels.humanize("baseline phq9: no baseline phq9 recorded") == (
        "Baseline PHQ-9: no Baseline PHQ-9 recorded"
    )


def test_plan_page_shows_no_raw_code_and_each_gap_once(scenario, login):
    # Given the seed plan with its readiness flags synced (one per missing step)
    plan_services.sync_readiness_flags(plan=scenario.plan)
    client = login(scenario.users["psychiatrist"])

    # When the plan page is rendered
    response = client.get(plan_url(scenario.plan))
    visible = text(response)

    # Then no stored code is shown raw (instrument, step or audit object type)
    for raw in (
        "pain_nrs",
        "plans.careplan",
        "baseline_phq9",
        "off_label_consent",
        "requirement_missing",
        "tms_safety_screen",
    ):
        assert raw not in visible, raw
    # And each flagged gap appears once — on its checklist row, not again in the flag list
    flags_section = visible.split("Open flags", 1)[1].split("Outcomes", 1)[0]
    assert "Required step missing" not in flags_section
    assert "flagged: blocking" in visible.split("Readiness checklist", 1)[1]

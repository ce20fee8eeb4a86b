"""schedule_course: protocol-driven course generation against the real database."""

from __future__ import annotations

import itertools
from datetime import date, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from backend.errors import ConflictError
from scheduling.errors import SchedulingErrorCode
from scheduling.models import Session, SessionResource
from scheduling.services import schedule_course
from tests import factories
from tests.scheduling.conftest import TEN_AM, add_resources, make_component, make_patient

NY = ZoneInfo("America/New_York")


def test_tms_course_36_sessions_taper_mapping_thanksgiving_and_dst(tms_component, coordinator):
    # given a 10 Hz TMS component at a New York clinic closed on Thanksgiving 2026
    # when a coordinator commits the course from Monday 5 Oct 2026 at 10:00
    result = schedule_course(
        component=tms_component,
        starts_on=date(2026, 10, 5),
        preferred_start=TEN_AM,
        by=coordinator,
        commit=True,
    )
    # then 36 sessions are booked: 30 weekday sessions then a 3/2/1 taper
    sessions = list(Session.objects.filter(component=tms_component).order_by("starts_at"))
    assert result.committed
    assert len(sessions) == 36
    assert [s.sequence for s in sessions] == list(range(1, 37))
    assert sessions[0].kind == "mapping"
    assert all(s.kind == "treatment" for s in sessions[1:])
    assert (sessions[0].ends_at - sessions[0].starts_at) == timedelta(minutes=60)
    phases = [s.phase for s in sessions]
    assert phases.count("acute") == 30
    assert (phases.count("taper_3"), phases.count("taper_2"), phases.count("taper_1")) == (3, 2, 1)
    local = [s.starts_at.astimezone(NY) for s in sessions]
    assert all(d.weekday() < 5 for d in local)
    # Thanksgiving is skipped
    assert date(2026, 11, 26) not in {d.date() for d in local}
    # every session at 10:00 local on both sides of the 1 Nov 2026 DST change
    assert {d.time() for d in local} == {time(10, 0)}
    before = [s for s in sessions if s.starts_at.astimezone(NY).date() < date(2026, 11, 1)]
    after = [s for s in sessions if s.starts_at.astimezone(NY).date() > date(2026, 11, 1)]
    assert before
    assert after
    assert {s.starts_at.hour for s in before} == {14}
    assert {s.starts_at.hour for s in after} == {15}
    # taper weeks hold 3, 2, 1 sessions
    taper_weeks = {}
    for s in sessions:
        if s.phase.startswith("taper"):
            monday = s.starts_at.astimezone(NY).date()
            monday -= timedelta(days=monday.weekday())
            taper_weeks.setdefault(s.phase, set()).add(monday)
    assert all(len(v) == 1 for v in taper_weeks.values())
    # each session holds one TMS device for its whole range
    bookings = SessionResource.objects.filter(session__component=tms_component)
    assert bookings.count() == 36
    assert {b.resource.kind for b in bookings.select_related("resource")} == {"tms_device"}


def test_preview_writes_nothing_and_lists_sessions(tms_component, coordinator):
    result = schedule_course(
        component=tms_component,
        starts_on=date(2026, 10, 5),
        preferred_start=TEN_AM,
        by=coordinator,
        commit=False,
    )
    assert not result.committed
    assert len(result.sessions) == 36
    assert all(p.resources for p in result.sessions)
    assert not result.conflicts
    assert Session.objects.count() == 0


def test_spravato_trd_schedule_48h_gaps_weekly_then_fortnightly(spravato_component, coordinator):
    result = schedule_course(
        component=spravato_component,
        starts_on=date(2027, 1, 4),
        preferred_start=TEN_AM,
        by=coordinator,
        commit=True,
    )
    sessions = list(Session.objects.filter(component=spravato_component).order_by("starts_at"))
    assert result.committed
    assert len(sessions) == 18
    induction = [s for s in sessions if s.phase == "induction"]
    weekly = [s for s in sessions if s.phase == "maintenance_weekly"]
    fortnightly = [s for s in sessions if s.phase == "maintenance_fortnightly"]
    assert (len(induction), len(weekly), len(fortnightly)) == (8, 4, 6)
    # 8 doses within weeks 1–4, never two within 48 h
    assert induction[-1].starts_at.date() < date(2027, 1, 4) + timedelta(weeks=4)
    for a, b in itertools.pairwise(induction):
        assert b.starts_at - a.starts_at >= timedelta(hours=48)
    for a, b in itertools.pairwise(weekly):
        assert (b.starts_at.date() - a.starts_at.date()).days == 7
    for a, b in itertools.pairwise(fortnightly):
        assert (b.starts_at.date() - a.starts_at.date()).days == 14
    # each session holds a monitoring chair for ≥ 2 h
    for s in sessions:
        assert s.ends_at - s.starts_at >= timedelta(hours=2)
        (booking,) = s.bookings.select_related("resource")
        assert booking.resource.kind == "monitoring_chair"
        assert (booking.starts_at, booking.ends_at) == (s.starts_at, s.ends_at)


@pytest.mark.parametrize("until", [None, date(2027, 1, 20)])
def test_spravato_refused_at_uncertified_or_expiring_site(
    catalogue, organization, coordinator, until
):
    clinic = factories.ClinicFactory(organization=organization)
    add_resources(clinic, "monitoring_chair", 1)
    if until is not None:
        factories.rems_certified(clinic, until=until)
    component = make_component(
        patient=make_patient(organization), clinic=clinic, code="spravato_trd"
    )
    for commit in (False, True):
        with pytest.raises(ConflictError) as exc:
            schedule_course(
                component=component,
                starts_on=date(2027, 1, 4),
                preferred_start=TEN_AM,
                by=coordinator,
                commit=commit,
            )
        assert exc.value.code == SchedulingErrorCode.REMS_SITE_NOT_CERTIFIED
    assert not Session.objects.exists()


def test_cap_is_min_of_protocol_and_prior_authorisation(catalogue, us_clinic, coordinator):
    component = make_component(
        patient=make_patient(us_clinic.organization),
        clinic=us_clinic,
        code="tms_10hz_ldlpfc_mdd",
        prior_auth_sessions=20,
    )
    result = schedule_course(
        component=component,
        starts_on=date(2026, 10, 5),
        preferred_start=TEN_AM,
        by=coordinator,
        commit=True,
    )
    assert len(result.session_ids) == 20
    assert [p["code"] for p in result.problems] == ["capped"]


def test_second_patient_gets_the_other_device_and_third_conflicts(
    catalogue, us_clinic, coordinator
):
    components = [
        make_component(
            patient=make_patient(us_clinic.organization, mrn=f"M{i}"),
            clinic=us_clinic,
            code="tms_10hz_ldlpfc_mdd",
        )
        for i in range(3)
    ]
    kwargs = {"starts_on": date(2026, 10, 5), "preferred_start": TEN_AM, "by": coordinator}
    first = schedule_course(component=components[0], commit=True, **kwargs)
    second = schedule_course(component=components[1], commit=True, **kwargs)
    assert {p.resources[0]["id"] for p in first.sessions}.isdisjoint(
        {p.resources[0]["id"] for p in second.sessions}
    )
    preview = schedule_course(component=components[2], commit=False, **kwargs)
    assert preview.conflicts
    assert "no_free_tms_device" in preview.conflicts[0]["reasons"]
    with pytest.raises(ConflictError) as exc:
        schedule_course(component=components[2], commit=True, **kwargs)
    assert exc.value.code == SchedulingErrorCode.SLOT_CONFLICT
    assert not Session.objects.filter(component=components[2]).exists()


def test_course_commit_issues_a_constant_number_of_queries(
    catalogue, us_clinic, coordinator, django_assert_num_queries
):
    # given a 6-session course (prior authorisation caps it) and a full 36-session course
    short = make_component(
        patient=make_patient(us_clinic.organization, mrn="S6"),
        clinic=us_clinic,
        code="tms_10hz_ldlpfc_mdd",
        prior_auth_sessions=6,
    )
    full = make_component(
        patient=make_patient(us_clinic.organization, mrn="S36"),
        clinic=us_clinic,
        code="tms_10hz_ldlpfc_mdd",
    )
    kwargs = {
        "starts_on": date(2026, 10, 5),
        "preferred_start": TEN_AM,
        "by": coordinator,
        "commit": True,
    }
    # n = savepoint + component lock + its prior authorisations (prefetch) + hours + closures +
    # already-booked sessions with their dates + resources + resource bookings in the window +
    # patient's sessions in the window + savepoint + INSERT sessions + INSERT bookings + release +
    # audit INSERT + release: the same for 6 and 36 (on_commit reminder planning publishes
    # nothing inside the transaction).
    with django_assert_num_queries(15):
        six = schedule_course(component=short, **kwargs)
    with django_assert_num_queries(15):
        thirty_six = schedule_course(component=full, **kwargs)
    assert (len(six.session_ids), len(thirty_six.session_ids)) == (6, 36)


def test_demo_seed_sessions_books_the_plan_courses(tms_component, coordinator):
    from scheduling.demo import seed_sessions

    summary = seed_sessions(plan=tms_component.plan, by=coordinator)
    assert summary["booked"] == {tms_component.pk: 36}
    again = seed_sessions(plan=tms_component.plan, by=coordinator)
    assert again["skipped"] == {tms_component.pk: "already scheduled"}

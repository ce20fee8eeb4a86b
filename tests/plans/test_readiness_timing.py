"""Requirement timing kinds across a whole course (issue 15), pure rules over the real catalogue.

- before the first session: judged at session 1, never re-checked with its expiry afterwards;
- valid during the course: re-checked on the day of every session;
- every N sessions: motor-threshold re-measurement (DOMAIN.md §1.3), neurofeedback
  re-assessment (§4), due at sessions 1+N, 1+2N, …;
- after a medication change: motor threshold re-checked (§1.3);
plus drug classes among failed trials (§1.6/§2.5), hard contraindications in the IFCN screen
(§1.4) and the expiry forecast the scanner warns from.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from zoneinfo import ZoneInfo

import pytest

from modalities.catalogue import load_catalogue
from modalities.specs import find_protocol
from modalities.vocab import EvaluationKind, Instrument, PayerType, RequirementStatus, Timing
from plans.rules.readiness import (
    ClinicFacts,
    ComponentFacts,
    CourseFacts,
    EvaluationFact,
    MeasureFact,
    count_failed_drug_classes,
    evaluate_component,
    evaluation_data_errors,
    forecast_expiries,
)

CATALOGUE = load_catalogue()
DAY1 = dt.date(2027, 1, 4)  # Monday, session 1 of a daily weekday course


def _weekdays(n: int, start: dt.date = DAY1) -> dict[int, dt.date]:
    out, day = {}, start
    while len(out) < n:
        if day.weekday() < 5:
            out[len(out) + 1] = day
        day += dt.timedelta(days=1)
    return out


TMS_DATES = _weekdays(36)


def _at(day: dt.date, hour: int = 9) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=dt.UTC)


def _component(
    code="tms_10hz_ldlpfc_mdd", indication=None, payer=PayerType.COMMERCIAL, course=None
):
    protocol = find_protocol(CATALOGUE, code)
    ind = protocol.indications[0] if indication is None else protocol.indication(indication)
    facts = ComponentFacts("c1", protocol, ind, ind.label_status, payer)
    return replace(facts, course=course) if course is not None else facts


def _course(at: int, dates=TMS_DATES, started=True) -> CourseFacts:
    return CourseFacts(
        at_sequence=at, started_on=dates[1] if started else None, session_dates=dates
    )


IFCN_NO = {f"q{i}": False for i in range(1, 16)}
TRIALS = {
    "trials": [
        {
            "drug": "sertraline",
            "drug_class": "SSRI",
            "max_dose_mg": 200,
            "weeks": 8,
            "outcome": "inadequate_response",
        },
        {
            "drug": "bupropion",
            "drug_class": "NDRI",
            "max_dose_mg": 450,
            "weeks": 8,
            "outcome": "inadequate_response",
        },
    ]
}
TWO_SSRIS = {
    "trials": [
        {
            "drug": "sertraline",
            "drug_class": "SSRI",
            "max_dose_mg": 200,
            "weeks": 8,
            "outcome": "inadequate_response",
        },
        {
            "drug": "escitalopram",
            "drug_class": "ssri",
            "max_dose_mg": 20,
            "weeks": 8,
            "outcome": "inadequate_response",
        },
    ]
}


def _tms_evidence(recorded: dt.date, mt_on: dt.date) -> tuple[list, list]:
    """Every TMS step recorded on ``recorded``; motor threshold measured at mapping (``mt_on``)."""
    data = {
        EvaluationKind.TMS_SAFETY_SCREEN: {
            "answers": IFCN_NO,
            "decision": "cleared",
            "physician": "Dr. Example",
        },
        EvaluationKind.ANTIDEPRESSANT_TRIALS: TRIALS,
    }
    kinds = [
        EvaluationKind.PSYCHIATRIC_EVALUATION,
        EvaluationKind.TMS_SAFETY_SCREEN,
        EvaluationKind.TARGET_RATIONALE,
        EvaluationKind.PRIOR_AUTHORIZATION,
        EvaluationKind.ANTIDEPRESSANT_TRIALS,
    ]
    evaluations = [
        EvaluationFact(f"e-{kind}", kind, None, _at(recorded), data=data.get(kind, {}))
        for kind in kinds
    ]
    evaluations.append(
        EvaluationFact(
            "mt-1",
            EvaluationKind.MOTOR_THRESHOLD,
            None,
            _at(mt_on),
            data={"percent": 55, "method": "emg"},
        )
    )
    measures = [MeasureFact("m-phq9", Instrument.PHQ9, _at(recorded), is_baseline=True)]
    return evaluations, measures


def _judge(component, evaluations, measures, today):
    return evaluate_component(
        component=component,
        evaluations=evaluations,
        measures=measures,
        clinic=ClinicFacts(),
        today=today,
    )


# ------------------------------------------------------------------ before the first session


@pytest.mark.parametrize("session", [2, 8, 25, 36])
def test_before_first_session_steps_recorded_on_time_never_block_a_later_session(session):
    # Given every step recorded a week before session 1 (safety screen valid 30 days, baseline
    # PHQ-9 30 days) and the motor threshold measured at the mapping session (valid 7 days)
    evaluations, measures = _tms_evidence(DAY1 - dt.timedelta(days=7), DAY1)
    today = TMS_DATES[session]
    # And, from session 6 on, the re-measurement recorded at each due session
    for due in range(6, session + 1, 5):
        evaluations.append(
            EvaluationFact(
                f"mt-{due}",
                EvaluationKind.MOTOR_THRESHOLD,
                None,
                _at(TMS_DATES[due]),
                data={"percent": 56, "method": "emg"},
            )
        )

    # When readiness is judged at session 8 / 25 / 36 (weeks after the windows ended)
    readiness = _judge(_component(course=_course(session)), evaluations, measures, today)

    # Then nothing is missing or expired and the course may go on
    assert readiness.outstanding == ()
    assert readiness.ready_to_start
    assert readiness.item("motor_threshold").status == RequirementStatus.SATISFIED
    assert readiness.item("tms_safety_screen").status == RequirementStatus.SATISFIED


def test_before_first_session_step_expired_at_session_one_is_expired():
    # Given a safety screen recorded 31 days before session 1 (30-day window)
    evaluations, measures = _tms_evidence(DAY1 - dt.timedelta(days=31), DAY1)

    # When judged before the course starts, on the day of session 1
    readiness = _judge(_component(course=_course(1, started=False)), evaluations, measures, DAY1)

    # Then the screen (and the baseline PHQ-9, also 30 days) are expired
    assert readiness.item("tms_safety_screen").status == RequirementStatus.EXPIRED
    assert readiness.item("baseline_phq9").status == RequirementStatus.EXPIRED
    assert not readiness.ready_to_start


def test_before_first_session_step_is_judged_at_the_first_session_date():
    # Given a screen recorded 31 days before session 1, and the course already started
    evaluations, measures = _tms_evidence(DAY1 - dt.timedelta(days=31), DAY1)

    # When judged at session 3: it had expired by the first session (checked in by override)
    readiness = _judge(_component(course=_course(3)), evaluations, measures, TMS_DATES[3])

    # Then it is still reported expired (it was never valid at the start)
    assert readiness.item("tms_safety_screen").status == RequirementStatus.EXPIRED


# ------------------------------------------------------------------ valid during the course


def test_valid_during_course_step_is_rechecked_at_every_session():
    # Given a prior authorisation evaluation valid until the day before session 20
    evaluations, measures = _tms_evidence(DAY1 - dt.timedelta(days=7), DAY1)
    evaluations = [e for e in evaluations if e.kind != EvaluationKind.PRIOR_AUTHORIZATION]
    evaluations.append(
        EvaluationFact(
            "pa",
            EvaluationKind.PRIOR_AUTHORIZATION,
            None,
            _at(DAY1 - dt.timedelta(days=7)),
            valid_until=TMS_DATES[20] - dt.timedelta(days=1),
        )
    )
    component = _component()
    assert component.protocol.requirement("prior_authorization").timing == (
        Timing.VALID_DURING_COURSE
    )
    for due in range(6, 21, 5):
        evaluations.append(
            EvaluationFact(f"mt-{due}", EvaluationKind.MOTOR_THRESHOLD, None, _at(TMS_DATES[due]))
        )

    # When judged at session 19 and at session 20
    at_19 = _judge(_component(course=_course(19)), evaluations, measures, TMS_DATES[19])
    at_20 = _judge(_component(course=_course(20)), evaluations, measures, TMS_DATES[20])

    # Then it covers session 19 and blocks session 20
    assert at_19.item("prior_authorization").status == RequirementStatus.SATISFIED
    assert at_20.item("prior_authorization").status == RequirementStatus.EXPIRED
    assert at_20.item("prior_authorization").blocks_start


# ------------------------------------------------------------------ every N sessions


def test_motor_threshold_recheck_is_due_at_session_six_and_satisfied_by_a_new_measurement():
    evaluations, measures = _tms_evidence(DAY1 - dt.timedelta(days=7), DAY1)
    component = _component(course=_course(5))
    # Given sessions 1–5 (not due yet)
    assert (
        _judge(component, evaluations, measures, TMS_DATES[5])
        .item("motor_threshold_recheck")
        .status
        == RequirementStatus.NOT_APPLICABLE
    )

    # When session 6 comes without a new measurement
    at_6 = _judge(_component(course=_course(6)), evaluations, measures, TMS_DATES[6])

    # Then the re-check is missing (a warning: flagged, not blocking)
    item = at_6.item("motor_threshold_recheck")
    assert item.status == RequirementStatus.MISSING
    assert not item.blocks_start
    assert "due at session 6" in item.applies_because
    # And a measurement on the day of session 6 satisfies it, through session 10
    evaluations.append(
        EvaluationFact("mt-6", EvaluationKind.MOTOR_THRESHOLD, None, _at(TMS_DATES[6], 8))
    )
    for session in (6, 10):
        judged = _judge(
            _component(course=_course(session)), evaluations, measures, TMS_DATES[session]
        )
        assert judged.item("motor_threshold_recheck").status == RequirementStatus.SATISFIED
    # And session 11 is due again
    at_11 = _judge(_component(course=_course(11)), evaluations, measures, TMS_DATES[11])
    assert at_11.item("motor_threshold_recheck").status == RequirementStatus.MISSING


def test_neurofeedback_reassessment_is_due_after_twenty_sessions():
    protocol = find_protocol(CATALOGUE, "neurofeedback_qeeg_guided")
    dates = _weekdays(protocol.total_sessions)
    evaluations = [
        EvaluationFact("qeeg", EvaluationKind.BASELINE_QEEG, None, _at(DAY1 - dt.timedelta(1))),
        EvaluationFact("psy", EvaluationKind.PSYCHIATRIC_EVALUATION, None, _at(DAY1)),
    ]
    # Given session 20 and session 21 without a re-assessment since the course began
    at_20 = _judge(
        _component("neurofeedback_qeeg_guided", course=_course(20, dates)),
        evaluations,
        [],
        dates[20],
    )
    at_21 = _judge(
        _component("neurofeedback_qeeg_guided", course=_course(21, dates)),
        evaluations,
        [],
        dates[21],
    )

    # Then it is not due at 20 and missing at 21 (DOMAIN.md §4: after ~20 sessions)
    assert at_20.item("reassessment_qeeg").status == RequirementStatus.NOT_APPLICABLE
    assert at_21.item("reassessment_qeeg").status == RequirementStatus.MISSING


# ------------------------------------------------------------------ after a medication change


def test_medication_change_during_the_course_needs_a_new_motor_threshold():
    evaluations, measures = _tms_evidence(DAY1 - dt.timedelta(days=7), DAY1)
    for due in (6,):
        evaluations.append(
            EvaluationFact(f"mt-{due}", EvaluationKind.MOTOR_THRESHOLD, None, _at(TMS_DATES[due]))
        )
    # Given no medication change: nothing to do
    at_8 = _judge(_component(course=_course(8)), evaluations, measures, TMS_DATES[8])
    item = at_8.item("motor_threshold_after_medication_change")
    assert item.status == RequirementStatus.NOT_APPLICABLE

    # When lithium is started on the day of session 7
    evaluations.append(
        EvaluationFact(
            "med",
            EvaluationKind.MEDICATION_CHANGE,
            None,
            _at(TMS_DATES[7], 15),
            data={"drug": "lithium", "change": "started"},
        )
    )
    at_8 = _judge(_component(course=_course(8)), evaluations, measures, TMS_DATES[8])

    # Then the motor threshold must be re-checked (warning, DOMAIN.md §1.3)
    assert at_8.item("motor_threshold_after_medication_change").status == RequirementStatus.MISSING
    # And a measurement after the change satisfies it
    evaluations.append(
        EvaluationFact("mt-8", EvaluationKind.MOTOR_THRESHOLD, None, _at(TMS_DATES[8], 8))
    )
    at_8 = _judge(_component(course=_course(8)), evaluations, measures, TMS_DATES[8])
    assert (
        at_8.item("motor_threshold_after_medication_change").status == RequirementStatus.SATISFIED
    )


def test_medication_change_data_is_validated():
    assert (
        evaluation_data_errors("medication_change", {"drug": "lithium", "change": "started"}) == {}
    )
    errors = evaluation_data_errors("medication_change", {"change": "sometimes"})
    assert set(errors) == {"drug", "change"}


# ------------------------------------------------------------------ drug classes


def test_two_ssris_do_not_satisfy_two_drug_classes():
    # Given two failed SSRI trials ("SSRI" and "ssri" are one class)
    assert count_failed_drug_classes(TWO_SSRIS) == 1
    evaluations, measures = _tms_evidence(DAY1 - dt.timedelta(days=7), DAY1)
    evaluations = [e for e in evaluations if e.kind != EvaluationKind.ANTIDEPRESSANT_TRIALS]
    evaluations.append(
        EvaluationFact(
            "t",
            EvaluationKind.ANTIDEPRESSANT_TRIALS,
            None,
            _at(DAY1 - dt.timedelta(days=7)),
            data=TWO_SSRIS,
        )
    )

    # When the commercial payer's criteria are judged (≥2 trials from ≥2 classes)
    readiness = _judge(_component(), evaluations, measures, DAY1)

    # Then the label criterion (≥1 failed trial) passes but the payer's does not
    assert readiness.item("antidepressant_trials").status == RequirementStatus.SATISFIED
    payer = readiness.item("antidepressant_trials_payer")
    assert payer.status == RequirementStatus.MISSING
    assert payer.blocks_start
    assert "1 drug class" in payer.detail


def test_spravato_trd_needs_two_drug_classes():
    component = _component("spravato_trd")
    two_ssris = [
        EvaluationFact(
            "t",
            EvaluationKind.ANTIDEPRESSANT_TRIALS,
            None,
            _at(DAY1 - dt.timedelta(days=3)),
            data=TWO_SSRIS,
        )
    ]
    two_classes = [replace(two_ssris[0], data=TRIALS)]
    assert _judge(component, two_ssris, [], DAY1).item("antidepressant_trials").status == (
        RequirementStatus.MISSING
    )
    assert _judge(component, two_classes, [], DAY1).item("antidepressant_trials").status == (
        RequirementStatus.SATISFIED
    )


# ------------------------------------------------------------------ hard contraindications


@pytest.mark.parametrize("decision", ["cleared", "cleared_with_precautions"])
def test_magnetic_implant_within_30cm_blocks_whatever_the_decision(decision):
    # Given an IFCN screen "cleared" by the physician but recording a magnetic-sensitive
    # implant within 30 cm of the coil (DOMAIN.md §1.4 device-label contraindication)
    screen = {
        "answers": IFCN_NO,
        "decision": decision,
        "physician": "Dr. Example",
        "magnetic_implant_within_30cm": True,
    }
    assert evaluation_data_errors("tms_safety_screen", screen) == {}
    evaluations, measures = _tms_evidence(DAY1 - dt.timedelta(days=7), DAY1)
    evaluations = [e for e in evaluations if e.kind != EvaluationKind.TMS_SAFETY_SCREEN]
    evaluations.append(
        EvaluationFact(
            "s",
            EvaluationKind.TMS_SAFETY_SCREEN,
            None,
            _at(DAY1 - dt.timedelta(days=7)),
            data=screen,
        )
    )

    # When readiness is judged
    item = _judge(_component(), evaluations, measures, DAY1).item("tms_safety_screen")

    # Then the screen does not count and blocks the start
    assert item.status == RequirementStatus.MISSING
    assert item.blocks_start
    assert "hard contraindication" in item.detail


def test_implant_field_must_be_a_boolean():
    screen = {
        "answers": IFCN_NO,
        "decision": "cleared",
        "physician": "Dr. Example",
        "magnetic_implant_within_30cm": "no",
    }
    assert set(evaluation_data_errors("tms_safety_screen", screen)) == {
        "magnetic_implant_within_30cm"
    }


# ------------------------------------------------------------------ expiry forecast


def test_forecast_reports_a_valid_during_course_expiry_before_a_booked_session():
    # Given a prior authorisation evaluation valid until the day before session 20
    evaluations, measures = _tms_evidence(DAY1 - dt.timedelta(days=7), DAY1)
    evaluations = [e for e in evaluations if e.kind != EvaluationKind.PRIOR_AUTHORIZATION]
    evaluations.append(
        EvaluationFact(
            "pa",
            EvaluationKind.PRIOR_AUTHORIZATION,
            None,
            _at(DAY1 - dt.timedelta(days=7)),
            valid_until=TMS_DATES[20] - dt.timedelta(days=1),
        )
    )
    readiness = _judge(_component(course=_course(15)), evaluations, measures, TMS_DATES[15])
    booked = [(s, TMS_DATES[s]) for s in range(15, 37)]

    # When the forecast is asked for the booked sessions
    forecasts = forecast_expiries(readiness, booked=booked, started=True)

    # Then only the authorisation is reported, blocking session 20; before-first steps are not
    assert [(f.key, f.blocks_sequence) for f in forecasts] == [("prior_authorization", 20)]


def test_forecast_reports_a_before_first_session_expiry_only_for_the_first_session():
    # Given a psychiatric evaluation (90 days) recorded 85 days before a course booked to start
    # in 10 days
    recorded = DAY1 - dt.timedelta(days=85)
    evaluations, measures = _tms_evidence(DAY1 - dt.timedelta(days=3), DAY1)
    evaluations = [e for e in evaluations if e.kind != EvaluationKind.PSYCHIATRIC_EVALUATION]
    evaluations.append(
        EvaluationFact("p", EvaluationKind.PSYCHIATRIC_EVALUATION, None, _at(recorded))
    )
    today = DAY1 - dt.timedelta(days=3)
    readiness = _judge(_component(course=_course(1, started=False)), evaluations, measures, today)
    later = {s: d + dt.timedelta(days=7) for s, d in TMS_DATES.items()}

    # When the course is booked from a week later
    forecasts = forecast_expiries(readiness, booked=sorted(later.items()), started=False)

    # Then the evaluation is forecast to block session 1; once started, nothing is forecast
    assert [(f.key, f.blocks_sequence) for f in forecasts] == [("psychiatric_evaluation", 1)]
    assert forecast_expiries(readiness, booked=sorted(later.items()), started=True) == []


# ------------------------------------------------------------------ dated in the clinic's zone

NEW_YORK = ClinicFacts(zone=ZoneInfo("America/New_York"))


def test_evidence_is_dated_in_the_clinics_zone_not_in_utc():
    # Given a baseline PHQ-9 taken at 21:30 in New York on 3 December — 02:30 UTC on the 4th —
    # and the clinic's today still the 3rd
    component = _component()
    evening = dt.datetime(2026, 12, 4, 2, 30, tzinfo=dt.UTC)
    measures = [MeasureFact("m-phq9", Instrument.PHQ9, evening, is_baseline=True)]
    today = dt.date(2026, 12, 3)

    def baseline(clinic, on=today):
        readiness = evaluate_component(
            component=component, evaluations=[], measures=measures, clinic=clinic, today=on
        )
        return readiness.item("baseline_phq9")

    # Then in New York it counts today; read as a UTC date it would be "tomorrow" and ignored
    assert baseline(NEW_YORK).status == RequirementStatus.SATISFIED
    assert baseline(ClinicFacts()).status == RequirementStatus.MISSING
    # And its validity runs from the local date (valid 30 days: through 2 January)
    item = baseline(NEW_YORK)
    assert item.expires_on == today + dt.timedelta(days=30)
    assert baseline(NEW_YORK, on=item.expires_on).status == RequirementStatus.SATISFIED
    later = baseline(NEW_YORK, on=item.expires_on + dt.timedelta(days=1))
    assert later.status == RequirementStatus.EXPIRED
    assert "last recorded 2026-12-03" in later.detail


def test_a_medication_change_is_dated_in_the_clinics_zone():
    # Given a course that started on 3 December and a medication change recorded at 20:00 in
    # New York that evening (01:00 UTC on the 4th)
    course = CourseFacts(at_sequence=2, started_on=dt.date(2026, 12, 3), session_dates={})
    component = _component(course=course)
    change = EvaluationFact(
        "mc", EvaluationKind.MEDICATION_CHANGE, None, dt.datetime(2026, 12, 4, 1, tzinfo=dt.UTC)
    )
    readiness = evaluate_component(
        component=component,
        evaluations=[change],
        measures=[],
        clinic=NEW_YORK,
        today=dt.date(2026, 12, 3),
    )
    # Then the motor threshold re-check is due since the 3rd (the change's local date)
    item = readiness.item("motor_threshold_after_medication_change")
    assert "medication changed on 2026-12-03" in item.applies_because

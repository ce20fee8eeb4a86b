"""Pure guard functions over the protocol catalogue: what each protocol *does*, as plain data.

``fingerprint(spec)`` runs the real rules on one protocol with fixed probes that never read the
values they test (so a changed value moves the outcome instead of moving the probe with it):

- ``course``: ``generate_course`` in a fixed calendar (weekdays 07:00–20:00, New York, from
  Monday 4 January 2027 at 08:00) → every slot's sequence, kind, phase, local start and minutes.
  Guards phases (sessions, per week, gaps, interval days, per day, intersession interval),
  chair and mapping minutes.
- ``cap``: the same phases followed by 200 more weekday sessions, cut by ``session_cap`` → the
  number of sessions the cap lets through.
- ``readiness``: per requirement, judged by ``plans.rules.readiness`` — the oldest evidence age
  (days, binary search over 0–1000) still satisfied at session 1 (``validity_days``), the
  status at every session 1–60 of a started course (``every_n_sessions`` timing value), and a
  grid of antidepressant-trial histories (count × weeks × distinct classes:
  ``min_failed_trials`` / ``min_trial_weeks`` / ``min_drug_classes``).
- ``course_gaps``: the same in a calendar whose second Monday is closed and whose Tuesdays open
  at 10:00, so minimum gaps between sessions bind (SPRAVATO induction 48 h).
- ``post_session``: how long after each session a post-session step may wait (PMF 7 days).
- ``completion``: which doses / monitoring minutes / mg/kg the completion check accepts
  (``completion_errors`` with the protocol's parameters).
- ``label_by_age``: ``derive_label_status`` for ages 10–90 per indication (min/max age).
- ``card``: the descriptive data a clinician reads (protocol parameters, session minutes, measure
  schedule, version, the age range of an off-label indication) — pinned, not behaviour:
  nothing evaluates these values.

``tests/modalities/catalogue_golden.json`` holds the fingerprints of the catalogue as released;
``test_catalogue_mutations.py`` asserts the catalogue still matches it, and that changing any
numeric value of the YAML changes a fingerprint. Regenerate the golden after a deliberate
catalogue change (and review the diff): ``python -m tests.modalities.catalogue_guards --write``.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from dashboard.labels import parameters_text
from modalities.catalogue import load_catalogue
from modalities.rules.phases import Pattern, Phase
from modalities.specs import ProtocolSpec, RequirementSpec
from modalities.vocab import (
    EvaluationKind,
    Evidence,
    LabelStatus,
    PayerType,
    Timing,
)
from plans.rules.readiness import (
    NOT_STARTED,
    ClinicFacts,
    ComponentFacts,
    CourseFacts,
    EvaluationFact,
    MeasureFact,
    condition_applies,
    evaluate_component,
)
from scheduling.rules.course import ClinicCalendar, CourseRequest, generate_course

GOLDEN = Path(__file__).with_name("catalogue_golden.json")
DAY1 = dt.date(2027, 1, 4)  # a Monday
CALENDAR = ClinicCalendar(
    tz="America/New_York", hours={d: [(dt.time(7), dt.time(20))] for d in range(5)}
)
# Gaps probe: the second Monday closed and Tuesdays opening at 10:00, so a Monday session pushed
# to Tuesday 10:00 sits 48 h before Thursday's: the minimum gap binds and ±1 h moves Thursday.
GAP_CALENDAR = ClinicCalendar(
    tz="America/New_York",
    hours={d: [(dt.time(10) if d == 1 else dt.time(8), dt.time(20))] for d in range(5)},
    closures=frozenset({DAY1 + dt.timedelta(days=7)}),
)
IFCN_NO = {f"q{i}": False for i in range(1, 16)}
VALID_DATA: dict[str, dict[str, Any]] = {
    EvaluationKind.TMS_SAFETY_SCREEN: {
        "answers": IFCN_NO,
        "decision": "cleared",
        "physician": "Dr. Example",
    },
    EvaluationKind.MOTOR_THRESHOLD: {"percent": 55, "method": "emg"},
    EvaluationKind.REMS_ENROLLMENT: {"enrolled_on": "2026-12-01"},
    EvaluationKind.BASELINE_BP: {"systolic": 120, "diastolic": 80},
    EvaluationKind.FINANCIAL_ACKNOWLEDGMENT: {"form": "abn"},
    EvaluationKind.ANTIDEPRESSANT_TRIALS: {
        "trials": [
            {
                "drug": f"drug-{i}",
                "drug_class": f"class-{i}",
                "max_dose_mg": 100,
                "weeks": 52,
                "outcome": "inadequate_response",
            }
            for i in range(6)
        ]
    },
}
SESSION_DATES = {}
_day = DAY1
while len(SESSION_DATES) < 60:
    if _day.weekday() < 5:
        SESSION_DATES[len(SESSION_DATES) + 1] = _day
    _day += dt.timedelta(days=1)


def _at(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(9), tzinfo=dt.UTC)


# ------------------------------------------------------------------------------ course


def _course(
    spec: ProtocolSpec, phases: tuple[Phase, ...], calendar: ClinicCalendar = CALENDAR
) -> list[str] | str:
    try:
        request = CourseRequest(
            phases=phases,
            starts_on=DAY1,
            preferred_start=dt.time(8),
            window_end=None,
            session_minutes=spec.session_minutes,
            chair_minutes=spec.chair_minutes,
            mapping_minutes=spec.mapping_minutes,
            session_cap=spec.session_cap,
        )
        plan = generate_course(request, calendar, horizon_days=800)
    except ValueError as exc:
        return f"error: {exc}"
    return [
        f"{s.sequence}|{s.kind}|{s.phase}|{s.local_start.isoformat()}|"
        f"{int((s.end - s.start).total_seconds() // 60)}"
        for s in plan.slots
    ] + [f"problem:{p.code}" for p in plan.problems]


def _cap(spec: ProtocolSpec) -> int | str:
    extra = Phase("probe", 200, Pattern.WEEKDAYS, sessions_per_week=5)
    slots = _course(spec, (*spec.phases, extra))
    return slots if isinstance(slots, str) else sum(1 for s in slots if "|" in s)


# ------------------------------------------------------------------------------ readiness


def _facts_where_it_applies(spec: ProtocolSpec, req: RequirementSpec) -> ComponentFacts | None:
    for indication in spec.indications:
        statuses = {indication.label_status, LabelStatus.OFF_LABEL}
        for label in sorted(statuses):
            for payer in PayerType:
                facts = ComponentFacts(
                    "c", replace(spec, requirements=(req,)), indication, LabelStatus(label), payer
                )
                if condition_applies(req.condition, facts)[0]:
                    return facts
    return None


def _status(
    facts: ComponentFacts,
    req: RequirementSpec,
    *,
    age: int,
    today: dt.date,
    data: dict | None = None,
) -> str:
    performed = _at(today - dt.timedelta(days=age))
    evaluations, measures = [], []
    if req.evidence == Evidence.EVALUATION:
        payload = VALID_DATA.get(str(req.code), {}) if data is None else data
        if req.check.get("form_in"):
            payload = {"form": req.check["form_in"][0]}
        evaluations = [EvaluationFact("e", EvaluationKind(req.code), None, performed, data=payload)]
    elif req.evidence == Evidence.MEASURE:
        measures = [MeasureFact("m", req.code, performed, is_baseline=True)]  # type: ignore[arg-type]
    clinic = ClinicFacts(rems_certified_until=today + dt.timedelta(days=365))
    readiness = evaluate_component(
        component=facts, evaluations=evaluations, measures=measures, clinic=clinic, today=today
    )
    return str(readiness.items[0].status)


def _oldest_satisfied(facts: ComponentFacts, req: RequirementSpec) -> int | str:
    """Oldest evidence age (days) still satisfied on the day of session 1 (binary search)."""
    facts = replace(facts, course=NOT_STARTED)
    if _status(facts, req, age=0, today=DAY1) != "satisfied":
        return f"fresh: {_status(facts, req, age=0, today=DAY1)}"
    if _status(facts, req, age=1000, today=DAY1) == "satisfied":
        return "never expires"
    low, high = 0, 1000  # satisfied at low, not at high
    while high - low > 1:
        mid = (low + high) // 2
        if _status(facts, req, age=mid, today=DAY1) == "satisfied":
            low = mid
        else:
            high = mid
    return low


def _per_session(facts: ComponentFacts, req: RequirementSpec) -> str:
    """Status letter at every session 1–60 with evidence only from before session 1."""
    out = []
    for sequence in range(1, 61):
        course = CourseFacts(at_sequence=sequence, started_on=DAY1, session_dates=SESSION_DATES)
        status = _status(replace(facts, course=course), req, age=3, today=SESSION_DATES[sequence])
        out.append(status[0])
    return "".join(out)


def _trial_grid(facts: ComponentFacts, req: RequirementSpec) -> str:
    out = []
    for count in range(6):
        for weeks in range(2, 11):
            for distinct in (True, False):
                trials = [
                    {
                        "drug": f"d{i}",
                        "drug_class": f"c{i}" if distinct else "same",
                        "max_dose_mg": 100,
                        "weeks": weeks,
                        "outcome": "inadequate_response",
                    }
                    for i in range(count)
                ]
                status = _status(facts, req, age=1, today=DAY1, data={"trials": trials})
                out.append(status[0])
    return "".join(out)


def _readiness(spec: ProtocolSpec) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for req in spec.requirements:
        facts = _facts_where_it_applies(spec, req)
        if facts is None:
            out[req.key] = "never applies"
            continue
        probe: dict[str, Any] = {}
        if req.timing == Timing.EVERY_N_SESSIONS:
            probe["per_session"] = _per_session(facts, req)
        elif req.evidence != Evidence.CLINIC and req.timing != Timing.AFTER_MEDICATION_CHANGE:
            probe["oldest_satisfied_days"] = _oldest_satisfied(facts, req)
        if req.code == EvaluationKind.ANTIDEPRESSANT_TRIALS:
            probe["trial_grid"] = _trial_grid(facts, req)
        out[req.key] = probe
    return out


# ------------------------------------------------------------------------------ completion


def _completion(spec: ProtocolSpec) -> dict[str, str]:
    """Which session-completion values the protocol accepts (doses, monitoring minutes)."""
    from scheduling.rules.completion import completion_errors

    params = dict(spec.parameters)
    out: dict[str, str] = {}
    if spec.modality == "spravato":
        bp = {"systolic": 120, "diastolic": 80}
        base = {
            "dose_mg": 0,
            "monitoring_minutes": 0,
            "bp_before": bp,
            "bp_40min": bp,
            "bp_discharge": bp,
            "transport_confirmed": True,
        }
        out["dose_mg"] = "".join(
            "n"
            if "dose_mg"
            in completion_errors("spravato", "treatment", {**base, "dose_mg": d}, params)
            else "y"
            for d in range(0, 201)
        )
        out["monitoring_minutes"] = "".join(
            "n"
            if "monitoring_minutes"
            in completion_errors("spravato", "treatment", {**base, "monitoring_minutes": m}, params)
            else "y"
            for m in range(0, 301)
        )
    if spec.modality == "ketamine":
        base = {
            "vitals": {"bp": {"systolic": 120, "diastolic": 80}, "heart_rate": 70, "spo2": 98},
            "driver_confirmed": True,
        }
        out["dose_mg_per_kg"] = "".join(
            "n"
            if completion_errors(
                "ketamine", "treatment", {**base, "dose_mg_per_kg": d / 100}, params
            )
            else "y"
            for d in range(0, 201)
        )
    return out


def _post_session(spec: ProtocolSpec) -> dict[str, Any]:
    from plans.rules.readiness import post_session_window

    return {
        r.key: (w.days if (w := post_session_window(r)) is not None else None)
        for r in spec.requirements
        if r.timing == Timing.WITHIN_DAYS_AFTER_EACH_SESSION
    }


# ------------------------------------------------------------------------------ label by age


def _label_by_age(spec: ProtocolSpec) -> dict[str, str]:
    from plans.services.components import derive_label_status

    out = {}
    for ind in spec.indications:
        statuses = []
        for age in range(10, 91):
            patient = SimpleNamespace(birth_date=dt.date(DAY1.year - age, 1, 1))
            statuses.append(
                str(derive_label_status(indication=ind, patient=patient, today=DAY1))[0]
            )
        out[ind.code] = "".join(statuses)
    return out


# ------------------------------------------------------------------------------ card


def _card(spec: ProtocolSpec) -> dict[str, Any]:
    return {
        "version": spec.version,
        "parameters": parameters_text(dict(spec.parameters)),
        "parameter_lists": {k: v for k, v in spec.parameters.items() if isinstance(v, list)},
        "minutes": f"{spec.session_minutes} min session, {spec.chair_minutes} min in the chair",
        "measures": [f"{m.instrument}:{m.when}:{m.n}" for m in spec.measure_schedule],
        "ages": {i.code: [i.min_age, i.max_age] for i in spec.indications},
    }


CATEGORIES = (
    "course",
    "course_gaps",
    "cap",
    "readiness",
    "post_session",
    "completion",
    "label_by_age",
    "card",
)
"""Fingerprint parts; all but ``card`` are behaviour of the rules."""


def fingerprint(spec: ProtocolSpec) -> dict[str, Any]:
    return {
        "course": _course(spec, spec.phases),
        "course_gaps": _course(spec, spec.phases, GAP_CALENDAR),
        "cap": _cap(spec),
        "readiness": _readiness(spec),
        "post_session": _post_session(spec),
        "completion": _completion(spec),
        "label_by_age": _label_by_age(spec),
        "card": _card(spec),
    }


def catalogue_fingerprints(specs: list[ProtocolSpec] | None = None) -> dict[str, Any]:
    specs = load_catalogue() if specs is None else specs
    return {f"{s.code}@v{s.version}": fingerprint(s) for s in specs}


if __name__ == "__main__":  # python -m tests.modalities.catalogue_guards --write
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings.test")
    django.setup()
    text = json.dumps(catalogue_fingerprints(), indent=1, sort_keys=True) + "\n"
    if "--write" in sys.argv:
        GOLDEN.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)

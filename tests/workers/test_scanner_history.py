"""The scanner reads only the newest *settled* evidence (issue 17: never whole histories):
readiness judged on what ``plans.scanner.requirements._fact_rows`` reads equals readiness
judged on the patient's whole history, for any history, course position and clinic zone.

Settled = older than ``SETTLED_BEFORE``, no ``valid_until`` override, and (evaluations) of a
kind no requirement check reads; only the newest of those per patient, kind/instrument
(baseline-ness) and component is read.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modalities.vocab import Evidence, Instrument
from plans.models import Evaluation, Measure, Patient
from plans.rules.readiness import NOT_STARTED, evaluate_component
from plans.rules.readiness.facts import ClinicFacts
from plans.scanner.requirements import SETTLED_BEFORE, _fact_rows
from plans.selectors import (
    component_facts,
    course_facts,
    evaluation_facts,
    evidence_codes,
    measure_facts,
)
from tests import factories
from tests.workers.conftest import make_component, make_patient

NOW = datetime(2026, 12, 1, 15, 30, tzinfo=UTC)
ZONES = ("Pacific/Kiritimati", "America/New_York", "Pacific/Pago_Pago", "UTC")
CODES = ("tms_10hz_ldlpfc_mdd", "spravato_trd")


@pytest.fixture
def world(catalogue, organization, clinic):
    patient = make_patient(organization)
    components = {code: make_component(patient=patient, clinic=clinic, code=code) for code in CODES}
    recorder = factories.CoordinatorFactory(organization=organization)
    return patient, components, recorder


def _kinds(spec) -> list[str]:
    """The kinds the scanner reads for the protocol (``evidence_codes``); those with a validity
    window and no check first (where an older row with a ``valid_until`` override can outlive a
    newer one)."""
    kinds = evidence_codes([spec])[0]
    windowed = {
        str(r.code)
        for r in spec.protocol.requirements
        if r.evidence == Evidence.EVALUATION and r.validity_days and not r.check
    }
    return [*sorted(windowed), *sorted(kinds - windowed)]


# hours before NOW (negative: after NOW, i.e. future-dated); each row gets a distinct instant
_hours = st.integers(min_value=-72, max_value=24 * 900)
_evaluation = st.tuples(
    # kind index (modulo the protocol's kinds), often one of the first two
    st.one_of(st.integers(min_value=0, max_value=1), st.integers(min_value=0, max_value=50)),
    st.booleans(),  # for this component (else patient-wide)
    st.one_of(st.none(), st.integers(min_value=-400, max_value=400)),  # valid_until, days
)
_measure = st.booleans()  # is_baseline


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    code=st.sampled_from(CODES),
    evaluations=st.lists(st.tuples(_hours, _evaluation), max_size=14, unique_by=lambda e: e[0]),
    measures=st.lists(st.tuples(_hours, _measure), max_size=8, unique_by=lambda m: m[0]),
    started_days_ago=st.one_of(st.none(), st.integers(min_value=0, max_value=400)),
    done=st.integers(min_value=0, max_value=40),
    zone=st.sampled_from(ZONES),
)
def test_readiness_on_the_rows_read_equals_readiness_on_the_whole_history(
    world, code, evaluations, measures, started_days_ago, done, zone
):
    patient, components, recorder = world
    component = components[code]
    spec = component_facts(component)
    kinds = _kinds(spec)
    # given a history of final evaluations and PHQ-9s at distinct instants
    Evaluation.objects.bulk_create(
        Evaluation(
            patient=patient,
            kind=kinds[k % len(kinds)],
            component=component if own else None,
            performed_at=NOW - timedelta(hours=h, minutes=7),
            valid_until=(NOW + timedelta(days=v)).date() if v is not None else None,
            data={},
            recorded_by=recorder,
        )
        for h, (k, own, v) in evaluations
    )
    Measure.objects.bulk_create(
        Measure(
            patient=patient,
            instrument=Instrument.PHQ9,
            answers=[1] * 9,
            total=9,
            band="mild",
            is_baseline=baseline,
            taken_at=NOW - timedelta(hours=h, minutes=11),
            recorded_by=recorder,
        )
        for h, baseline in measures
    )
    try:
        # when the scanner reads the facts, and the whole history is read as the detail does
        read_evals, read_measures = _fact_rows(Patient.objects.filter(pk=patient.pk), [spec], NOW)
        full_evals = evaluation_facts(Evaluation.objects.filter(patient=patient, kind__in=kinds))
        full_measures = measure_facts(Measure.objects.filter(patient=patient))
        # the rows read are a subset of the history and exactly the history once nothing is
        # settled (all recent, overridden or checked)
        assert {e.id for e in read_evals[patient.pk]} <= {e.id for e in full_evals}
        assert {m.id for m in read_measures[patient.pk]} <= {m.id for m in full_measures}
        settled = [m for m in full_measures if m.taken_at < NOW - SETTLED_BEFORE]
        assert len(read_measures[patient.pk]) == len(full_measures) - len(settled) + len(
            {m.is_baseline for m in settled}
        )
        # then readiness is the same on both, judged at the course position given
        tz = ZoneInfo(zone)
        if started_days_ago is None:
            course = NOT_STARTED
        else:
            first = NOW - timedelta(days=started_days_ago)
            rows = [
                (n + 1, first + timedelta(days=2 * n), "fulfilled" if n < done else "booked")
                for n in range(max(done + 3, 1))
            ]
            course = course_facts(rows, zone=tz)
        facts = type(spec)(
            component_id=component.pk,
            protocol=spec.protocol,
            indication=spec.indication,
            label_status=spec.label_status,
            payer_type=spec.payer_type,
            course=course,
        )
        today = NOW.astimezone(tz).date()
        clinic = ClinicFacts()
        on_read = evaluate_component(
            component=facts,
            evaluations=read_evals[patient.pk],
            measures=read_measures[patient.pk],
            clinic=clinic,
            today=today,
        )
        on_full = evaluate_component(
            component=facts,
            evaluations=full_evals,
            measures=full_measures,
            clinic=clinic,
            today=today,
        )
        assert on_read == on_full
    finally:
        Evaluation.objects.filter(patient=patient).delete()
        Measure.objects.filter(patient=patient).delete()

"""Session-completion rules (scheduling/rules/completion.py): pure, no database.

Properties: the SPRAVATO monitoring check is exactly ``minutes ≥ the protocol's minimum``
whatever that minimum is; a dose is accepted exactly when the protocol lists it; a BP reading
is accepted exactly when the shared bounds (modalities.clinical_bounds, also used by the
readiness ``baseline_bp`` evaluation) admit it.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from modalities.catalogue import load_catalogue
from modalities.clinical_bounds import (
    DIASTOLIC_MMHG,
    SYSTOLIC_MMHG,
    bp_field_errors,
)
from modalities.rules.parameters import parameter_problems, spravato_doses
from modalities.specs import find_protocol
from plans.rules.readiness import evaluation_data_errors
from scheduling.rules.completion import completion_errors

CATALOGUE = load_catalogue()
TRD = dict(find_protocol(CATALOGUE, "spravato_trd").parameters)
MDD_SI = dict(find_protocol(CATALOGUE, "spravato_mdd_si").parameters)
KETAMINE = dict(find_protocol(CATALOGUE, "ketamine_iv_depression").parameters)
BP = {"systolic": 128, "diastolic": 82}
SPRAVATO_OK = {
    "dose_mg": 56,
    "monitoring_minutes": 120,
    "bp_before": BP,
    "bp_40min": BP,
    "bp_discharge": BP,
    "transport_confirmed": True,
}


def _spravato(data, parameters=TRD):
    return completion_errors("spravato", "treatment", {**SPRAVATO_OK, **data}, parameters)


def test_the_released_spravato_protocols_accept_their_own_values():
    assert _spravato({}) == {}
    assert spravato_doses(TRD) == (56, 84)
    assert spravato_doses(MDD_SI) == (56, 84)
    assert _spravato({"dose_mg": 84}, MDD_SI) == {}
    assert _spravato({"dose_mg": 28}, MDD_SI) == {"dose_mg": ["56 or 84"]}


@given(minimum=st.integers(1, 600), minutes=st.integers(0, 700))
def test_monitoring_is_judged_against_the_protocols_minimum(minimum, minutes):
    parameters = {**TRD, "monitoring_minutes_min": minimum}
    errors = _spravato({"monitoring_minutes": minutes}, parameters)
    assert ("monitoring_minutes" in errors) == (minutes < minimum)
    assert set(errors) <= {"monitoring_minutes"}


def test_a_protocol_without_a_minimum_is_refused_not_defaulted():
    parameters = {k: v for k, v in TRD.items() if k != "monitoring_minutes_min"}
    assert "monitoring_minutes" in _spravato({"monitoring_minutes": 10_000}, parameters)
    assert parameter_problems("spravato", parameters) == [
        ("monitoring_minutes_min", "a SPRAVATO protocol needs a positive integer minimum")
    ]
    assert parameter_problems("spravato", TRD) == []


@given(
    doses=st.lists(st.integers(1, 200), min_size=1, max_size=4, unique=True),
    dose=st.integers(0, 250),
)
def test_a_dose_is_accepted_exactly_when_the_protocol_lists_it(doses, dose):
    parameters = {"dose_mg_options": doses, "monitoring_minutes_min": 120}
    errors = _spravato({"dose_mg": dose}, parameters)
    assert ("dose_mg" in errors) == (dose not in doses)


_BP_VALUE = st.one_of(st.integers(0, 350), st.none(), st.booleans(), st.text(max_size=3))


@given(systolic=_BP_VALUE, diastolic=_BP_VALUE)
def test_bp_is_one_rule_for_completion_and_readiness(systolic, diastolic):
    reading = {"systolic": systolic, "diastolic": diastolic}
    plausible = (
        SYSTOLIC_MMHG.admits(systolic) and DIASTOLIC_MMHG.admits(diastolic) and diastolic < systolic
    )
    assert (bp_field_errors(systolic, diastolic) == {}) == plausible
    # readiness: the baseline_bp evaluation
    assert (evaluation_data_errors("baseline_bp", reading) == {}) == plausible
    # completion: every SPRAVATO reading and the ketamine vitals
    for field in ("bp_before", "bp_40min", "bp_discharge"):
        assert (field not in _spravato({field: reading})) == plausible
    vitals = {"bp": reading, "heart_rate": 70, "spo2": 98}
    ketamine = completion_errors(
        "ketamine", "treatment", {"vitals": vitals, "driver_confirmed": True}, KETAMINE
    )
    assert ("vitals" not in ketamine) == plausible


def test_bp_bounds_are_inclusive():
    assert bp_field_errors(50, 20) == {}
    assert bp_field_errors(300, 200) == {}
    assert set(bp_field_errors(49, 20)) == {"systolic"}
    assert set(bp_field_errors(301, 20)) == {"systolic"}
    assert set(bp_field_errors(120, 19)) == {"diastolic"}
    assert bp_field_errors(120, 120) == {"diastolic": "must be lower than systolic"}


@given(dose=st.floats(0, 2, allow_nan=False))
def test_ketamine_dose_follows_the_protocols_range(dose):
    low, high = KETAMINE["dose_range_mg_per_kg"]
    data = {
        "vitals": {"bp": BP, "heart_rate": 70, "spo2": 98},
        "driver_confirmed": True,
        "dose_mg_per_kg": dose,
    }
    errors = completion_errors("ketamine", "treatment", data, KETAMINE)
    assert ("dose_mg_per_kg" in errors) == (not low <= dose <= high)


def test_non_course_kinds_and_other_modalities_are_free_form():
    assert completion_errors("spravato", "follow_up", {"anything": 1}, TRD) == {}
    assert completion_errors("neurofeedback", "treatment", {"anything": 1}, {}) == {}
    assert completion_errors("spravato", "treatment", [], TRD) == {
        "completion": ["must be an object"]
    }
    assert completion_errors("psychiatry", "follow_up", {"em_code": "99211"}, {}) == {
        "em_code": ["one of 99212, 99213, 99214, 99215"]
    }


def test_tms_percent_of_motor_threshold():
    ok = {"percent_mt": 120, "pulses": 3000}
    assert completion_errors("tms", "treatment", ok, {}) == {}
    assert set(completion_errors("tms", "mapping", {**ok, "percent_mt": 151}, {})) == {"percent_mt"}
    assert set(completion_errors("tms", "treatment", {**ok, "pulses": 0}, {})) == {"pulses"}

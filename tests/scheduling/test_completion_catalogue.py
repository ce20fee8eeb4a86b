"""Session completion follows the catalogue's own values (issue 16: each rule once).

The SPRAVATO monitoring minimum lives in the protocol's catalogue ``parameters``
(``monitoring_minutes_min``, DOMAIN.md §2.4 Monitoring [REG]); a new catalogue version that
raises it is published through the same loading path the app uses (YAML document → validated
``ProtocolSpec`` → ``sync_catalogue``) and the completion check follows it.
"""

from __future__ import annotations

import copy
from datetime import date

import pytest
import yaml

from backend.errors import InvalidInput
from modalities.catalogue import CATALOGUE_DIR, CatalogueError, parse_catalogue_document
from modalities.services import sync_catalogue
from scheduling.services import check_in_session, complete_session
from tests import factories
from tests.scheduling.conftest import make_component
from tests.scheduling.test_lifecycle import _course, _record_spravato_prerequisites

BP = {"systolic": 128, "diastolic": 82}


def _spravato_doc() -> dict:
    return yaml.safe_load((CATALOGUE_DIR / "spravato.yaml").read_text(encoding="utf-8"))


def _publish_trd(minimum: int, version: int) -> None:
    """A new version of spravato_trd whose monitoring minimum is ``minimum``."""
    doc = copy.deepcopy(_spravato_doc())
    (trd,) = [p for p in doc["protocols"] if p["code"] == "spravato_trd"]
    trd["version"] = version
    trd["parameters"] = {**trd["parameters"], "monitoring_minutes_min": minimum}
    doc["protocols"] = [trd]
    (spec,) = parse_catalogue_document(doc, "spravato.yaml")
    assert spec.parameters["monitoring_minutes_min"] == minimum
    sync_catalogue(specs=[spec])


def _completion(minutes: int) -> dict:
    return {
        "dose_mg": 56,
        "monitoring_minutes": minutes,
        "bp_before": BP,
        "bp_40min": BP,
        "bp_discharge": BP,
        "transport_confirmed": True,
    }


def _arrived_dose(patient, clinic, coordinator, clinician, *, sessions: int = 1):
    component = make_component(patient=patient, clinic=clinic, code="spravato_trd")
    doses = _course(component, coordinator, starts_on=date(2027, 1, 4))[:sessions]
    _record_spravato_prerequisites(patient, component, coordinator)
    for dose in doses:
        check_in_session(session=dose, by=clinician)
    return component, doses


def _refused(session, clinician, minutes: int) -> list[str]:
    with pytest.raises(InvalidInput) as exc:
        complete_session(session=session, completion=_completion(minutes), by=clinician)
    return list(exc.value.fields["completion"])


def test_completion_follows_a_raised_monitoring_minimum(
    catalogue, patient, us_clinic, coordinator, clinician
):
    # given the catalogue publishes spravato_trd v3 with a 150-minute monitoring minimum
    factories.rems_certified(us_clinic)
    _publish_trd(150, version=3)
    component, (dose,) = _arrived_dose(patient, us_clinic, coordinator, clinician)
    assert component.protocol.version == 3
    # then 149 minutes is refused (on that field alone) and 150 accepted
    assert _refused(dose, clinician, 149) == ["monitoring_minutes"]
    done = complete_session(session=dose, completion=_completion(150), by=clinician)
    assert done.status == "fulfilled"


def test_the_released_minimum_of_120_is_accepted(
    spravato_component, patient, coordinator, clinician
):
    # the released catalogue (v2) states 120 minutes: 119 is refused, 120 accepted
    assert spravato_component.protocol.parameters["monitoring_minutes_min"] == 120
    dose = _course(spravato_component, coordinator, starts_on=date(2027, 1, 4))[0]
    _record_spravato_prerequisites(patient, spravato_component, coordinator)
    check_in_session(session=dose, by=clinician)
    assert _refused(dose, clinician, 119) == ["monitoring_minutes"]
    done = complete_session(session=dose, completion=_completion(120), by=clinician)
    assert done.status == "fulfilled"


def test_a_stored_protocol_without_a_minimum_refuses_completion(
    spravato_component, patient, coordinator, clinician
):
    # a row that somehow lacks the value is never judged against a silent default
    protocol = spravato_component.protocol
    protocol.parameters = {
        k: v for k, v in protocol.parameters.items() if k != "monitoring_minutes_min"
    }
    protocol.save(update_fields=["parameters"])
    dose = _course(spravato_component, coordinator, starts_on=date(2027, 1, 4))[0]
    _record_spravato_prerequisites(patient, spravato_component, coordinator)
    check_in_session(session=dose, by=clinician)
    assert _refused(dose, clinician, 600) == ["monitoring_minutes"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"monitoring_minutes_min": None}, "parameters.monitoring_minutes_min"),
        ({"monitoring_minutes_min": "two hours"}, "parameters.monitoring_minutes_min"),
        ({"dose_mg_options": None, "day1_dose_mg": None}, "parameters.dose_mg_options"),
    ],
)
def test_the_catalogue_refuses_a_spravato_protocol_without_its_values(change, field):
    doc = copy.deepcopy(_spravato_doc())
    trd = next(p for p in doc["protocols"] if p["code"] == "spravato_trd")
    params = {**trd["parameters"], **change}
    trd["parameters"] = {k: v for k, v in params.items() if v is not None}
    with pytest.raises(CatalogueError) as exc:
        parse_catalogue_document(doc, "spravato.yaml")
    assert exc.value.protocol == "spravato_trd"
    assert exc.value.field == field

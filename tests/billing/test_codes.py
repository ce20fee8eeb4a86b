"""Billing codes per completed session come from billing/codes.yaml, each with its source
(issue 11 acceptance), for every protocol of the catalogue; self-pay/off-label get no claim."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import yaml

from billing.catalogue import PATH, CatalogueError, load, parse
from billing.reports import ReportFilters, iter_claim_rows
from billing.rules import additional_infusion_hours, session_billing
from modalities.models import Protocol
from scheduling.models import Session
from tests import factories

NY = ZoneInfo("America/New_York")

# The completion data a clinician records, per modality (scheduling.services.completion_errors)
# and the billing facts that pick the code.
COMPLETIONS = {
    "tms": [
        {"percent_mt": 120, "pulses": 3000},
        {"percent_mt": 120, "pulses": 3000, "mt_redetermined": True},
    ],
    "spravato": [{"dose_mg": 56}, {"dose_mg": 84}],
    "ketamine": [{"infusion_minutes": 40}, {"infusion_minutes": 240}],
    "neurofeedback": [{}],
    "psychiatry": [
        {"medical_services": True, "em_code": "99214"},
        {"medical_services": False, "em_code": "99213"},
    ],
}

# Hand-written expectation: (protocol code or modality, kind, completion index) → codes.
EXPECTED = {
    ("tms", "mapping", 0): "90867",
    ("tms", "mapping", 1): "90867",  # the initial session includes the MT determination
    ("tms", "treatment", 0): "90868",
    ("tms", "treatment", 1): "90869",
    ("spravato", "treatment", 0): "G2082",
    ("spravato", "treatment", 1): "G2083",
    ("ketamine", "treatment", 0): "96365",
    ("ketamine", "treatment", 1): "96365 96366x3",
    ("neurofeedback", "treatment", 0): "90901",
    ("psychiatric_initial_evaluation", "treatment", 0): "90792",
    ("psychiatric_initial_evaluation", "treatment", 1): "90791",
    ("psychiatric_follow_up", "treatment", 0): "99214",
    ("psychiatric_follow_up", "treatment", 1): "99213",
}


def test_every_code_of_the_table_has_a_system_descriptor_and_source():
    table = load()
    assert {
        "90867",
        "90868",
        "90869",
        "G2082",
        "G2083",
        "96365",
        "96366",
        "90901",
        "90791",
        "90792",
        "99212",
        "99213",
        "99214",
        "99215",
    } <= set(table.codes)
    for code in table.codes.values():
        assert code.system in ("CPT", "HCPCS")
        assert code.descriptor
        assert code.source
        assert code.in_domain_md is False  # DOMAIN.md lists no procedure codes
        assert code.facts.startswith("DOMAIN.md §")


def test_a_rule_naming_a_code_outside_the_table_is_refused():
    data = yaml.safe_load(PATH.read_text(encoding="utf-8"))
    broken = copy.deepcopy(data)
    broken["by_modality"]["tms"]["mapping"]["code"] = "99999"
    with pytest.raises(CatalogueError):
        parse(broken)
    del data["codes"]["90867"]["source"]
    with pytest.raises(CatalogueError):
        parse(data)


@pytest.mark.parametrize(
    ("minutes", "extra"), [(40, 0), (60, 0), (90, 0), (91, 1), (150, 1), (151, 2), (240, 3)]
)
def test_additional_infusion_hours_follow_the_30_minute_rule(minutes, extra):
    assert additional_infusion_hours(minutes) == extra


def test_self_pay_and_off_label_sessions_carry_a_good_faith_estimate_line_not_a_claim():
    on_label = session_billing(
        protocol_code="tms_10hz_ldlpfc_mdd",
        modality="tms",
        kind="treatment",
        completion={},
        payer_type="commercial",
        label_status="cleared",
    )
    assert on_label.claim
    assert not on_label.note
    for payer, label in (("self_pay", "cleared"), ("commercial", "off_label")):
        billing = session_billing(
            protocol_code="tms_hf_lm1_fibromyalgia",
            modality="tms",
            kind="treatment",
            completion={},
            payer_type=payer,
            label_status=label,
        )
        assert not billing.claim
        assert billing.codes == "90868"  # the GFE still names the expected service
        assert billing.note.startswith("Good faith estimate")
    medicare = session_billing(
        protocol_code="tms_hf_lm1_fibromyalgia",
        modality="tms",
        kind="treatment",
        completion={},
        payer_type="medicare",
        label_status="off_label",
    )
    assert "ABN" in medicare.note


def test_follow_up_without_a_recorded_em_level_has_no_code_and_says_so():
    billing = session_billing(
        protocol_code="psychiatric_follow_up",
        modality="psychiatry",
        kind="treatment",
        completion={},
        payer_type="commercial",
        label_status="not_applicable",
    )
    assert billing.lines == ()
    assert billing.problems == ("em_level_missing",)
    assert not billing.claim


def test_codes_of_every_completed_session_of_every_catalogue_protocol(
    catalogue, organization, coordinator
):
    # given one component per catalogue protocol (latest version), each with its fulfilled
    # sessions: the kinds its course generates, with each completion variant of its modality
    clinic = factories.ClinicFactory(organization=organization)
    clinician = factories.ClinicianFactory(
        organization=organization, first_name="Ada", last_name="Example"
    )
    protocols = {p.code: p for p in Protocol.objects.order_by("code", "version")}
    assert len(protocols) >= 15
    expected: dict[int, tuple[str, str, int, Protocol]] = {}
    start = datetime(2026, 10, 5, 10, tzinfo=NY)
    for n, protocol in enumerate(protocols.values()):
        patient = factories.PatientFactory(organization=organization, mrn=f"B{n}")
        component = factories.make_active_component(
            patient=patient, clinic=clinic, code=protocol.code
        )
        kinds = ["mapping", "treatment"] if protocol.mapping_minutes else ["treatment"]
        for kind in kinds:
            for i, completion in enumerate(COMPLETIONS[protocol.modality]):
                at = start + timedelta(days=len(expected))
                session = Session.objects.create(
                    component=component,
                    patient=patient,
                    clinic=clinic,
                    kind=kind,
                    starts_at=at,
                    ends_at=at + timedelta(minutes=30),
                    status="fulfilled",
                    completion=completion,
                    clinician=clinician,
                )
                expected[session.pk] = (kind, protocol.modality, i, protocol)
    # when the claims export runs
    rows = list(iter_claim_rows(user=coordinator, filters=ReportFilters()))
    # then every session has codes, every code is in the table with a source, and they are the
    # hand-written ones
    table = load()
    assert {r["session_id"] for r in rows} == set(expected)
    for row in rows:
        kind, modality, i, protocol = expected[row["session_id"]]
        key = (protocol.code, kind, i) if protocol.modality == "psychiatry" else (modality, kind, i)
        assert row["codes"] == EXPECTED[key], (protocol.code, kind, i)
        for token in row["codes"].split():
            code = token.split("x")[0]
            assert table.codes[code].source
        assert row["rendering_clinician"] == "Ada Example"
        assert row["icd10"] == "F33.2"
        off_label = row["claim"] == "no"
        assert off_label == (protocol.indications.first().label_status == "off_label")
        if off_label:
            assert row["note"].startswith("Good faith estimate")

"""The protocol catalogue loads, covers the clinic's protocols, and rejects bad data precisely."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from modalities.catalogue import load_catalogue, parse_catalogue_text
from modalities.rules.phases import Pattern
from modalities.specs import CatalogueError, find_protocol
from modalities.vocab import Evidence, Modality, Timing
from notifications.terms import FORBIDDEN_TERMS, contains_forbidden_term

CATALOGUE = load_catalogue()


VALID_PROTOCOL = """
protocols:
  - code: demo
    version: 1
    modality: tms
    title: Demo
    description: Demo protocol.
    target: left_dlpfc
    parameters: {frequency_hz: 10}
    phases:
      - {name: acute, sessions: 5, pattern: weekdays, sessions_per_week: 5}
    session_minutes: 20
    chair_minutes: 30
    mapping_minutes: 60
    session_cap: 5
    resource_kinds: [tms_device]
    measure_schedule:
      - {instrument: phq9, when: baseline}
    preparation: Plan to stay about 1 hour.
    indications:
      - code: mdd
        name: Demo indication
        icd10: [F33]
        category: depression
        label_status: cleared
        source: "DOMAIN.md §1.1"
    requirements:
      - key: psychiatric_evaluation
        evidence: evaluation
        code: psychiatric_evaluation
        timing: before_first_session
        severity: blocking
        reason: Needed.
        source: "DOMAIN.md §5.1"
    sources: ["DOMAIN.md §1.2"]
"""


def _write(tmp_path: Path, text: str, name: str = "demo.yaml") -> Path:
    (tmp_path / name).write_text(textwrap.dedent(text), encoding="utf-8")
    return tmp_path


def test_whole_catalogue_loads_with_all_five_modalities():
    # given the shipped catalogue / when loaded / then ≥14 protocols cover every modality
    assert len(CATALOGUE) >= 14
    assert {p.modality for p in CATALOGUE} == set(Modality)


def test_every_protocol_cites_sources_and_fits_its_cap():
    for p in CATALOGUE:
        assert p.sources, p.code
        assert all("DOMAIN.md" in s for s in p.sources), p.code
        assert 1 <= p.total_sessions <= p.session_cap, p.code
        assert all("DOMAIN.md §" in r.source for r in p.requirements), p.code
        assert all("DOMAIN.md §" in i.source for i in p.indications), p.code


def test_no_preparation_text_has_a_forbidden_term():
    for p in CATALOGUE:
        assert contains_forbidden_term(p.preparation) is None, p.code


def test_required_protocol_shapes():
    # given the brief's protocols / then their schedules match DOMAIN.md §1.2, §2.3, §3, §4
    tms = find_protocol(CATALOGUE, "tms_10hz_ldlpfc_mdd")
    assert tms.total_sessions == 36
    assert [ph.sessions for ph in tms.phases] == [30, 3, 2, 1]
    assert find_protocol(CATALOGUE, "tms_itbs_ldlpfc_mdd").session_cap == 30
    saint = find_protocol(CATALOGUE, "tms_saint_accelerated_mdd")
    (phase,) = saint.phases
    assert (phase.pattern, phase.sessions_per_day, phase.interval_minutes, phase.sessions) == (
        Pattern.ACCELERATED,
        10,
        50,
        50,
    )
    assert saint.requirement("mri_neuronavigation").evidence == Evidence.EVALUATION
    trd = find_protocol(CATALOGUE, "spravato_trd")
    assert trd.phases[0].sessions == 8
    assert trd.phases[0].min_gap_hours == 48
    assert trd.chair_minutes >= 120
    assert trd.mapping_minutes is None
    pmf = trd.requirement("rems_monitoring_form")
    assert (pmf.timing, pmf.timing_value) == (Timing.WITHIN_DAYS_AFTER_EACH_SESSION, 7)
    assert find_protocol(CATALOGUE, "spravato_mdd_si").total_sessions == 8
    assert find_protocol(CATALOGUE, "ketamine_iv_depression").total_sessions == 6
    assert find_protocol(CATALOGUE, "dtms_h7_ocd").requirement("symptom_provocation_plan")
    fibro = find_protocol(CATALOGUE, "tms_hf_lm1_fibromyalgia")
    assert fibro.indication("fibromyalgia").matches_icd10("M79.7")


@pytest.mark.parametrize(
    "text",
    [
        "Your ketamine visit",
        "TMS session tomorrow",
        "suicidal thoughts",
        "Psychiatric follow-up",
        "Magnetic therapy",
    ],
)
def test_forbidden_terms_are_found_case_insensitively(text):
    assert contains_forbidden_term(text) is not None


def test_forbidden_terms_match_at_word_start_only():
    assert contains_forbidden_term("Plan to stay about 2½ hours. Arrange a ride home.") is None
    assert contains_forbidden_term("ATMs nearby") is None
    assert all(t.term == t.term.lower() for t in FORBIDDEN_TERMS)


def test_valid_minimal_protocol_parses():
    (spec,) = parse_catalogue_text(VALID_PROTOCOL)
    assert spec.code == "demo"
    assert spec.total_sessions == 5


def test_validator_rejects_unknown_enum_value_with_file_protocol_and_field(tmp_path):
    # given a file whose target is not a vocab.Target
    _write(tmp_path, VALID_PROTOCOL.replace("target: left_dlpfc", "target: left_foot"))
    # when loaded / then the error names file, protocol and field
    with pytest.raises(CatalogueError) as exc:
        load_catalogue(tmp_path)
    assert exc.value.file == "demo.yaml"
    assert exc.value.protocol == "demo"
    assert exc.value.field == "target"
    assert "left_foot" in str(exc.value)


def test_validator_rejects_unknown_key(tmp_path):
    _write(
        tmp_path,
        VALID_PROTOCOL.replace("    session_cap: 5", "    session_cap: 5\n    colour: red"),
    )
    with pytest.raises(CatalogueError) as exc:
        load_catalogue(tmp_path)
    assert (exc.value.protocol, exc.value.field) == ("demo", "colour")
    assert "unknown key" in str(exc.value)


def test_validator_rejects_duplicate_requirement_key():
    dup = VALID_PROTOCOL.replace(
        "    sources:",
        "      - key: psychiatric_evaluation\n        evidence: evaluation\n"
        "        code: informed_consent\n        timing: before_first_session\n"
        '        severity: blocking\n        reason: Again.\n        source: "DOMAIN.md §3"\n'
        "    sources:",
    )
    with pytest.raises(CatalogueError) as exc:
        parse_catalogue_text(dup, "x.yaml")
    assert exc.value.field == "requirements[1].key"
    assert "duplicate requirement key 'psychiatric_evaluation'" in str(exc.value)


def test_validator_rejects_unknown_condition_key():
    bad = VALID_PROTOCOL.replace(
        "        severity: blocking\n        reason: Needed.",
        "        condition: {min_count: [2]}\n        severity: blocking\n        reason: Needed.",
    )
    with pytest.raises(CatalogueError) as exc:
        parse_catalogue_text(bad, "x.yaml")
    assert exc.value.field == "requirements[0].condition.min_count"


def test_validator_rejects_duplicate_code_and_version(tmp_path):
    _write(tmp_path, VALID_PROTOCOL, "a.yaml")
    _write(tmp_path, VALID_PROTOCOL, "b.yaml")
    with pytest.raises(CatalogueError) as exc:
        load_catalogue(tmp_path)
    assert "duplicate (code, version)" in str(exc.value)
    assert exc.value.file == "b.yaml"


def test_validator_rejects_forbidden_preparation_term():
    bad = VALID_PROTOCOL.replace("Plan to stay about 1 hour.", "Your TMS visit lasts 1 hour.")
    with pytest.raises(CatalogueError) as exc:
        parse_catalogue_text(bad, "x.yaml")
    assert exc.value.field == "preparation"
    assert "'tms'" in str(exc.value)


def test_validator_rejects_phases_above_cap():
    bad = VALID_PROTOCOL.replace("session_cap: 5", "session_cap: 4")
    with pytest.raises(CatalogueError, match="above session_cap 4"):
        parse_catalogue_text(bad, "x.yaml")


def test_validator_rejects_check_on_wrong_kind():
    bad = VALID_PROTOCOL.replace(
        "        severity: blocking\n        reason: Needed.",
        "        check: {min_failed_trials: 2}\n"
        "        severity: blocking\n        reason: Needed.",
    )
    with pytest.raises(CatalogueError) as exc:
        parse_catalogue_text(bad, "x.yaml")
    assert exc.value.field == "requirements[0].check.min_failed_trials"

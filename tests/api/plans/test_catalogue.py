"""Plans API acceptance (issue 3), part 1: the protocol catalogue."""

from __future__ import annotations

import pytest

from tests.api.plans.helpers import API, ok

pytestmark = pytest.mark.django_db


def test_protocols_list_covers_every_modality_with_rules_and_sources(client_for, coordinator):
    body = ok(client_for(coordinator).get(f"{API}/protocols/", {"page_size": 100}))
    protocols = body["results"]
    assert body["count"] >= 12
    assert {p["modality"] for p in protocols} == {
        "tms",
        "spravato",
        "ketamine",
        "neurofeedback",
        "psychiatry",
    }
    for p in protocols:
        assert p["target"]
        assert p["phases"]
        assert p["session_minutes"]
        assert p["session_cap"]
        assert p["sources"]
        assert all(i["label_status"] and i["source"] for i in p["indications"])
        assert all(r["source"] and r["reason"] for r in p["requirements"])


def test_protocols_filter_by_modality_indication_and_label_status(client_for, coordinator):
    client = client_for(coordinator)
    spravato = ok(client.get(f"{API}/protocols/", {"modality": "spravato"}))["results"]
    assert {p["code"] for p in spravato} == {"spravato_trd", "spravato_mdd_si"}
    trd = ok(client.get(f"{API}/protocols/", {"indication": "trd"}))["results"]
    assert [p["code"] for p in trd] == ["spravato_trd"]
    off_label = ok(client.get(f"{API}/protocols/", {"label_status": "off_label"}))["results"]
    assert "tms_hf_lm1_fibromyalgia" in {p["code"] for p in off_label}
    assert "spravato_trd" not in {p["code"] for p in off_label}
    pain = ok(client.get(f"{API}/protocols/", {"category": "pain"}))["results"]
    assert "tms_hf_m1_neuropathic_pain" in {p["code"] for p in pain}

"""modalities.spec_cache (issue 17): a protocol's spec is built once per process and revision,
and a change to an unused version is seen at the next read, in this process or another."""

from __future__ import annotations

import dataclasses

import pytest

from modalities import spec_cache
from modalities.catalogue import load_catalogue
from modalities.models import Protocol
from modalities.services import protocol_spec_from_model, sync_catalogue
from tests import factories
from tests.api.plans.helpers import API, ok

pytestmark = pytest.mark.django_db

CODE = "tms_itbs_ldlpfc_mdd"  # no plan of the catalogue fixture uses it


def _protocol() -> Protocol:
    return Protocol.objects.filter(code=CODE).order_by("-version").first()


def test_specs_are_built_once_per_revision(catalogue, django_assert_num_queries):
    protocols = list(Protocol.objects.all())
    # a cold process reads the indications and requirement specs of all of them at once
    with django_assert_num_queries(2):
        specs = spec_cache.protocol_specs(protocols)
    # then reads nothing more
    with django_assert_num_queries(0):
        assert spec_cache.protocol_specs(protocols) == specs
    for row in Protocol.objects.prefetch_related("indications", "requirements"):
        assert specs[row.pk] == protocol_spec_from_model(row)


def test_every_write_gives_a_protocol_a_new_revision(catalogue):
    protocol = _protocol()
    seen = {protocol.revision}
    for write in (
        lambda: protocol.save(),
        lambda: protocol.requirements.first().save(),
        lambda: protocol.indications.first().save(),
        lambda: protocol.requirements.last().delete(),
    ):
        write()
        protocol.refresh_from_db()
        assert protocol.revision not in seen
        seen.add(protocol.revision)


def _requirement_keys(body: dict) -> set[str]:
    return {item["key"] for c in body["readiness"]["components"] for item in c["items"]}


@pytest.mark.parametrize("other_process", [False, True])
def test_a_changed_unused_protocol_is_seen_by_the_next_detail_read(
    other_process, catalogue, organization, clinic, coordinator, client_for
):
    # given a draft plan whose one component uses the catalogue's iTBS version, read once
    # (its spec is now cached)
    client = client_for(coordinator)
    patient = factories.PatientFactory(organization=organization)
    protocol = _protocol()
    component = {
        "protocol": protocol.pk,
        "indication": protocol.indications.first().pk,
        "payer_type": "self_pay",
    }
    plan = ok(
        client.post(
            f"{API}/plans/",
            {
                "patient": patient.pk,
                "clinic": clinic.pk,
                "title": "Plan",
                "components": [component],
            },
        ),
        201,
    )
    before = _requirement_keys(ok(client.get(f"{API}/plans/{plan['id']}/")))
    spec = next(s for s in load_catalogue() if (s.code, s.version) == (CODE, protocol.version))
    dropped = spec.requirements[0].key
    assert dropped in before
    stale = dict(spec_cache._cache)

    # when the component is removed (the version is unused again), the catalogue rewrites the
    # version without its first requirement — here, or in another process whose cache still
    # holds the old spec — and the component is added back
    assert client.delete(f"{API}/components/{plan['components'][0]['id']}/").status_code == 204
    changed = dataclasses.replace(spec, requirements=spec.requirements[1:])
    assert sync_catalogue(specs=[changed]).updated == [f"{CODE}@v{protocol.version}"]
    if other_process:
        spec_cache._cache.update(stale)
    component["indication"] = protocol.indications.first().pk  # rewritten: a new row
    ok(client.post(f"{API}/plans/{plan['id']}/components/", component), 201)

    # then the next detail read judges the plan by the new requirements
    after = _requirement_keys(ok(client.get(f"{API}/plans/{plan['id']}/")))
    assert dropped not in after
    assert after == before - {dropped}

"""The catalogue sync: idempotent, updates unused versions, refuses to change used ones."""

from __future__ import annotations

import dataclasses

import pytest

from backend.errors import ConflictError
from modalities.catalogue import load_catalogue
from modalities.models import Protocol
from modalities.services import protocol_spec_from_model, sync_catalogue
from modalities.vocab import Modality

pytestmark = pytest.mark.django_db


def test_sync_is_idempotent_and_covers_every_modality(catalogue):
    # given the catalogue loaded at session start, when synced again
    result = sync_catalogue()
    # then nothing changes
    assert result.created == []
    assert result.updated == []
    assert Protocol.objects.count() >= 12
    assert set(Protocol.objects.values_list("modality", flat=True)) == {m.value for m in Modality}


def test_stored_protocol_round_trips_to_the_same_spec(catalogue):
    for spec in load_catalogue():
        row = Protocol.objects.prefetch_related("indications", "requirements").get(
            code=spec.code, version=spec.version
        )
        stored = protocol_spec_from_model(row)
        # indications come back ordered by code (the model's ordering); the rest is identical
        assert set(stored.indications) == set(spec.indications)
        assert dataclasses.replace(stored, indications=spec.indications) == spec


def test_unused_version_is_updated_in_place(catalogue):
    spec = next(s for s in load_catalogue() if s.code == "tms_itbs_ldlpfc_mdd")
    changed = dataclasses.replace(spec, title="iTBS (edited)")
    result = sync_catalogue(specs=[changed])
    assert result.updated == [f"tms_itbs_ldlpfc_mdd@v{spec.version}"]
    assert Protocol.objects.get(code=spec.code, version=spec.version).title == "iTBS (edited)"


def test_used_version_that_differs_must_be_bumped(demo_world):
    # given the seed plan uses the catalogue's spravato_trd version
    spec = next(s for s in load_catalogue() if s.code == "spravato_trd")
    changed = dataclasses.replace(spec, session_cap=99)
    # when the same version is synced with a change, then it is refused
    with pytest.raises(ConflictError) as err:
        sync_catalogue(specs=[changed])
    assert err.value.code == "protocol_version_in_use"
    # and a bumped version is created next to it
    bumped = spec.version + 1
    result = sync_catalogue(specs=[dataclasses.replace(changed, version=bumped)])
    assert result.created == [f"spravato_trd@v{bumped}"]

from __future__ import annotations

import pytest

from tests.api.fhir.world import build_fhir_world


@pytest.fixture
def fhir_world(catalogue):
    return build_fhir_world()

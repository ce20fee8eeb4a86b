"""api.plans.detail._when renders a date-time exactly as DRF's DateTimeField does."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st
from rest_framework import serializers

from api.plans.detail import _ZONE, _when

ZONES = [dt.UTC, *(ZoneInfo(z) for z in ("America/New_York", "Asia/Kolkata", "Pacific/Chatham"))]


@given(
    naive=st.datetimes(min_value=dt.datetime(1900, 1, 2), max_value=dt.datetime(2200, 1, 1)),
    zone=st.sampled_from(ZONES),
    active=st.sampled_from(ZONES),
    whole_seconds=st.booleans(),
)
def test_when_is_drfs_rendering_in_the_active_zone(naive, zone, active, whole_seconds):
    value = naive.replace(tzinfo=zone, microsecond=0 if whole_seconds else naive.microsecond)
    with timezone.override(active):
        expected = serializers.DateTimeField().to_representation(value)
        reset = _ZONE.set(timezone.get_current_timezone())  # as plan_detail_payload sets it
        try:
            assert _when(value) == expected
        finally:
            _ZONE.reset(reset)
        # outside a payload (no zone set) it is DRF's own call
        assert _when(value) == expected
    assert _when(None) is None

"""Shared helpers of the plans API tests."""

from __future__ import annotations

from django.utils import timezone

API = "/api/v1"
NOW = timezone.now()


def ok(response, status=200):
    assert response.status_code == status, response.json()
    return response.json()


def outstanding(readiness: dict) -> set[tuple[int, str]]:
    """(component id, requirement key) of every missing or expired item."""
    return {
        (c["component_id"], item["key"])
        for c in readiness["components"]
        for item in c["items"]
        if item["status"] in ("missing", "expired")
    }

"""Catalogue admin: editable until a plan uses the version, read-only afterwards."""

from __future__ import annotations

import pytest
from django.contrib.admin.sites import site
from django.test import RequestFactory

from modalities.models import Protocol

pytestmark = pytest.mark.django_db


def test_protocol_admin_is_read_only_once_used(demo_world, admin_user):
    admin = site._registry[Protocol]
    request = RequestFactory().get("/admin/")
    request.user = admin_user
    used = Protocol.objects.get(code="spravato_trd")
    unused = Protocol.objects.get(code="dtms_h7_ocd")
    assert admin.has_change_permission(request, used) is False
    assert admin.has_delete_permission(request, used) is False
    assert admin.has_view_permission(request, used) is True
    assert admin.has_change_permission(request, unused) is True


def test_admin_change_page_renders(client, demo_world, admin_user):
    client.force_login(admin_user)
    used = Protocol.objects.get(code="spravato_trd")
    response = client.get(f"/admin/modalities/protocol/{used.pk}/change/")
    assert response.status_code == 200

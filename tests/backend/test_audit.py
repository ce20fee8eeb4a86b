import pytest

from backend.audit import context
from backend.audit.models import AuditEvent
from backend.audit.services import record_event, record_object

pytestmark = pytest.mark.django_db


def test_record_event_without_request_has_no_request_id(coordinator):
    event = record_event(
        actor=coordinator, action="read", object_type="plans.patient", object_id=7, patient_id=7
    )
    assert event.request_id == ""
    assert event.actor_role == "coordinator"
    assert event.organization_id == coordinator.organization_id
    assert event.patient_id == 7


def test_record_event_carries_request_context(coordinator):
    token = context.bind(context.RequestContext(request_id="req-1", ip="127.0.0.1", path="/x"))
    try:
        event = record_object(actor=coordinator, action="update", obj=coordinator, patient_id=None)
    finally:
        context.unbind(token)
    assert (event.request_id, event.ip, event.path) == ("req-1", "127.0.0.1", "/x")
    assert event.object_type == "accounts.user"
    assert event.object_id == str(coordinator.pk)


def test_request_id_is_echoed_and_recorded(client_for, coordinator):
    response = client_for(coordinator).post(
        "/api/v1/auth/token/revoke/", HTTP_X_REQUEST_ID="abc-123"
    )
    assert response["X-Request-ID"] == "abc-123"
    assert AuditEvent.objects.get(actor=coordinator).request_id == "abc-123"


def test_unsafe_request_id_is_replaced(api_client):
    response = api_client.get("/healthz", HTTP_X_REQUEST_ID="bad id\nwith newline")
    assert response["X-Request-ID"] != "bad id\nwith newline"
    assert len(response["X-Request-ID"]) == 32


def test_anonymous_actor_is_recorded_as_none():
    from django.contrib.auth.models import AnonymousUser

    event = record_event(actor=AnonymousUser(), action="read", object_type="x")
    assert event.actor_id is None


def test_audit_events_are_read_only_in_admin(admin_user, client):
    client.force_login(admin_user)
    assert client.get("/admin/audit/auditevent/add/").status_code == 403

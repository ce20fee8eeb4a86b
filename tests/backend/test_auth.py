import pytest
from rest_framework.authtoken.models import Token

from backend.audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_token_obtain_with_valid_credentials(api_client, coordinator):
    response = api_client.post(
        "/api/v1/auth/token/",
        {"username": coordinator.username, "password": "test-password-123"},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["token"] == Token.objects.get(user=coordinator).key
    assert response.json()["role"] == "coordinator"


def test_token_obtain_with_wrong_password_is_400(api_client, coordinator):
    response = api_client.post(
        "/api/v1/auth/token/",
        {"username": coordinator.username, "password": "wrong"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert not Token.objects.filter(user=coordinator).exists()


def test_revoked_token_no_longer_authenticates(client_for, coordinator):
    client = client_for(coordinator)
    assert client.post("/api/v1/auth/token/revoke/").status_code == 204
    response = client.post("/api/v1/auth/token/revoke/")
    assert response.status_code == 401
    assert AuditEvent.objects.filter(actor=coordinator, object_type="authtoken.token").count() == 1


def test_token_endpoint_is_throttled(api_client, coordinator, settings):
    # given a low rate for the token scope
    from django.core.cache import cache
    from rest_framework.throttling import ScopedRateThrottle

    cache.clear()
    original = ScopedRateThrottle.THROTTLE_RATES
    ScopedRateThrottle.THROTTLE_RATES = {"auth-token": "3/min"}
    try:
        codes = [
            api_client.post("/api/v1/auth/token/", {"username": "x", "password": "y"}).status_code
            for _ in range(4)
        ]
    finally:
        ScopedRateThrottle.THROTTLE_RATES = original
        cache.clear()
    assert codes[:3] == [400, 400, 400]
    assert codes[3] == 429


def test_api_root_lists_links(api_client):
    body = api_client.get("/api/v1/").json()
    assert body["version"] == "v1"
    assert body["docs"].endswith("/api/docs/")

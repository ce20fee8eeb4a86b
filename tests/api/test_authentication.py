"""``api.authentication.TokenAuthentication``: DRF's token authentication, one fixed query.

Held to DRF's own class on real tokens: the same user (every column) and token for a good key,
the same 401s for an unknown key and an inactive user, one query per authenticated request.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework import authentication as drf
from rest_framework import exceptions
from rest_framework.authtoken.models import Token

from api.authentication import TokenAuthentication
from backend.db.rows import attnames

pytestmark = pytest.mark.django_db


def _columns(obj) -> dict:
    return {name: getattr(obj, name) for name in attnames(type(obj))}


def test_a_good_key_gives_the_same_user_and_token_as_drf(coordinator):
    key = Token.objects.create(user=coordinator).key
    ours_user, ours_token = TokenAuthentication().authenticate_credentials(key)
    drf_user, drf_token = drf.TokenAuthentication().authenticate_credentials(key)
    assert _columns(ours_user) == _columns(drf_user)
    assert _columns(ours_token) == _columns(drf_token)
    assert ours_token.user is ours_user
    assert type(ours_user) is type(drf_user)
    assert ours_user.is_authenticated
    assert ours_user.organization_id == coordinator.organization_id


@pytest.mark.parametrize("cls", [TokenAuthentication, drf.TokenAuthentication])
def test_an_unknown_key_and_an_inactive_user_fail_as_in_drf(cls, coordinator):
    key = Token.objects.create(user=coordinator).key
    with pytest.raises(exceptions.AuthenticationFailed, match="Invalid token"):
        cls().authenticate_credentials("0" * 40)
    coordinator.is_active = False
    coordinator.save(update_fields=["is_active"])
    with pytest.raises(exceptions.AuthenticationFailed, match="User inactive or deleted"):
        cls().authenticate_credentials(key)


def test_the_api_authenticates_with_one_query_and_rejects_bad_tokens(
    client_for, api_client, coordinator
):
    client = client_for(coordinator)
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/api/v1/plans/").status_code == 200
    token_reads = [q for q in queries.captured_queries if "authtoken_token" in q["sql"]]
    assert len(token_reads) == 1
    assert "accounts_user" in token_reads[0]["sql"]

    api_client.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    response = api_client.get("/api/v1/plans/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json()["code"] == "authentication_failed"

import pytest
from django.db import transaction
from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.accounts.models import Organization
from backend.errors import ConflictError

pytestmark = pytest.mark.django_db


class _WritesThenConflicts(APIView):
    permission_classes: list = []
    authentication_classes: list = []

    def post(self, request):
        with transaction.atomic():
            Organization.objects.create(name="Half written", slug="half-written")
            raise ConflictError("test_conflict", "State forbids this.", fields={"x": ["bad"]})


class _Boom(APIView):
    permission_classes: list = []
    authentication_classes: list = []

    def get(self, request):
        raise RuntimeError("boom")


class _Ok(APIView):
    def get(self, request):
        return Response({"ok": True})


urlpatterns = [
    path("t/conflict/", _WritesThenConflicts.as_view()),
    path("t/boom/", _Boom.as_view()),
    path("t/ok/", _Ok.as_view()),
]
handler500 = "backend.errors.handler500"


def test_unknown_url_is_json_404_in_error_shape(api_client):
    response = api_client.get("/no/such/page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json() == {"code": "not_found", "message": "Not found.", "fields": {}}


def test_malformed_json_is_400_parse_error(api_client):
    response = api_client.generic(
        "POST", "/api/v1/auth/token/", "{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_no_token_is_401_with_challenge(api_client):
    response = api_client.post("/api/v1/auth/token/revoke/")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert response["WWW-Authenticate"].startswith("Token")


def test_bad_token_is_401_authentication_failed(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    response = api_client.post("/api/v1/auth/token/revoke/")
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_validation_error_names_fields(api_client):
    response = api_client.post("/api/v1/auth/token/", {"username": "x"}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "validation_error"
    assert "password" in body["fields"]


def test_wrong_method_is_405(api_client):
    response = api_client.get("/api/v1/auth/token/")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


@pytest.mark.urls("tests.backend.test_errors")
def test_domain_error_is_409_with_code_and_rolls_back(api_client):
    # when a service writes, then raises a domain error
    response = api_client.post("/t/conflict/", {}, format="json")
    # then the shape carries the stable code and nothing was written
    assert response.status_code == 409
    assert response.json() == {
        "code": "test_conflict", "message": "State forbids this.", "fields": {"x": ["bad"]},
    }  # fmt: skip
    assert not Organization.objects.filter(slug="half-written").exists()


@pytest.mark.urls("tests.backend.test_errors")
def test_unhandled_exception_is_json_500_without_internals(client):
    client.raise_request_exception = False
    response = client.get("/t/boom/")
    assert response.status_code == 500
    body = response.json()
    assert body["code"] == "server_error"
    assert "boom" not in response.content.decode()
    assert body["request_id"]

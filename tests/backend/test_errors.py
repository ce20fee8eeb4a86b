import pytest
from django.db import transaction
from django.urls import include, path
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
    path("api/t/boom/", _Boom.as_view()),
    path("api/", include("api.urls")),
]
handler500 = "api.errors.handler500"


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
        "code": "test_conflict",
        "message": "State forbids this.",
        "fields": {"x": ["bad"]},
    }
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


# --- issue 9: every answer under /api/ keeps the shape, DEBUG or not ---------------------------

ERROR_KEYS = {"code", "message", "fields"}
DEBUG_PROFILES = pytest.mark.parametrize("debug", [False, True], ids=["debug-off", "debug-on"])


def _shaped(response, status: int, code: str) -> dict:
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) >= ERROR_KEYS
    assert body["code"] == code
    return body


@DEBUG_PROFILES
def test_unmatched_api_path_is_404_not_found(client, settings, debug):
    # given: the development profile's DEBUG (Django's HTML debug 404 page when on)
    settings.DEBUG = debug
    # when: a client mistypes a URL under /api/
    response = client.get("/api/v1/no-such-thing/")
    # then: the documented error shape, never HTML
    _shaped(response, 404, "not_found")


@DEBUG_PROFILES
def test_unmatched_api_path_with_post_is_404_not_found(client, settings, debug):
    settings.DEBUG = debug
    response = client.post("/api/v1/no-such-thing/", "{}", content_type="application/json")
    _shaped(response, 404, "not_found")


@DEBUG_PROFILES
def test_wrong_method_under_api_is_405_with_allow(client, settings, debug):
    settings.DEBUG = debug
    response = client.delete("/api/v1/auth/token/")
    _shaped(response, 405, "method_not_allowed")
    assert "POST" in response["Allow"]


@DEBUG_PROFILES
def test_unsupported_media_type_is_415(client, settings, debug):
    settings.DEBUG = debug
    response = client.post("/api/v1/auth/token/", "username=x", content_type="text/plain")
    _shaped(response, 415, "unsupported_media_type")


@DEBUG_PROFILES
def test_oversized_body_is_413_before_it_is_read(client, settings, debug):
    # given: a 1 KiB limit
    settings.DEBUG = debug
    settings.API_MAX_BODY_BYTES = 1024
    # when: a body over the limit arrives
    body = '{"username": "' + "x" * 2048 + '", "password": "y"}'
    response = client.post("/api/v1/auth/token/", body, content_type="application/json")
    # then: 413 request_too_large, in the shape
    _shaped(response, 413, "request_too_large")


def test_body_at_the_limit_is_accepted(client, settings):
    settings.API_MAX_BODY_BYTES = 1024
    response = client.post(
        "/api/v1/auth/token/", '{"username": "x"}', content_type="application/json"
    )
    _shaped(response, 400, "validation_error")  # parsed and validated, not refused for size


@DEBUG_PROFILES
@pytest.mark.urls("tests.backend.test_errors")
def test_unhandled_exception_under_api_is_500_with_request_id(client, settings, debug, caplog):
    # given: a view that raises, DEBUG on or off
    settings.DEBUG = debug
    client.raise_request_exception = False
    # when
    response = client.get("/api/t/boom/", HTTP_X_REQUEST_ID="req-12345")
    # then: the shape with the request id, no internals, the traceback in the log
    body = _shaped(response, 500, "server_error")
    assert body["request_id"] == "req-12345"
    assert "boom" not in response.content.decode()
    assert "Traceback" not in response.content.decode()
    assert any(r.exc_info and "req-12345" in r.getMessage() for r in caplog.records)


@pytest.mark.urls("tests.backend.test_errors")
def test_unhandled_exception_still_reaches_the_test_client(client):
    # got_request_exception is sent as Django does, so tests see the real traceback
    with pytest.raises(RuntimeError, match="boom"):
        client.get("/api/t/boom/")


def test_html_pages_outside_api_are_unchanged(client, settings):
    settings.DEBUG = True
    response = client.get("/dashboard/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("profile", ["development", "test", "production"])
def test_every_settings_profile_installs_the_api_error_middleware(profile):
    import subprocess
    import sys

    env = {
        "DJANGO_SETTINGS_MODULE": f"backend.settings.{profile}",
        "SECRET_KEY": "x" * 20 + "abcdefghijklmnopqrstuvwxyz0123456789",
        "ALLOWED_HOSTS": "api.example.com",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/unused",
        "REDIS_URL": "redis://127.0.0.1:6379/15",
        "PATH": "/usr/bin:/bin",
    }
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "m = settings.MIDDLEWARE; "
        "print(m.index('api.errors.ApiErrorShapeMiddleware') "
        "== m.index('backend.audit.middleware.RequestContextMiddleware') + 1)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "True"


@pytest.mark.django_db(transaction=True)
def test_unmatched_path_through_a_real_http_server_in_debug(live_server, settings):
    # given: a real HTTP server (the WSGI stack end to end) with DEBUG on
    import urllib.error
    import urllib.request

    settings.DEBUG = True
    # when: curl -i <server>/api/v1/no-such-thing/
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(f"{live_server.url}/api/v1/no-such-thing/", timeout=10)  # noqa: S310
    # then: 404 JSON in the shape
    assert answer.value.code == 404
    assert answer.value.headers["Content-Type"].startswith("application/json")
    import json

    assert json.loads(answer.value.read())["code"] == "not_found"

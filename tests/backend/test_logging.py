"""One structured log format: request id on every line of a request (500s included), task id on
every line of a task, the same fields in logfmt and JSON (backend/log.py)."""

from __future__ import annotations

import io
import json
import logging
import logging.config

import pytest
from celery import shared_task
from django.urls import path
from rest_framework.views import APIView

from backend import log

pytestmark = pytest.mark.django_db


class _LogsThenFails(APIView):
    permission_classes: list = []
    authentication_classes: list = []

    def get(self, request):
        logging.getLogger("plans.services").info("about to fail")
        raise RuntimeError("boom")


urlpatterns = [path("t/fails/", _LogsThenFails.as_view())]
handler500 = "api.errors.handler500"


@shared_task(name="tests.logging_probe")
def _probe() -> None:
    logging.getLogger("scheduling.reminders").info("inside the task")


@pytest.fixture
def captured():
    """Root's handler writing into a buffer, with the project's filter and formatter."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(log.ContextFilter())
    handler.setFormatter(log.LogfmtFormatter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


@pytest.mark.urls(__name__)
def test_every_line_of_a_failing_request_carries_its_request_id(client, captured):
    # given a request with an id to a view that logs, then raises
    client.raise_request_exception = False
    # when
    response = client.get("/t/fails/", HTTP_X_REQUEST_ID="req-500-probe")
    # then the 500 answers with the id, and both its lines — the view's and Django's
    # "Internal Server Error" with the traceback — carry it, each on one line
    assert response.status_code == 500
    assert response["X-Request-ID"] == "req-500-probe"
    lines = [ln for ln in captured.getvalue().splitlines() if ln]
    assert any("logger=plans.services" in ln for ln in lines)
    assert any("logger=django.request" in ln and 'exc="Traceback' in ln for ln in lines)
    assert all("request_id=req-500-probe" in ln for ln in lines), lines


def test_lines_written_inside_a_task_carry_its_id(captured):
    # when a task runs
    result = _probe.apply()
    # then its line carries the task id and name, and no request id
    (line,) = [ln for ln in captured.getvalue().splitlines() if "inside the task" in ln]
    assert f"task_id={result.id}" in line
    assert "task=tests.logging_probe" in line
    assert "request_id=" not in line


def test_celery_own_task_lines_carry_the_task_id_from_their_arguments():
    record = logging.LogRecord(
        "celery.app.trace", logging.INFO, __file__, 1, "Task %(name)s[%(id)s] succeeded", None, None
    )
    record.args = {"id": "abc-123", "name": "plans.scan_flags"}
    log.ContextFilter().filter(record)
    assert (record.task_id, record.task) == ("abc-123", "plans.scan_flags")


def test_gunicorn_access_lines_take_the_request_id_from_the_response_header():
    record = logging.LogRecord(
        "gunicorn.access", logging.INFO, __file__, 1, "%(m)s %(U)s", None, None
    )
    record.args = {"m": "GET", "U": "/healthz", "{x-request-id}o": "from-header"}
    log.ContextFilter().filter(record)
    assert record.request_id == "from-header"


def test_logfmt_quotes_and_escapes_onto_one_line():
    record = logging.LogRecord(
        "x", logging.WARNING, __file__, 1, 'said "hi"\nthen left', None, None
    )
    log.ContextFilter().filter(record)
    line = log.LogfmtFormatter().format(record)
    assert "\n" not in line
    assert line.endswith(r'msg="said \"hi\"\nthen left"')
    assert " level=WARNING " in line


def test_json_has_the_same_fields():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello %s", ("you",), None)
    record.request_id = "r-1"
    log.ContextFilter().filter(record)
    fields = json.loads(log.JsonFormatter().format(record))
    assert fields["msg"] == "hello you"
    assert fields["request_id"] == "r-1"
    assert set(fields) >= {"ts", "level", "service", "logger", "msg"}
    assert fields["ts"].endswith("Z")


@pytest.mark.parametrize(
    ("argv", "service"),
    [
        (["/app/.venv/bin/gunicorn", "backend.wsgi"], "web"),
        (["celery", "--quiet", "-A", "backend", "worker"], "worker"),
        (["/x/bin/celery", "-A", "backend", "beat", "--schedule", "s"], "beat"),
        (["manage.py", "runserver"], "web"),
        (["manage.py", "migrate"], "manage"),
    ],
)
def test_the_service_field_names_the_process(argv, service, monkeypatch):
    monkeypatch.delenv("LOG_SERVICE", raising=False)
    assert log.service_name(argv) == service


def test_settings_route_every_process_through_the_one_format(settings):
    # given the settings' LOGGING: one root handler with the project's filter and formatter
    config = settings.LOGGING
    assert config["root"]["handlers"] == ["console"]
    assert config["handlers"]["console"]["filters"] == ["context"]
    assert config["formatters"]["structured"]["()"] is log.LogfmtFormatter
    # and Django's, gunicorn's and Celery's loggers propagate to it with no handler of their own
    for name in ("django", "django.server", "gunicorn.access", "gunicorn.error", "celery.task"):
        assert config["loggers"][name]["handlers"] == []
        assert config["loggers"][name]["propagate"] is True
    # and Celery neither hijacks the root logger nor configures its own (a setup_logging receiver)
    from celery import signals

    assert settings.CELERY_WORKER_HIJACK_ROOT_LOGGER is False
    assert signals.setup_logging.receivers


def test_an_unknown_log_format_is_refused():
    with pytest.raises(ValueError, match="LOG_FORMAT"):
        log.logging_config("INFO", "xml")

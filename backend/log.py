"""One log format for web (gunicorn + Django), Celery worker and Celery beat.

Every line is one record, structured, in the same fields whatever process wrote it::

    ts=2026-12-02T13:00:00.123Z level=INFO service=web logger=django.request request_id=4f… msg="…"

``LOG_FORMAT=logfmt`` (default, readable in a terminal) or ``json`` (one object a line, for a log
shipper). Fields: ``ts`` (UTC), ``level``, ``service`` (web | worker | beat | manage),
``logger``, ``request_id`` on every line written while a request is served — including the
"Internal Server Error" line and gunicorn's access line of a 500 (taken from the
``X-Request-ID`` response header) — ``task_id``/``task`` on every line a Celery task writes, then
``msg`` and ``exc`` (the traceback, escaped onto the same line). settings.LOGGING, gunicorn.conf.py
and the Celery ``setup_logging`` signal (backend/celery.py) all use :func:`logging_config`.

Only the standard library (and ``backend.audit.context``, itself standard-library only) is
imported at module level, so gunicorn's master can load it before Django is configured.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime
from typing import Any

from backend.audit import context

FORMATS = ("logfmt", "json")
_GUNICORN_REQUEST_ID_ATOM = "{x-request-id}o"  # gunicorn's atom for a response header


def service_name(argv: list[str] | None = None) -> str:
    """Which of our processes this is, from ``LOG_SERVICE`` or the command line."""
    explicit = os.environ.get("LOG_SERVICE", "")
    if explicit:
        return explicit
    args = [os.path.basename(a) for a in (argv if argv is not None else sys.argv)]
    if any("gunicorn" in a for a in args[:1]) or "runserver" in args:
        return "web"
    if any(a.startswith("celery") for a in args[:1]) or "celery" in args[:2]:
        if "beat" in args:
            return "beat"
        if "worker" in args:
            return "worker"
        return "celery"
    return "manage"


class ContextFilter(logging.Filter):
    """Adds ``request_id``, ``task_id``, ``task`` and ``service`` to every record (or '-')."""

    def __init__(self, name: str = "") -> None:
        super().__init__(name)
        self.service = service_name()

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self.service
        record.request_id = self._request_id(record)
        task_id, task_name = self._task(record)
        record.task_id = task_id
        record.task = task_name
        return True

    @staticmethod
    def _request_id(record: logging.LogRecord) -> str:
        given = getattr(record, "request_id", None)
        if given:
            return str(given)
        ctx = context.current()
        if ctx is not None:
            return ctx.request_id
        args = record.args
        if record.name == "gunicorn.access" and isinstance(args, dict):
            value = args.get(_GUNICORN_REQUEST_ID_ATOM) or "-"
            return str(value)
        return "-"

    @staticmethod
    def _task(record: logging.LogRecord) -> tuple[str, str]:
        task = None
        if "celery" in sys.modules:
            from celery._state import get_current_task

            task = get_current_task()
        request = getattr(task, "request", None)
        if task is not None and request is not None and getattr(request, "id", None):
            return str(request.id), str(task.name)
        # Celery's own lines about a task ("Task x[id] received/succeeded") carry it in args.
        args = record.args
        if record.name.startswith("celery") and isinstance(args, dict) and args.get("id"):
            return str(args["id"]), str(args.get("name", "-"))
        return "-", "-"


def _ts(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(record.msecs):03d}Z"


def _fields(record: logging.LogRecord, formatter: logging.Formatter) -> dict[str, str]:
    fields = {
        "ts": _ts(record),
        "level": record.levelname,
        "service": getattr(record, "service", "-"),
        "logger": record.name,
    }
    for key in ("request_id", "task_id", "task"):  # only where there is one
        value = getattr(record, key, "-")
        if value != "-":
            fields[key] = value
    fields["msg"] = record.getMessage()
    if record.exc_info:
        fields["exc"] = formatter.formatException(record.exc_info)
    elif record.exc_text:
        fields["exc"] = record.exc_text
    if record.stack_info:
        fields["stack"] = formatter.formatStack(record.stack_info)
    return fields


def _logfmt_value(value: str) -> str:
    if value and not any(c in value for c in ' "=\\\n\r\t'):
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    escaped = escaped.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    return f'"{escaped}"'


class LogfmtFormatter(logging.Formatter):
    """``key=value`` pairs on one line; values with spaces, quotes or newlines are quoted."""

    def format(self, record: logging.LogRecord) -> str:
        fields = _fields(record, self)
        return " ".join(f"{k}={_logfmt_value(v)}" for k, v in fields.items())


class JsonFormatter(logging.Formatter):
    """One JSON object a line, the same fields as logfmt."""

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(_fields(record, self), ensure_ascii=False)


def logging_config(level: str = "INFO", fmt: str = "logfmt") -> dict[str, Any]:
    """The ``dictConfig`` every process applies: one handler on stderr, one formatter.

    Django's, gunicorn's and Celery's loggers propagate to the root handler, so nothing prints
    in another format; gunicorn's loggers are named so that its own handlers are replaced.
    """
    if fmt not in FORMATS:
        raise ValueError(f"LOG_FORMAT must be one of {FORMATS}, got {fmt!r}")
    formatter = LogfmtFormatter if fmt == "logfmt" else JsonFormatter
    inherit: dict[str, Any] = {"handlers": [], "propagate": True}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": ContextFilter}},
        "formatters": {"structured": {"()": formatter}},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "structured",
                "filters": ["context"],
            }
        },
        "root": {"handlers": ["console"], "level": level.upper()},
        "loggers": {
            # Django's defaults would add their own console handler and "django.server" format.
            "django": {**inherit, "level": level.upper()},
            "django.server": {**inherit},
            "gunicorn.error": {**inherit, "level": level.upper()},
            "gunicorn.access": {**inherit, "level": "INFO"},
            "celery": {**inherit},
            "celery.task": {**inherit},
            "celery.redirected": {**inherit},
        },
    }

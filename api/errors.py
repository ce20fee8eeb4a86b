"""The HTTP side of errors: one error shape for the whole API,
``{"code": str, "message": str, "fields": {name: [msg]}}``.

Domain code raises ``backend.errors.DomainError`` subclasses, which know nothing of HTTP;
``DOMAIN_STATUS`` maps each class to its status (the nearest class in the MRO wins), and the DRF
exception handler below renders them, and every DRF/Django error, in that shape and marks the
transaction for rollback.

``ApiErrorShapeMiddleware`` keeps the promise for answers DRF never sees, under ``/api/`` and in
every settings profile (DEBUG=true too, where Django would otherwise answer with its HTML debug
pages): unmatched paths (404 ``not_found``), wrong methods (405), oversized bodies (**413**
``request_too_large``, decided from ``Content-Length`` before anything is read; the limit is
``API_MAX_BODY_BYTES``), and unhandled exceptions (500 ``server_error`` with the ``request_id``
and no internals; the traceback goes to the log under the same id). ``handler400`` … ``handler500``
are the root URLconf's error views (HTML under ``/dashboard/`` and ``/admin/``, JSON elsewhere).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core import signals
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from backend.errors import ConflictError, DomainError, ErrorCode, InvalidInput, NotFoundError

logger = logging.getLogger(__name__)

# Domain error class → HTTP status; a subclass without its own row takes its nearest base's.
DOMAIN_STATUS: dict[type[DomainError], int] = {
    DomainError: status.HTTP_409_CONFLICT,
    ConflictError: status.HTTP_409_CONFLICT,
    InvalidInput: status.HTTP_400_BAD_REQUEST,
    NotFoundError: status.HTTP_404_NOT_FOUND,
}


def domain_status(exc: DomainError) -> int:
    """The HTTP status of a domain error: the row of its nearest class in ``DOMAIN_STATUS``."""
    for klass in type(exc).__mro__:
        if klass in DOMAIN_STATUS:
            return DOMAIN_STATUS[klass]
    return status.HTTP_409_CONFLICT  # unreachable: every DomainError has DomainError in its MRO


def error_body(
    code: str, message: str, fields: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    return {"code": code, "message": message, "fields": fields or {}, **extra}


def _normalise_fields(detail: Any) -> dict[str, Any]:
    """DRF validation detail → ``{field: [messages]}`` (nested serializers keep their nesting)."""
    if isinstance(detail, dict):
        out: dict[str, Any] = {}
        for key, value in detail.items():
            if isinstance(value, dict):
                out[str(key)] = _normalise_fields(value)
            elif isinstance(value, list) and value and isinstance(value[0], dict):
                out[str(key)] = [_normalise_fields(v) for v in value]
            elif isinstance(value, list):
                out[str(key)] = [str(v) for v in value]
            else:
                out[str(key)] = [str(value)]
        return out
    if isinstance(detail, list):
        return {"non_field_errors": [str(v) for v in detail]}
    return {"non_field_errors": [str(detail)]}


_DRF_CODES: dict[type[exceptions.APIException], ErrorCode] = {
    exceptions.ParseError: ErrorCode.PARSE_ERROR,
    exceptions.NotAuthenticated: ErrorCode.NOT_AUTHENTICATED,
    exceptions.AuthenticationFailed: ErrorCode.AUTHENTICATION_FAILED,
    exceptions.PermissionDenied: ErrorCode.PERMISSION_DENIED,
    exceptions.NotFound: ErrorCode.NOT_FOUND,
    exceptions.MethodNotAllowed: ErrorCode.METHOD_NOT_ALLOWED,
    exceptions.NotAcceptable: ErrorCode.NOT_ACCEPTABLE,
    exceptions.UnsupportedMediaType: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
    exceptions.Throttled: ErrorCode.THROTTLED,
}


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF ``EXCEPTION_HANDLER``: every error in the one shape, transaction rolled back."""
    headers: dict[str, str] = {}
    if isinstance(exc, DomainError):
        set_rollback()
        body = error_body(exc.code, exc.message, exc.fields, **exc.extra)
        return Response(body, status=domain_status(exc))
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    if not isinstance(exc, exceptions.APIException):
        return None  # let Django's 500 handler (below) answer, after logging
    set_rollback()
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header  # type: ignore[attr-defined]
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))  # type: ignore[attr-defined]
    if isinstance(exc, exceptions.ValidationError):
        body = error_body(
            ErrorCode.VALIDATION_ERROR, "Invalid input.", _normalise_fields(exc.detail)
        )
    else:
        code = next((c for klass, c in _DRF_CODES.items() if isinstance(exc, klass)), None) or str(
            getattr(exc, "default_code", ErrorCode.SERVER_ERROR)
        )
        body = error_body(code, str(exc.detail))
    return Response(body, status=exc.status_code, headers=headers)


def _wants_html(request: HttpRequest) -> bool:
    return request.path.startswith(("/dashboard/", "/admin/"))


def handler404(request: HttpRequest, exception: Exception | None = None):
    if _wants_html(request):
        from django.views.defaults import page_not_found

        return page_not_found(request, exception)  # type: ignore[arg-type]
    return JsonResponse(error_body(ErrorCode.NOT_FOUND, "Not found."), status=404)


def handler500(request: HttpRequest):
    if _wants_html(request):
        from django.views.defaults import server_error

        return server_error(request)
    # Never leak internals; the traceback is in the log with the request id.
    return _server_error(request)


def handler400(request: HttpRequest, exception: Exception | None = None):
    return JsonResponse(error_body(ErrorCode.VALIDATION_ERROR, "Bad request."), status=400)


def handler403(request: HttpRequest, exception: Exception | None = None):
    if _wants_html(request):
        from django.views.defaults import permission_denied

        return permission_denied(request, exception)  # type: ignore[arg-type]
    return JsonResponse(error_body(ErrorCode.PERMISSION_DENIED, "Forbidden."), status=403)


# --- every answer under /api/ keeps the shape (issue 9) ---------------------------------------

API_PREFIX = "/api/"

# Status → (code, message) for answers produced outside DRF (Django's resolver, middleware).
_STATUS_CODES: dict[int, tuple[ErrorCode, str]] = {
    400: (ErrorCode.VALIDATION_ERROR, "Bad request."),
    401: (ErrorCode.NOT_AUTHENTICATED, "Authentication credentials were not provided."),
    403: (ErrorCode.PERMISSION_DENIED, "Forbidden."),
    404: (ErrorCode.NOT_FOUND, "Not found."),
    405: (ErrorCode.METHOD_NOT_ALLOWED, "Method not allowed."),
    406: (ErrorCode.NOT_ACCEPTABLE, "Not acceptable."),
    413: (ErrorCode.REQUEST_TOO_LARGE, "Request body too large."),
    415: (ErrorCode.UNSUPPORTED_MEDIA_TYPE, "Unsupported media type."),
    429: (ErrorCode.THROTTLED, "Request was throttled."),
}
_KEPT_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate")


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def _declared_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def _server_error(request: HttpRequest) -> JsonResponse:
    if transaction.get_connection().in_atomic_block:
        transaction.set_rollback(True)
    body = error_body(
        ErrorCode.SERVER_ERROR,
        "Internal server error.",
        request_id=getattr(request, "request_id", ""),
    )
    return JsonResponse(body, status=500)


def _status_answer(request: HttpRequest, status_code: int) -> JsonResponse:
    if status_code >= 500:
        return _server_error(request)
    code, message = _STATUS_CODES.get(status_code, (ErrorCode.VALIDATION_ERROR, "Bad request."))
    return JsonResponse(error_body(code, message), status=status_code)


class ApiErrorShapeMiddleware:
    """Under ``/api/``: 413 for a declared body over ``API_MAX_BODY_BYTES`` (DRF's JSON parser
    reads the raw stream, so Django's ``DATA_UPLOAD_MAX_MEMORY_SIZE`` never applies there);
    any non-JSON error answer (Django's 404/405/500 pages, DEBUG's technical pages) replaced by
    the error shape with the same status; unhandled exceptions → JSON 500 with the request id.

    Sits right after ``RequestContextMiddleware`` so ``request.request_id`` exists.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not _is_api(request):
            return self.get_response(request)
        limit = getattr(settings, "API_MAX_BODY_BYTES", settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
        if limit is not None and _declared_length(request) > limit:
            return _status_answer(request, 413)
        # NUL bytes and lone surrogates (query, path, body): api.middleware.BoundaryMiddleware
        response = self.get_response(request)
        if response.status_code < 400 or response.get("Content-Type", "").startswith(
            "application/json"
        ):
            return response
        shaped = _status_answer(request, response.status_code)
        for header in _KEPT_HEADERS:
            if header in response:
                shaped[header] = response[header]
        return shaped

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not _is_api(request):
            return None
        if isinstance(exception, Http404):
            return _status_answer(request, 404)
        if isinstance(exception, DjangoPermissionDenied):
            return _status_answer(request, 403)
        if isinstance(exception, RequestDataTooBig):
            return _status_answer(request, 413)
        if isinstance(exception, SuspiciousOperation):
            return _status_answer(request, 400)
        logger.error(
            "Internal server error: %s (request id %s)",
            request.path,
            getattr(request, "request_id", ""),
            exc_info=exception,
            extra={"status_code": 500, "request": request},
        )
        # As Django's own handler does: the test client re-raises, error reporters hear of it.
        signals.got_request_exception.send(sender=type(self), request=request)
        return _server_error(request)

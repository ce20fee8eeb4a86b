"""Domain errors: a stable ``code`` (STYLE.md habit 5), a message and per-field messages.

Domain code (services, rules, selectors) raises ``DomainError`` subclasses with a code from its
app's enum (``plans.errors``, ``scheduling.errors``, …; the platform's own codes are
``ErrorCode``). This module knows nothing of HTTP or DRF: the interfaces decide how an error is
shown — ``api.errors`` maps each class to an HTTP status and renders the one error shape, the
dashboard shows the message. Tests assert codes, never English text.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    """Codes owned by the platform; domain apps add their own enums (plans.errors, …)."""

    VALIDATION_ERROR = "validation_error"
    PARSE_ERROR = "parse_error"
    NOT_AUTHENTICATED = "not_authenticated"
    AUTHENTICATION_FAILED = "authentication_failed"
    PERMISSION_DENIED = "permission_denied"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    NOT_ACCEPTABLE = "not_acceptable"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    REQUEST_TOO_LARGE = "request_too_large"
    THROTTLED = "throttled"
    CONFLICT = "conflict"
    SERVER_ERROR = "server_error"


class DomainError(Exception):
    """A rule of the domain refused the request, with a stable code."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        fields: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = str(code)
        self.message = message
        self.fields = fields or {}
        self.extra = extra or {}


class ConflictError(DomainError):
    """The request is well-formed but the current state forbids it."""


class InvalidInput(DomainError):
    """A cross-entity rule rejected the input, with per-field messages."""


class NotFoundError(DomainError):
    """Not found — also what another organisation's object looks like (promise 7)."""

    def __init__(self, message: str = "Not found.", **kwargs: Any) -> None:
        super().__init__(ErrorCode.NOT_FOUND, message, **kwargs)

"""Refuse hostile text on every API request, whether or not the view reads it (issue 13).

DRF parses a body only when a view reads ``request.data``, so a view that ignores its body (a
state change without input) would never see a NUL byte; and query strings bypass the parser
altogether (a NUL in a filter value reaches PostgreSQL, which refuses it with an error — a 500).
This middleware applies the parser's check (``api.parsers.find_hostile``) to the query string
and the JSON body of every ``/api/`` request: 400 ``validation_error`` naming the field.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from api.parsers import find_hostile


def _error(where: str) -> JsonResponse:
    return JsonResponse(
        {
            "code": "validation_error",
            "message": "Invalid input.",
            "fields": {where: ["contains a NUL byte or an unpaired surrogate"]},
        },
        status=400,
    )


class BoundaryMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/api/"):
            if find_hostile(request.path):
                return _error("path")
            where = find_hostile({k: request.GET.getlist(k) for k in request.GET})
            if where:
                return _error(where.split("[", 1)[0])
            content_type = request.content_type or ""
            if content_type.endswith("json") and request.method in ("POST", "PUT", "PATCH"):
                where = self._body(request)
                if where:
                    return _error(where)
        return self.get_response(request)

    @staticmethod
    def _body(request: HttpRequest) -> str | None:
        limit = int(getattr(settings, "API_MAX_BODY_BYTES", 1_048_576))
        try:
            if int(request.META.get("CONTENT_LENGTH") or 0) > limit:
                return None  # the parser answers 413 request_too_large
        except ValueError:
            return None
        try:
            data = json.loads(request.body or b"null")
        except (ValueError, UnicodeDecodeError):
            return None  # malformed JSON: the parser answers 400 parse_error
        return find_hostile(data)

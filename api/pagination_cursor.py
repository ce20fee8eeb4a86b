"""Keyset (cursor) pagination for large lists, with the count only on request (issue 17).

A page-number list runs ``COUNT(*)`` over the whole scope and ``OFFSET`` past every earlier row:
both grow with the organisation. A keyset page reads ``page_size + 1`` rows from the index that
matches the list's ordering, starting after the last row the client saw, whatever the size of
the organisation.

- ``?cursor=<opaque>`` continues from ``next``; no cursor starts at the top.
- ``?count=true`` adds the total (one ``COUNT``); otherwise ``count`` is ``null``; a value
  other than ``true``/``false`` is a 400 naming ``count``.
- A client that sends ``?page=`` gets the page-number behaviour unchanged (``DefaultPagination``:
  count, next and previous page links), so existing clients keep working.
- ``page_size`` is read through ``DefaultPagination.get_page_size`` (same bounds and validation).
- A cursor that cannot be decoded is a 400 ``validation_error`` on the ``cursor`` field.

The ordering must be a strict total order on an index: ``("-created_at", "-id")`` for plans
(index ``plan_org_created``, plans/migrations).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from typing import Any

from django.db.models import Q, QuerySet
from django.http import HttpResponse, HttpResponseBase
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from api.pagination import DefaultPagination
from backend.errors import ErrorCode, InvalidInput

_TRUE = frozenset({"true"})
_BOOLEAN = frozenset({"true", "false"})


class KeysetPagination(BasePagination):
    """Forward keyset pagination over ``(-created_at, -id)``; ``previous`` is always null
    (clients walk forward from the newest, or use ``?page=`` for random access)."""

    cursor_query_param = "cursor"
    count_query_param = "count"
    page_query_param = "page"
    ordering = ("-created_at", "-id")

    def __init__(self) -> None:
        self._fallback: DefaultPagination | None = None
        self.page_size = DefaultPagination.page_size
        self.count: int | None = None
        self.next_cursor: str | None = None
        self.request: Request | None = None

    # -- the page ------------------------------------------------------------------------------

    def numbered(self, request: Request) -> bool:
        """The client asked for numbered pages (``?page=``): ``DefaultPagination`` answers."""
        return self.page_query_param in request.query_params

    def window(self, queryset: QuerySet, request: Request) -> QuerySet:
        """The keyset page as a query: ``page_size + 1`` rows after the cursor, in order (the
        extra row tells whether there is a next page). Runs the COUNT when asked."""
        self.request = request
        self.page_size = DefaultPagination().get_page_size(request) or DefaultPagination.page_size
        after = self._decode(request.query_params.get(self.cursor_query_param))
        qs = queryset.order_by(*self.ordering)
        if after is not None:
            created_at, pk = after
            # (created_at, id) < (cursor): the first conjunct bounds the index range scan.
            qs = qs.filter(created_at__lte=created_at).filter(
                Q(created_at__lt=created_at) | Q(pk__lt=pk)
            )
        wants_count = self._wants_count(request)
        self.count = queryset.count() if wants_count else None
        return qs[: self.page_size + 1]

    def _cut(self, rows: list, key: Any) -> list:
        if len(rows) > self.page_size:
            rows = rows[: self.page_size]
            self.next_cursor = self._encode(*key(rows[-1]))
        return rows

    # keyset paging orders and filters: a QuerySet only, never the base class's plain sequence
    def paginate_queryset(self, queryset: QuerySet, request: Request, view: Any = None):  # type: ignore[override]
        if self.numbered(request):
            self._fallback = DefaultPagination()
            return self._fallback.paginate_queryset(queryset, request, view)
        return self._cut(list(self.window(queryset, request)), lambda r: (r.created_at, r.pk))

    def _wants_count(self, request: Request) -> bool:
        """``?count=true|false`` (the schema's boolean); anything else is a 400 naming it."""
        raw = request.query_params.get(self.count_query_param)
        if raw is None or raw.lower() in _BOOLEAN:
            return raw is not None and raw.lower() in _TRUE
        raise InvalidInput(
            ErrorCode.VALIDATION_ERROR,
            "Invalid count.",
            fields={self.count_query_param: ["true or false"]},
        )

    def get_paginated_response(self, data: Any) -> Response:
        if self._fallback is not None:
            return self._fallback.get_paginated_response(data)
        return Response(
            {"count": self.count, "next": self.get_next_link(), "previous": None, "results": data}
        )

    def json_response(self, rows: list[tuple[dt.datetime, int, str]]) -> HttpResponseBase:
        """The page from rows already rendered as JSON text — ``(created_at, pk, text)`` of the
        ``window``, in order — written into the body as they are (no parse, no re-render); the
        browsable API (any other accepted renderer) gets them parsed."""
        rows = self._cut(rows, lambda r: (r[0], r[1]))
        renderer = getattr(self.request, "accepted_renderer", None)
        if renderer is not None and renderer.format != "json":
            return self.get_paginated_response([json.loads(text) for _, _, text in rows])
        head = json.dumps(
            {"count": self.count, "next": self.get_next_link(), "previous": None},
            separators=(",", ":"),
        )
        body = f'{head[:-1]},"results":[{",".join(text for _, _, text in rows)}]}}'
        return HttpResponse(body.encode(), content_type="application/json")

    def get_next_link(self) -> str | None:
        if self.next_cursor is None or self.request is None:
            return None
        url = remove_query_param(self.request.build_absolute_uri(), self.page_query_param)
        return replace_query_param(url, self.cursor_query_param, self.next_cursor)

    # -- the cursor ----------------------------------------------------------------------------

    @staticmethod
    def _encode(created_at: dt.datetime, pk: int) -> str:
        raw = json.dumps([created_at.isoformat(), pk], separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    def _decode(self, value: str | None) -> tuple[dt.datetime, int] | None:
        if not value:
            return None
        try:
            padded = value + "=" * (-len(value) % 4)
            created, pk = json.loads(base64.urlsafe_b64decode(padded.encode()))
            when = dt.datetime.fromisoformat(created)
            if when.tzinfo is None or not isinstance(pk, int):
                raise ValueError("cursor")
            return when, pk
        except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
            raise InvalidInput(
                ErrorCode.VALIDATION_ERROR,
                "Invalid cursor.",
                fields={self.cursor_query_param: ["invalid cursor; use the next link as given"]},
            ) from None

    # -- OpenAPI -------------------------------------------------------------------------------

    def get_paginated_response_schema(self, schema: dict) -> dict:
        return {
            "type": "object",
            "required": ["count", "next", "previous", "results"],
            "properties": {
                "count": {
                    "type": "integer",
                    "nullable": True,
                    "description": "total rows; null unless ?count=true (or ?page= is used)",
                },
                "next": {"type": "string", "nullable": True, "format": "uri"},
                "previous": {"type": "string", "nullable": True, "format": "uri"},
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view: Any) -> list[dict]:
        params = [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "opaque position from the previous response's next link",
                "schema": {"type": "string"},
            },
            {
                "name": self.count_query_param,
                "required": False,
                "in": "query",
                "description": "true to include the total count (one extra COUNT query)",
                "schema": {"type": "boolean"},
            },
        ]
        return params + DefaultPagination().get_schema_operation_parameters(view)

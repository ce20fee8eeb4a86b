"""Query-filter building blocks shared by the API's filter sets (issue 12): a bad id, date or
enum in a query is 400 ``validation_error`` naming the parameter — never a database error."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import django_filters
from django import forms
from django_filters.fields import IsoDateTimeField
from drf_spectacular.utils import extend_schema_field

MAX_ID = 2**63 - 1  # bigint primary keys
MAX_OFFSET = timedelta(hours=14)  # the widest UTC offset in use (UTC+14, Line Islands)


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": MAX_ID})
class IdFilter(django_filters.Filter):
    """An object id: an integer in 1..2^63-1 (``1.5`` or ``1e40`` is a 400, not a DB error)."""

    field_class = forms.IntegerField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


class BoundedIsoDateTimeField(IsoDateTimeField):
    def clean(self, value: Any) -> Any:
        parsed = super().clean(value)
        offset = parsed.utcoffset() if parsed is not None else None
        if offset is not None and abs(offset) > MAX_OFFSET:
            raise forms.ValidationError("UTC offset must be within ±14:00", code="invalid")
        return parsed


class IsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    """ISO 8601 date-time whose UTC offset PostgreSQL can hold (±14:00)."""

    field_class = BoundedIsoDateTimeField

"""Query-filter building blocks shared by the API's filter sets (issue 12): a bad id, date,
enum or boolean in a query is 400 ``validation_error`` naming the parameter — never a database
error — and so is a parameter given with no value (``?status=``, ``?is_active=``): django-filter
would silently drop it, answering as if it had not been sent. Every filter set derives from
``StrictFilterSet``; the schema says ``minLength: 1`` for the text ones (``api.schema``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import django_filters
from django import forms
from django.db.models import QuerySet
from django_filters.fields import IsoDateTimeField
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema_field

from backend.db.rows import MAX_BIGINT

MAX_ID = MAX_BIGINT  # bigint primary keys


class StrictFilterSet(django_filters.FilterSet):
    """A filter named in the query must carry a value: ``?code=`` is 400 naming ``code``."""

    def is_valid(self) -> bool:
        valid = super().is_valid()
        getlist = getattr(self.data, "getlist", None)
        for name in self.filters:
            if name not in self.data:
                continue
            values = getlist(name) if getlist else [self.data[name]]
            if any(value in ("", None) for value in values):
                self.form.add_error(name, forms.ValidationError("must not be empty", "blank"))
        return valid and not self.form.errors


class StrictBooleanField(forms.Field):
    """``true`` or ``false`` — what OpenAPI clients send for a boolean query parameter. Django's
    select widget reads anything else (``null``, ``yes``) as "no filter"; here it is a 400."""

    def to_python(self, value: Any) -> bool | None:
        if value in (None, ""):
            return None
        if value in ("true", "false"):
            return value == "true"
        raise forms.ValidationError("must be true or false", code="invalid")


@extend_schema_field({"type": "boolean"})
class BooleanFilter(django_filters.BooleanFilter):
    field_class = StrictBooleanField


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": MAX_ID})
class IdFilter(django_filters.Filter):
    """An object id: an integer in 1..2^63-1 (``1.5`` or ``1e40`` is a 400, not a DB error)."""

    field_class = forms.IntegerField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


class UtcIsoDateTimeField(IsoDateTimeField):
    def clean(self, value: Any) -> Any:
        parsed = super().clean(value)
        if parsed is None or parsed.utcoffset() is None:
            return parsed
        try:
            return parsed.astimezone(dt.UTC)
        except OverflowError:  # 0001-01-01T00:00+01:00 has no UTC instant
            raise forms.ValidationError("out of the representable range", code="invalid") from None


class IsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    """RFC 3339 date-time, any offset RFC 3339 allows (±23:59): compared in UTC, since
    PostgreSQL cannot hold an offset past ±15:59 (the schema's ``format: date-time``)."""

    field_class = UtcIsoDateTimeField


class FilterBackend(DjangoFilterBackend):
    """django-filter's backend, which builds, binds and validates the view's filter set on
    every list request, without that work when the query names none of its parameters (a
    bare list, or only ``cursor``/``count``/``page``): bound to such a query every filter is
    empty, so the filter set would leave the queryset as it is (issue 17: a tenth of a plan
    list request). A parameter that starts with a filter's name (``created_after`` of
    ``created``) counts as naming it; filter sets with a required filter always run."""

    def filter_queryset(self, request: Any, queryset: QuerySet, view: Any) -> QuerySet:
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is None:
            return queryset
        names, always = _filter_names(filterset_class)
        if not always and not any(key.startswith(names) for key in request.query_params):
            return queryset
        return super().filter_queryset(request, queryset, view)


def _filter_names(filterset_class: type[django_filters.FilterSet]) -> tuple[tuple[str, ...], bool]:
    # not cached: a view with ``filterset_fields`` gets a new class from django-filter on every
    # request, and reading a handful of names costs less than a cache lookup would save
    filters = filterset_class.base_filters
    required = any(f.extra.get("required") for f in filters.values())
    return tuple(filters), required

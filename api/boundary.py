"""Validation at the API boundary, once, for every endpoint (issue 13).

* ``api.parsers.BoundaryJSONParser`` (the only parser): a body over ``API_MAX_BODY_BYTES`` is 413
  ``request_too_large``; a NUL byte or an unpaired UTF-16 surrogate anywhere in the document —
  in a key or a value, at any depth — is 400 ``validation_error`` naming the field by its path
  (``data.notes``, ``components[0].rationale``). PostgreSQL cannot store either in text or
  jsonb, and a surrogate cannot even be encoded in the JSON response.
* ``InputSerializer`` / ``InputModelSerializer`` (the base of every write serializer): a key the
  serializer does not know is 400 naming it; a JSON value of the wrong type is 400 naming it —
  DRF would coerce ``0`` to ``"0"`` for a text field, ``"0"`` to ``false`` for a boolean and
  ``"5"`` to ``5`` for an integer or an id, accepting what the schema calls invalid (issue 12;
  query strings, where every value is text, keep DRF's parsing); free text without an explicit
  ``max_length`` gets ``API_TEXT_MAX_LENGTH``; JSON blobs are capped at ``API_JSON_MAX_BYTES``;
  every date and datetime gets the plausible window ``CLINICAL_EARLIEST_DATE`` … today +
  ``CLINICAL_DATE_HORIZON_DAYS`` unless the field declares a narrower one. The bounds are on
  the fields, so the OpenAPI schema shows them (``maxLength``, and the window in the description).
* ``VisibleRelatedField``: a foreign key in a payload resolves only inside what the caller may
  see (``plans.access``); an id of another organisation and an id that does not exist give the
  same answer — 404 ``not_found``, same message, the field named (DESIGN.md promise 7).

The bounds and why: docs/adr/0009-boundary-validation.md.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any
from zoneinfo import available_timezones

from django.conf import settings
from django.core.validators import MaxLengthValidator, MaxValueValidator, MinValueValidator
from django.db.models import Model, QuerySet
from django.http import QueryDict
from django.utils import timezone
from rest_framework import serializers

from api.parsers import _safe
from backend.errors import NotFoundError

_PG_INT_MAX = 2**31 - 1  # the primary keys are ``integer`` columns


# ---------------------------------------------------------------------------------------------
# Date windows
# ---------------------------------------------------------------------------------------------


def earliest_date() -> dt.date:
    return dt.date.fromisoformat(str(getattr(settings, "CLINICAL_EARLIEST_DATE", "1900-01-01")))


def _today() -> dt.date:
    return timezone.now().date()


class Window:
    """A date window relative to today: ``past_days``/``future_days`` (None = the default
    bound: ``CLINICAL_EARLIEST_DATE`` below, ``CLINICAL_DATE_HORIZON_DAYS`` above). Values are
    setting names or ints, read at validation time so tests and deployments can change them."""

    def __init__(
        self,
        *,
        past: str | int | None = None,
        future: str | int | None = None,
        future_minutes: str | int | None = None,
    ) -> None:
        self.past, self.future, self.future_minutes = past, future, future_minutes

    @staticmethod
    def _value(spec: str | int) -> int:
        return int(getattr(settings, spec)) if isinstance(spec, str) else int(spec)

    def bounds(self) -> tuple[dt.datetime, dt.datetime]:
        now = timezone.now()
        if self.past is None:
            low = dt.datetime.combine(earliest_date(), dt.time.min, tzinfo=dt.UTC)
        else:
            low = now - dt.timedelta(days=self._value(self.past))
        if self.future_minutes is not None:
            high = now + dt.timedelta(minutes=self._value(self.future_minutes))
        else:
            days = self._value(
                self.future if self.future is not None else "CLINICAL_DATE_HORIZON_DAYS"
            )
            high = now + dt.timedelta(days=days)
        return low, high

    def describe(self) -> str:
        low = "CLINICAL_EARLIEST_DATE" if self.past is None else f"today − {self.past} days"
        if self.future_minutes is not None:
            high = f"now + {self.future_minutes} minutes"
        else:
            high = f"today + {self.future or 'CLINICAL_DATE_HORIZON_DAYS'} days"
        return f"Plausible window: {low} … {high} (settings; see README § Configuration)."

    def check(self, value: dt.date | dt.datetime) -> None:
        low, high = self.bounds()
        if isinstance(value, dt.datetime):
            probe = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
            # a naive value is local wall-clock time: allow a day of zone slack either side
            slack = dt.timedelta(days=0 if value.tzinfo else 1)
            bad = probe < low - slack or probe > high + slack
        else:
            bad = value < low.date() or value > high.date()
        if bad:
            raise serializers.ValidationError(
                f"out of the plausible window {low.date().isoformat()} … {high.date().isoformat()}",
                code="date_out_of_range",
            )


DEFAULT_WINDOW = Window()
RECORDED_WINDOW = Window(future_minutes="CLINICAL_RECORD_CLOCK_SKEW_MINUTES")
"""Something that happened (an evaluation performed, a measure taken): not in the future."""
BOOKING_WINDOW = Window(past="SESSION_BACK_ENTRY_DAYS", future="SCHEDULING_HORIZON_DAYS")
"""A session time: back-entry of a few days at most, no further ahead than the horizon."""


# ---------------------------------------------------------------------------------------------
# Input serializers
# ---------------------------------------------------------------------------------------------


def _json_size_validator(value: Any) -> None:
    limit = int(getattr(settings, "API_JSON_MAX_BYTES", 16_384))
    if len(json.dumps(value, default=str)) > limit:
        raise serializers.ValidationError(f"at most {limit} bytes of JSON")


def _bound_field(field: serializers.Field) -> None:
    if field.read_only:
        return
    if isinstance(field, serializers.ListField | serializers.DictField):
        _bound_field(field.child)
        if isinstance(field, serializers.DictField):
            field.validators.append(_json_size_validator)
        return
    if isinstance(field, serializers.JSONField):
        field.validators.append(_json_size_validator)
        return
    if isinstance(field, serializers.CharField) and field.max_length is None:
        limit = int(getattr(settings, "API_TEXT_MAX_LENGTH", 10_000))
        field.max_length = limit
        field.validators.append(
            MaxLengthValidator(
                limit, message=f"Ensure this field has no more than {limit} characters."
            )
        )
        return
    if isinstance(field, serializers.IntegerField):
        # the columns are 32-bit integers: a larger number is a 400, never a database error
        if field.max_value is None:
            field.max_value = _PG_INT_MAX
            field.validators.append(MaxValueValidator(_PG_INT_MAX))
        if field.min_value is None:
            field.min_value = -_PG_INT_MAX - 1
            field.validators.append(MinValueValidator(-_PG_INT_MAX - 1))
        return
    if isinstance(field, serializers.DateTimeField | serializers.DateField):
        window: Window = getattr(field, "window", None) or DEFAULT_WINDOW
        field.window = window  # type: ignore[union-attr]  # the boundary's own attribute
        if window.describe() not in str(field.help_text or ""):
            field.help_text = " ".join(
                filter(None, [str(field.help_text or ""), window.describe()])
            )
        field.validators.append(window.check)


_TYPE_MESSAGES = {
    "string": "Not a valid string.",
    "boolean": "Must be a valid boolean.",
    "integer": "A valid integer is required.",
    "number": "A valid number is required.",
    "id": "Incorrect type. Expected pk value.",
}


def _json_type(field: serializers.Field) -> str | None:
    """The JSON type the schema gives this field's values, when DRF would coerce others."""
    if isinstance(field, serializers.CharField):
        return "string"
    if isinstance(field, serializers.BooleanField):
        return "boolean"
    if isinstance(field, serializers.IntegerField):
        return "integer"
    if isinstance(field, serializers.FloatField):
        return "number"
    if isinstance(field, serializers.PrimaryKeyRelatedField):
        return "id"
    return None


def _wrong_type(field: serializers.Field, value: Any) -> str | None:
    """Why ``value`` (parsed JSON) is not of the field's schema type, or None if it is."""
    if value is None:  # allow_null decides
        return None
    if isinstance(field, serializers.ListField | serializers.ManyRelatedField):
        child = getattr(field, "child", None) or getattr(field, "child_relation", None)
        if not isinstance(value, list):
            return "Expected a list of items."  # DRF would read {} or "" as an empty list
        if child is None:
            return None
        return next((m for m in (_wrong_type(child, item) for item in value) if m), None)
    kind = _json_type(field)
    if kind is None or (kind == "string" and isinstance(value, str)):
        return None
    if kind == "boolean" and isinstance(value, bool):
        return None
    if isinstance(value, bool) or kind in ("string", "boolean"):
        return _TYPE_MESSAGES[kind]
    if kind == "id" and isinstance(value, int):
        return None
    if kind == "integer" and (
        isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    ):
        return None  # JSON Schema: 5.0 is an integer
    if kind == "number" and isinstance(value, int | float):
        return None
    return _TYPE_MESSAGES[kind]


class StrictInputMixin:
    """Unknown keys → 400 naming them; values of the wrong JSON type → 400 naming them; default
    bounds on text, JSON and dates."""

    def get_fields(self):  # type: ignore[no-untyped-def]
        fields = super().get_fields()  # type: ignore[misc]
        for field in fields.values():
            _bound_field(field)
        return fields

    def to_internal_value(self, data):  # type: ignore[no-untyped-def]
        if isinstance(data, Mapping):
            unknown = sorted(str(k) for k in set(data) - set(self.fields))  # type: ignore[attr-defined]
            if unknown:
                raise serializers.ValidationError(
                    {_safe(name): ["unknown field"] for name in unknown[:20]}
                )
            if not isinstance(data, QueryDict):  # a query string is all text
                wrong = {
                    name: [message]
                    for name, field in self.fields.items()  # type: ignore[attr-defined]
                    if not field.read_only
                    and name in data
                    and (message := _wrong_type(field, data[name]))
                }
                if wrong:
                    raise serializers.ValidationError(wrong, code="invalid")
        return super().to_internal_value(data)  # type: ignore[misc]


class InputSerializer(StrictInputMixin, serializers.Serializer):
    """Base of every request-body serializer."""


class InputModelSerializer(StrictInputMixin, serializers.ModelSerializer):
    """Base of model serializers that also read request bodies."""


class QueryInputSerializer(serializers.Serializer):
    """Base of serializers that read query parameters: a parameter sent with no value
    (``?date_to=``) is a 400 naming it — DRF would read it as "not given"."""

    def to_internal_value(self, data):  # type: ignore[no-untyped-def]
        getlist = getattr(data, "getlist", None)
        if getlist is not None:
            empty = [name for name in self.fields if name in data and "" in getlist(name)]
            if empty:
                raise serializers.ValidationError({name: ["must not be empty"] for name in empty})
        return super().to_internal_value(data)


class WindowMixin:
    """A date/datetime field with its own plausible window (kept through DRF's deepcopy)."""

    def __init__(self, *args: Any, window: Window | None = None, **kwargs: Any) -> None:
        self.window = window
        super().__init__(*args, **kwargs)


class BoundedDateField(WindowMixin, serializers.DateField):
    pass


class BoundedDateTimeField(WindowMixin, serializers.DateTimeField):
    pass


# ---------------------------------------------------------------------------------------------
# Text with a vocabulary the schema states
# ---------------------------------------------------------------------------------------------


@cache
def time_zones() -> tuple[str, ...]:
    """The IANA zones the service accepts (zoneinfo's ``available_timezones()``)."""
    return tuple(sorted(available_timezones()))


class TimeZoneField(serializers.CharField):
    """An IANA time zone; the schema lists ``time_zones()`` as its enum. Whoever owns the rule
    checks it (the clinic serializer, the patient service with ``invalid_timezone``)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 64)
        super().__init__(**kwargs)


class PhoneField(serializers.CharField):
    """A phone number as libphonenumber reads it (``+15555550123``, ``(555) 555-0123`` — no
    country code means US), answered in E.164. No pattern can say which digit strings are
    possible numbers, so the schema says ``format: phone`` and describes the rule; whoever owns
    the rule checks it."""


# ---------------------------------------------------------------------------------------------
# Foreign keys
# ---------------------------------------------------------------------------------------------


class VisibleRelatedField(serializers.PrimaryKeyRelatedField):
    """A primary key resolved inside ``scope(request.user)``; otherwise 404 ``not_found``.

    An id of another organisation's object and an id that does not exist answer identically
    (same status, code, message and field), so the API is no existence oracle. Needs the
    request in the serializer context.
    """

    def __init__(
        self,
        *,
        model: type[Model],
        scope: Callable[[Any], QuerySet],
        label_name: str,
        **kwargs: Any,
    ) -> None:
        self.scope = scope
        self.label_name = label_name
        kwargs["queryset"] = model._default_manager.none()
        kwargs.setdefault(
            "help_text",
            f"Id of a {label_name.lower()} you may see; another organisation's id and an "
            "unknown id both answer 404 not_found naming this field.",
        )
        super().__init__(**kwargs)

    def get_queryset(self) -> QuerySet:
        request = self.context.get("request")
        if request is None:  # schema generation
            # the stubs read RelatedField.queryset as a manager descriptor; it is the queryset
            return self.queryset  # type: ignore[arg-type, return-value]
        return self.scope(request.user)

    def _name(self) -> str:
        if self.field_name:
            return self.field_name
        parent = getattr(self, "parent", None)
        return getattr(parent, "field_name", "") or "non_field_errors"

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, bool) or not isinstance(data, int | str):
            self.fail("incorrect_type", data_type=type(data).__name__)
        try:
            pk = int(data)
        except (TypeError, ValueError):
            self.fail("incorrect_type", data_type=type(data).__name__)
        obj = None
        if 0 < pk <= _PG_INT_MAX:
            obj = self.get_queryset().filter(pk=pk).first()
        if obj is None:
            raise NotFoundError(
                f"{self.label_name} not found.", fields={self._name(): ["not found"]}
            )
        return obj


def resolve_subject(
    serializer_class: type[serializers.Serializer], request: Any, field: str = "patient"
) -> None:
    """Resolve the payload's subject (the patient a write is about) before the role check, so
    that the order stays: an invisible subject is 404, then a role that may not write is 403,
    then the other references (a patient may see no clinic, yet is told 403, not 404). A
    missing or mistyped subject is left to the full validation."""
    data = request.data
    if not isinstance(data, Mapping) or field not in data:
        return
    subject = serializer_class(context={"request": request}).fields[field]
    try:
        subject.run_validation(data[field])
    except serializers.ValidationError:
        return

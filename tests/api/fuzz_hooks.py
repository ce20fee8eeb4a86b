"""Schemathesis hooks for tests/api/test_fuzz.py (loaded through ``SCHEMATHESIS_HOOKS``).

JSON Schema cannot say a rule that ties two fields together. The API documents each one in the
operation's description (``cross_field_rules`` on the input serializer, rendered by
``api.schema.ContractAutoSchema``) and answers 400 ``validation_error`` naming the field when it
is broken — correct behaviour, not a failure. So that the fuzzer's *positive* data (which the
``positive_data_acceptance`` check expects to be accepted) respects what is documented, each rule
is taught here: a generated positive case is mapped onto the nearest case that keeps it. Negative
cases are left alone, so the negative phase still meets every rule enforced.

Rules stated in the schema's descriptions rather than its keywords, taught the same way:

- ``format: phone`` (``api.boundary.PhoneField``): no pattern says which digit strings are
  possible numbers, so positive phone numbers come from the synthetic range +1-555-01xx.
- A date or date-time whose description states a "Plausible window" (``api.boundary.Window``,
  relative to today) gets today / now, which every window holds.
- ``cursor`` is "opaque position from the previous response's next link": only the server can
  mint one, so positive cases do not invent it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import holidays
import schemathesis
from hypothesis import strategies as st

schemathesis.openapi.format("phone", st.integers(0, 99).map(lambda n: f"+1555555{100 + n:04d}"))

Rule = Callable[[dict[str, Any]], None]


def _time(value: Any) -> dt.time | None:
    try:
        return dt.time.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _date(value: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _ordered_times(data: dict[str, Any], first: str, second: str, *, strict: bool) -> None:
    """Make ``data[first] < data[second]`` (``<=`` unless ``strict``) when both are times."""
    low, high = _time(data.get(first)), _time(data.get(second))
    if low is None or high is None:
        return
    if high < low:
        data[first], data[second] = data[second], data[first]
        low, high = high, low
    if strict and low == high:
        if high < dt.time(23, 59):
            data[second] = "23:59:59"
        else:
            data[first] = "00:00:00"


def clinic(body: dict[str, Any]) -> None:
    """``subdivision`` one of the country's calendars; ``hours``: ``opens < closes``, the
    intervals of a weekday disjoint."""
    calendars = holidays.list_supported_countries()
    subdivision = body.get("subdivision")
    if subdivision and subdivision not in calendars.get(body.get("country", "US"), ()):
        body["subdivision"] = ""
    hours = body.get("hours")
    if not isinstance(hours, list):
        return
    kept: list[dict[str, Any]] = []
    for row in hours:
        if not isinstance(row, dict):
            kept.append(row)
            continue
        _ordered_times(row, "opens", "closes", strict=True)
        opens, closes = _time(row.get("opens")), _time(row.get("closes"))
        overlaps = any(
            other.get("weekday") == row.get("weekday")
            and opens is not None
            and closes is not None
            and opens < (_time(other.get("closes")) or dt.time.min)
            and (_time(other.get("opens")) or dt.time.max) < closes
            for other in kept
            if isinstance(other, dict)
        )
        if not overlaps:
            kept.append(row)
    body["hours"] = kept


def clinician_hours(body: dict[str, Any]) -> None:
    """``ends`` after ``starts``."""
    _ordered_times(body, "starts", "ends", strict=True)


def schedule(body: dict[str, Any]) -> None:
    """``window_end`` (optional) not before ``preferred_start``."""
    _ordered_times(body, "preferred_start", "window_end", strict=False)


def authorization(body: dict[str, Any]) -> None:
    """``approved`` needs number, units and dates; ``ends_on >= starts_on``; ``denied`` needs a
    note."""
    if body.get("status") == "approved":
        today = dt.datetime.now(dt.UTC).date().isoformat()
        for name, value in (
            ("number", "PA-1"),
            ("authorized_units", 10),
            ("starts_on", today),
            ("ends_on", today),
        ):
            if body.get(name) in (None, ""):
                body[name] = value
    if body.get("status") == "denied" and not str(body.get("decision_note") or "").strip():
        body["decision_note"] = "Not medically necessary per payer policy."
    low, high = _date(body.get("starts_on")), _date(body.get("ends_on"))
    if low is not None and high is not None and high < low:
        body["starts_on"], body["ends_on"] = body["ends_on"], body["starts_on"]


def evidence(body: dict[str, Any]) -> None:
    """Exactly one of url, file or evaluation (JSON carries no file): a link."""
    body.pop("file", None)
    body.pop("evaluation", None)
    if not body.get("url"):
        body["url"] = "https://example.com/payer/evidence"


def feed(body: dict[str, Any]) -> None:
    """Exactly one of ``patient`` and ``clinician``."""
    patient, clinician = body.get("patient"), body.get("clinician")
    if patient is not None and clinician is not None:
        body.pop("clinician")
    elif patient is None and clinician is None:
        body.pop("clinician", None)
        body["patient"] = 1  # an id: visible, or the documented 404


def availability(query: dict[str, Any]) -> None:
    """``start <= end <= start + 31 days``."""
    start, end = _date(query.get("start")), _date(query.get("end"))
    if start is None or end is None:
        return
    if end < start:
        start, end = end, start
    end = min(end, start + dt.timedelta(days=31))
    query["start"], query["end"] = start.isoformat(), end.isoformat()


def report(query: dict[str, Any]) -> None:
    """``date_to`` not before ``date_from``."""
    low, high = _date(query.get("date_from")), _date(query.get("date_to"))
    if low is not None and high is not None and high < low:
        query["date_from"], query["date_to"] = query["date_to"], query["date_from"]


BODY_RULES: dict[tuple[str, str], Rule] = {
    ("POST", "/api/v1/components/{id}/authorizations/"): authorization,
    ("PATCH", "/api/v1/authorizations/{id}/"): authorization,
    ("POST", "/api/v1/authorizations/{id}/evidence/"): evidence,
    ("POST", "/api/v1/clinics/"): clinic,
    ("PUT", "/api/v1/clinics/{id}/"): clinic,
    ("PATCH", "/api/v1/clinics/{id}/"): clinic,
    ("POST", "/api/v1/clinician-hours/"): clinician_hours,
    ("POST", "/api/v1/components/{id}/schedule/"): schedule,
    ("POST", "/api/v1/feeds/"): feed,
}
QUERY_RULES: dict[tuple[str, str], Rule] = {
    ("GET", "/api/v1/availability/"): availability,
    **{
        ("GET", f"/api/v1/reports/{name}/{csv}"): report
        for name in ("authorizations", "claims", "outcomes")
        for csv in ("", "csv/")
    },
}


def _resolve(root: dict[str, Any], schema: Any) -> Any:
    """Follow ``$ref`` inside ``root``; None when it points elsewhere (then nothing is mapped)."""
    while isinstance(schema, dict) and "$ref" in schema:
        node: Any = root
        for part in schema["$ref"].lstrip("#/").split("/"):
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        schema = node
    return schema


def _windowed(schema: dict[str, Any]) -> str | None:
    """``date``/``date-time`` when the schema states a plausible window, else None."""
    if "Plausible window" in str(schema.get("description", "")):
        return schema.get("format") if schema.get("format") in ("date", "date-time") else None
    return None


def _in_window(kind: str) -> str:
    if kind == "date":
        return dt.datetime.now(dt.UTC).date().isoformat()
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def windows(root: dict[str, Any], schema: Any, value: Any) -> Any:
    """``value`` with every windowed date inside its window (see the module docstring)."""
    schema = _resolve(root, schema)
    if not isinstance(schema, dict):
        return value
    for part in schema.get("allOf", ()):
        value = windows(root, part, value)
    kind = _windowed(schema)
    if kind and isinstance(value, str):
        return _in_window(kind)
    if isinstance(value, dict):
        for name, sub in (schema.get("properties") or {}).items():
            if name in value:
                value[name] = windows(root, sub, value[name])
    elif isinstance(value, list) and "items" in schema:
        value[:] = [windows(root, schema["items"], item) for item in value]
    return value


def _body_schema(case: Any) -> Any:
    for alternative in case.operation.body:
        if alternative.media_type == case.media_type or case.media_type is None:
            return alternative.definition.get("schema")
    return None


def teach(case: Any) -> Any:
    """``case`` (a positive one) mapped onto the nearest case that keeps the documented rules."""
    body_schema = _body_schema(case)
    # schemathesis bundles a body's references under the body schema's own "x-bundled" key
    root = {**case.operation.schema.raw_schema}
    if isinstance(body_schema, dict) and "x-bundled" in body_schema:
        root["x-bundled"] = body_schema["x-bundled"]
    if isinstance(case.body, dict | list):
        case.body = windows(root, body_schema, case.body)
    if isinstance(case.query, dict):
        case.query.pop("cursor", None)
        for parameter in case.operation.query:
            kind = _windowed({**parameter.definition.get("schema", {}), **parameter.definition})
            if kind and isinstance(case.query.get(parameter.name), str):
                case.query[parameter.name] = _in_window(kind)
    key = (case.operation.method.upper(), case.operation.path)
    if key in BODY_RULES and isinstance(case.body, dict):
        BODY_RULES[key](case.body)
    if key in QUERY_RULES and isinstance(case.query, dict):
        QUERY_RULES[key](case.query)
    return case


@schemathesis.hook
def map_case(context: Any, case: Any) -> Any:
    """Generated cases (coverage, fuzzing, stateful phases): the positive ones only."""
    meta = getattr(case, "meta", None)
    if meta is None or not meta.generation.mode.is_positive:
        return case
    return teach(case)


@schemathesis.hook
def before_add_examples(context: Any, examples: list[Any]) -> None:
    """The examples phase (built from the schema's examples, all positive) skips ``map_case``."""
    for case in examples:
        teach(case)

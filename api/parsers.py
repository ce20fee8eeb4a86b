"""The API's only parser: DRF's JSON parser plus the boundary checks (issue 13).

A body larger than ``API_MAX_BODY_BYTES`` is 413 ``request_too_large``; a NUL byte or an unpaired
UTF-16 surrogate anywhere in the document — a key or a value, at any depth — is 400
``validation_error`` naming the field by its path (``data.notes``, ``components[0].rationale``).
PostgreSQL stores neither in text or jsonb, and a lone surrogate cannot even be encoded in the
JSON response. Kept free of ``api.errors`` (which imports DRF views, which import this).
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from rest_framework import exceptions
from rest_framework.parsers import JSONParser

_HOSTILE = re.compile("[\x00\ud800-\udfff]")


def _safe(text: str) -> str:
    """``text`` with NUL and lone surrogates replaced, fit to echo back in an error."""
    return _HOSTILE.sub("\ufffd", text)[:80]


def find_hostile(value: Any, path: str = "") -> str | None:
    """The path of the first key or string holding a NUL or an unpaired surrogate, else None."""
    if isinstance(value, str):
        return (path or "non_field_errors") if _HOSTILE.search(value) else None
    if isinstance(value, Mapping):
        for key, item in value.items():
            key_text = str(key)
            here = f"{path}.{_safe(key_text)}" if path else _safe(key_text)
            if _HOSTILE.search(key_text):
                return here
            found = find_hostile(item, here)
            if found:
                return found
        return None
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = find_hostile(item, f"{path}[{index}]")
            if found:
                return found
    return None


class PayloadTooLarge(exceptions.APIException):
    status_code = 413
    default_detail = "The request body is too large."
    default_code = "request_too_large"


class BoundaryJSONParser(JSONParser):
    """DRF's JSON parser plus a body-size cap and the NUL / lone-surrogate check."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = int(getattr(settings, "API_MAX_BODY_BYTES", 1_048_576))
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = codecs.decode(raw, encoding)
            data = json.loads(text, parse_constant=_reject_constant)
        except ValueError as exc:
            raise exceptions.ParseError(f"JSON parse error - {_safe(str(exc))}") from None
        where = find_hostile(data)
        if where:
            raise exceptions.ValidationError(
                {where: ["contains a NUL byte or an unpaired surrogate"]}
            )
        return data


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")

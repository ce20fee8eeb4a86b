"""Helpers: validate FHIR JSON with ``fhir.resources`` (R4B models) and walk it for codes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fhir.resources.R4B import get_fhir_model_class


def validate(resource: dict[str, Any]) -> Any:
    """Parse ``resource`` with its R4B model (raises on any structural or type error)."""
    model = get_fhir_model_class(resource["resourceType"])
    return model.model_validate(resource)


def resources_in(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return [entry["resource"] for entry in bundle.get("entry", [])]


def walk(node: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every JSON object inside ``node`` with its path."""
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from walk(value, f"{path}[{i}]")


def codings(node: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every Coding-like object (``system`` + ``code``), Quantity units included."""
    for path, obj in walk(node):
        if "system" in obj and "code" in obj:
            yield path, obj

"""The facade's code tables, loaded once from ``api/fhir/codes/*.yaml`` (rules as data).

Every coding the mapping emits comes from here (``coding``/``status``), so a test can check each
emitted code against the same tables and no code is invented in Python.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

CODES_DIR = Path(__file__).resolve().parent / "codes"

ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
LOINC = "http://loinc.org"
TZ_CODE = "http://hl7.org/fhir/StructureDefinition/tz-code"  # R4 core extension (IANA zone)


@cache
def _load(name: str) -> dict[str, Any]:
    with (CODES_DIR / f"{name}.yaml").open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


@cache
def tables() -> dict[str, dict[str, str]]:
    """``{system uri: {code: display}}`` for every code system the facade emits."""
    out: dict[str, dict[str, str]] = {}
    icd = _load("icd10cm")
    out[icd["system"]] = {str(k): str(v) for k, v in icd["codes"].items()}
    loinc = _load("loinc")
    out[loinc["system"]] = {str(k): str(v["display"]) for k, v in loinc["codes"].items()}
    for uri, spec in _load("terminology")["systems"].items():
        out[uri] = {str(k): str(v) for k, v in spec["codes"].items()}
    return out


def display(system: str, code: str) -> str | None:
    return tables().get(system, {}).get(code)


def coding(system: str, code: str) -> dict[str, str]:
    """A Coding from the tables; a code missing from them is a programming error."""
    shown = display(system, code)
    if shown is None:
        raise KeyError(f"{system}|{code} is not in api/fhir/codes")
    return {"system": system, "code": code, "display": shown}


def concept(system: str, code: str, text: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"coding": [coding(system, code)]}
    if text:
        out["text"] = text
    return out


def icd10_concept(code: str, text: str | None = None) -> dict[str, Any]:
    """A diagnosis as ICD-10-CM. A code outside the table keeps its code (the clinician entered
    it; its format was validated on input) but carries no display we would have to make up."""
    code = code.upper()
    shown = display(ICD10CM, code)
    item: dict[str, str] = {"system": ICD10CM, "code": code}
    if shown:
        item["display"] = shown
    return {"coding": [item], "text": text or shown or code}


@cache
def status_maps() -> dict[str, dict[str, Any]]:
    return _load("status_maps")["maps"]


def status(resource: str, value: str) -> str:
    """The FHIR status code for a domain status (``status_maps.yaml``)."""
    return str(status_maps()[resource]["map"][value])


@cache
def loinc_for_instrument() -> dict[str, str]:
    """``{instrument: LOINC total code}`` for instruments exported as an Observation."""
    return {
        str(v["instrument"]): str(k)
        for k, v in _load("loinc")["codes"].items()
        if v.get("instrument")
    }


def flag_category(flag_code: str) -> str:
    return str(_load("status_maps")["flag_category"].get(flag_code, "clinical"))


def coverage_type(payer_type: str) -> tuple[str, str]:
    system, code = _load("status_maps")["coverage_type"][payer_type]
    return str(system), str(code)

"""The CapabilityStatement: exactly the interactions ``api/fhir/urls.py`` serves, built from the
same tables the views use (``queries.READ_TYPES``, ``queries.SEARCH_PARAMS``) so the two cannot
drift apart (a test compares them with the URL conf)."""

from __future__ import annotations

from typing import Any

from api.fhir.queries import READ_TYPES, SEARCH_PARAMS

#: search parameter → (FHIR type, documentation)
_PARAM_DOCS = {
    "patient": ("reference", "The patient (Patient/{id} or {id})."),
    "date": ("date", "Appointment start; prefixes eq, ge, le, gt, lt; repeat for a range."),
    "code": ("token", "LOINC code of the total score ([system|]code, comma = OR)."),
    "status": ("token", "Flag status: active | inactive | entered-in-error (comma = OR)."),
    "_count": ("number", "Page size, 1-200 (default 50); pages follow Bundle.link next/previous."),
}
SOFTWARE_VERSION = "0.1.0"
STATEMENT_DATE = "2026-12-02"  # bump when the supported interactions change


def capability_statement(*, base: str) -> dict[str, Any]:
    resources = []
    for resource_type in sorted(READ_TYPES):
        entry: dict[str, Any] = {
            "type": resource_type,
            "interaction": [{"code": "read"}],
            "readHistory": False,
            "updateCreate": False,
        }
        params = SEARCH_PARAMS.get(resource_type)
        if params:
            entry["interaction"].append({"code": "search-type"})
            entry["searchParam"] = [
                {"name": name, "type": _PARAM_DOCS[name][0], "documentation": _PARAM_DOCS[name][1]}
                for name in (*params, "_count")
            ]
        if resource_type == "Patient":
            entry["operation"] = [
                {
                    "name": "everything",
                    "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything",
                    "documentation": "Everything about one patient, without parameters.",
                }
            ]
        resources.append(entry)
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": STATEMENT_DATE,
        "publisher": "Integrated treatment-plan coordination service",
        "kind": "instance",
        "software": {"name": "clinic-plans FHIR facade", "version": SOFTWARE_VERSION},
        "implementation": {"description": "Read-only FHIR R4 facade", "url": base},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json"],
        "rest": [
            {
                "mode": "server",
                "documentation": "Read-only. Same access rules as /api/v1/: a user sees only the "
                "patients their role allows; another organisation's resource is not found.",
                "security": {
                    "cors": False,
                    "description": "HTTP header 'Authorization: Token <key>' (POST "
                    "/api/v1/auth/token/) or a signed-in dashboard session.",
                },
                "resource": resources,
            }
        ],
    }

"""Read-only HL7 FHIR R4 facade over the plans and scheduling selectors (issue 10).

``codes`` loads the code tables (``codes/*.yaml``), ``mapping`` turns rows into plain FHIR dicts
(no queries), ``queries`` loads and authorises rows (``plans.access``), ``views`` serve
``/fhir/R4/`` and the plan export. Validated in tests with ``fhir.resources`` (R4B models).
"""

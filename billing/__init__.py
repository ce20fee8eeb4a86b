"""Billing: codes per completed session, claims/outcomes/authorisation reports (issue 11).

Sits above ``plans`` and ``scheduling`` (reads both, neither imports it). Codes are data
(``billing/codes.yaml``) applied by pure rules (``billing/rules.py``); reports are selectors that
stream (``billing/reports.py``). No models: everything billed is derived from sessions,
components and authorisations, so there is nothing to keep in step.
"""

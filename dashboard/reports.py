"""Dashboard pages of issue 11: the reports page (outcomes chart, authorisation worklist, claims
preview, CSV links) and the printable re-authorisation packet. Same selectors as the API
(``billing.reports``, ``plans.packet``); one audit event per page.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpResponse
from django.shortcuts import render
from django.utils.http import urlencode
from django.views.decorators.http import require_GET

from backend.audit.models import AuditAction
from backend.audit.services import record_event
from billing import reports
from dashboard.access import StaffRequest, report_clinics, staff_required
from dashboard.report_charts import RateRow, render_rates_chart
from modalities.models import Protocol
from plans.packet import read_reauthorization_packet

CLAIMS_PREVIEW_ROWS = 50


def _date(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


@require_GET
@staff_required
def reports_page(request: StaffRequest) -> HttpResponse:
    q = request.GET
    filters = reports.ReportFilters(
        clinic=_int(q.get("clinic")),
        protocol=q.get("protocol") or None,
        date_from=_date(q.get("date_from")),
        date_to=_date(q.get("date_to")),
    )
    groups = reports.outcome_report(user=request.user, filters=filters)
    chart = render_rates_chart(
        [
            RateRow(f"{g.protocol_name} — {g.indication}", g.evaluable, g.responders, g.remitters)
            for g in groups
        ]
    )
    worklist = reports.authorization_worklist(user=request.user, filters=filters)
    claims = []
    for i, row in enumerate(reports.iter_claim_rows(user=request.user, filters=filters)):
        if i >= CLAIMS_PREVIEW_ROWS:
            break
        claims.append(row)
    record_event(
        actor=request.user,
        action=AuditAction.READ,
        object_type="dashboard.reports",
        detail={"filters": filters.as_dict()},
    )
    query = urlencode(filters.as_dict())
    context: dict[str, Any] = {
        "nav": "reports",
        "filters": filters,
        "groups": groups,
        "chart": chart,
        "worklist": worklist,
        "claims": claims,
        "claims_preview_rows": CLAIMS_PREVIEW_ROWS,
        "query": query,
        "clinics": report_clinics(request.user),
        "protocols": Protocol.objects.order_by("code").values_list("code", flat=True).distinct(),
    }
    return render(request, "dashboard/reports.html", context)


@require_GET
@staff_required
def reauthorization_packet(request: StaffRequest, component_id: int) -> HttpResponse:
    _, packet = read_reauthorization_packet(user=request.user, component_id=component_id)
    return render(request, "dashboard/packet.html", {"packet": packet, "nav": "reports"})

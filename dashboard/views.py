"""Dashboard views: translate HTTP into the same selectors and services the API uses.

Reads go through ``dashboard.queries`` (scoped by ``plans.access``); writes call one domain
service each (dismiss a flag, check a session in). Every page that shows patient data records one
``AuditEvent`` (DESIGN.md promise 7).
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import LoginView
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from api.fhir.views import attachment, plan_export_bundle
from backend.audit.models import AuditAction
from backend.audit.services import record_event, record_object
from backend.errors import DomainError
from dashboard import queries
from dashboard.access import StaffRequest, staff_required
from dashboard.forms import CheckInForm, DismissFlagForm, StaffAuthenticationForm
from plans import access
from plans import services as plan_services
from scheduling import access as scheduling_access
from scheduling import services as scheduling_services

GATE_BLOCKED = "readiness_gate_blocked"


class DashboardLoginView(LoginView):
    template_name = "dashboard/login.html"
    authentication_form = StaffAuthenticationForm
    redirect_authenticated_user = False


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    """POST only (CSRF-protected). ``reason=idle`` comes from the idle timer (static idle.js)."""
    idle = request.POST.get("reason") == "idle"
    logout(request)
    if idle:
        seconds = settings.SESSION_COOKIE_AGE
        span = f"{seconds // 60} minutes" if seconds >= 120 else f"{seconds} seconds"
        messages.info(request, f"You were signed out after {span} without activity.")
    else:
        messages.info(request, "You are signed out.")
    return redirect("dashboard:login")


@require_GET
@staff_required
def keepalive(request: StaffRequest) -> HttpResponse:
    """An empty answer whose only effect is to slide the session expiry (idle.js calls it while
    the user is active in a page). No patient data, so no audit event."""
    return HttpResponse(status=204)


def _idle_context() -> dict[str, Any]:
    return {"idle_seconds": settings.SESSION_COOKIE_AGE}


@require_GET
@staff_required
def worklist(request: StaffRequest) -> HttpResponse:
    data = queries.get_worklist(user=request.user, now=timezone.now())
    patient_ids = sorted(
        {p.patient_id for p in data.plans}
        | {s.patient_id for s in data.today + data.later_this_week}
        | {f.patient_id for f in data.flags}
    )
    record_event(
        actor=request.user,
        action=AuditAction.READ,
        object_type="dashboard.worklist",
        detail={"patient_ids": patient_ids},
    )
    return render(request, "dashboard/worklist.html", {"w": data, **_idle_context()})


GATE_REFUSAL_KEY = "dashboard_gate_refusal"


def _render_plan(request: StaffRequest, plan_id: Any) -> HttpResponse:
    page = queries.get_plan_page(user=request.user, plan_id=plan_id, now=timezone.now())
    record_object(
        actor=request.user, action=AuditAction.READ, obj=page.plan, patient_id=page.plan.patient_id
    )
    context = {
        "p": page,
        "can_override": access.can(request.user, access.Action.OVERRIDE_GATE),
        "can_check_in": access.can(request.user, access.Action.CHECK_IN),
        "can_handle_flags": access.can(request.user, access.Action.HANDLE_FLAGS),
        "gate_refusal": _pop_gate_refusal(request, page),
        **_idle_context(),
    }
    return render(request, "dashboard/plan.html", context)


def _pop_gate_refusal(request: StaffRequest, page: queries.PlanPage) -> dict[str, Any] | None:
    """The check-in refusal stored by ``session_check_in`` (Post/Redirect/Get), if it belongs to
    a session on this plan's timeline (already loaded: no extra query)."""
    stored = request.session.get(GATE_REFUSAL_KEY)
    if not stored:
        return None
    sessions = {e.session.pk: e.session for e in page.timeline}
    session = sessions.get(stored.get("session_id"))
    if session is None:
        return None
    del request.session[GATE_REFUSAL_KEY]
    return {**stored, "session": session}


@require_GET
@staff_required
def plan_detail(request: StaffRequest, plan_id: int) -> HttpResponse:
    return _render_plan(request, plan_id)


@require_GET
@staff_required
def plan_fhir_export(request: StaffRequest, plan_id: int) -> HttpResponse:
    """Download the plan as a FHIR R4 ``collection`` Bundle (the same export as
    ``GET /api/v1/plans/{id}/fhir/``), audited like the plan page."""
    base = request.build_absolute_uri("/fhir/R4").rstrip("/")
    plan, bundle = plan_export_bundle(user=request.user, plan_id=plan_id, base=base)
    record_object(
        actor=request.user,
        action=AuditAction.READ,
        obj=plan,
        patient_id=plan.patient_id,
        detail={"export": "fhir"},
    )
    return attachment(json.dumps(bundle).encode(), f"plan-{plan.pk}-fhir.json")


@require_POST
@staff_required
def flag_dismiss(request: StaffRequest, flag_id: int) -> HttpResponse:
    flag = access.access_flag(user=request.user, flag_id=flag_id)
    access.require(request.user, access.Action.HANDLE_FLAGS)
    form = DismissFlagForm(request.POST)
    plan_url = (
        reverse("dashboard:plan", args=[flag.plan_id]) + "#flags"
        if flag.plan_id
        else reverse("dashboard:worklist") + "#flags"  # a patient-level flag (no plan yet)
    )
    if not form.is_valid():
        messages.error(request, "Give a reason to dismiss the flag.")
        return redirect(plan_url)
    try:
        plan_services.dismiss_flag(flag=flag, reason=form.cleaned_data["reason"], by=request.user)
    except DomainError as exc:
        messages.error(request, f"The flag was not dismissed: {exc.message}")
    else:
        messages.success(request, f"Flag dismissed: {flag.message}")
    return redirect(plan_url)


@require_POST
@staff_required
def session_check_in(request: StaffRequest, session_id: int) -> HttpResponse:
    """Check a session in through the scheduling service's readiness gate. A refusal (409 in the
    API) shows on the plan page, listing the missing steps, with the override form for
    prescribers."""
    session = scheduling_access.access_session(user=request.user, session_id=session_id)
    plan_id = session.component.plan_id
    form = CheckInForm(request.POST)
    reason = form.cleaned_data["override_reason"] if form.is_valid() else ""
    try:
        checked_in = scheduling_services.check_in_session(
            session=session, by=request.user, override_reason=reason
        )
    except PermissionDenied:
        why = (
            "only a prescriber may override the readiness gate"
            if access.can(request.user, access.Action.CHECK_IN)
            else "your role may not check sessions in"
        )
        messages.error(request, f"Check-in refused: {why}.")
    except DomainError as exc:
        if exc.code == GATE_BLOCKED:
            # Post/Redirect/Get: the plan page shows the refusal once, with what is missing and,
            # for a prescriber, the override form (a reload never re-submits the check-in).
            request.session[GATE_REFUSAL_KEY] = {
                "session_id": session.pk,
                "message": exc.message,
                "missing": _missing_steps(exc),
            }
            return redirect(reverse("dashboard:plan", args=[plan_id]) + "#check-in-refused")
        messages.error(request, f"Check-in refused: {exc.message}")
    else:
        note = " (gate overridden — audited)" if checked_in.override_reason else ""
        messages.success(request, f"Checked in{note}.")
    return redirect(reverse("dashboard:plan", args=[plan_id]) + "#timeline")


def _missing_steps(exc: DomainError) -> list[dict[str, str]]:
    """The gate's list of missing steps, whichever of ``extra``/``fields`` carries it."""
    raw = exc.extra.get("missing") or exc.fields.get("missing") or []
    steps = []
    for item in raw:
        if isinstance(item, dict):
            steps.append(
                {
                    "code": str(item.get("key") or item.get("code") or ""),
                    "status": str(item.get("status", "missing")),
                    "reason": str(item.get("reason") or item.get("detail") or ""),
                }
            )
        else:
            steps.append({"code": str(item), "status": "missing", "reason": ""})
    return steps

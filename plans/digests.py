"""The coordinator digest of critical flags (one e-mail per coordinator per UTC day).

Moved out of the scanner: the scanner decides flags, this module tells people about them. Each
e-mail goes through ``notifications.outbox.send_once``: the ledger row commits first and the send
follows outside any transaction.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from backend.accounts.models import Role, User
from notifications.outbox import send_once
from plans.models import CareTeamMember, Flag, FlagStatus

DIGEST_FIELDS = ("id", "plan_id", "patient_id", "code", "severity", "message")


def _recent_critical(since: dt.datetime, **scope: Any) -> QuerySet[Flag]:
    """The open critical (or blocking) flags opened or escalated since ``since``: what a digest
    reports, once for plan flags and once for patient-level ones."""
    return Flag.objects.filter(
        status=FlagStatus.OPEN, severity__in=("critical", "blocking"), **scope
    ).filter(Q(opened_at__gte=since) | Q(updated_at__gte=since))


def _patient_flag_recipients(*, since: dt.datetime) -> list[tuple[tuple[int, str], Any]]:
    """Critical patient-level flags (raised before the patient had a plan) with who hears of
    them: the patient's care team and the coordinators of the patient's organisation (there is
    no plan coordinator yet). Three queries whatever the number of flags."""
    rows = list(
        _recent_critical(since, plan__isnull=True)
        .values(*DIGEST_FIELDS, "patient__organization_id")
        .order_by("patient_id", "id")
    )
    if not rows:
        return []
    coordinators: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for user_id, email, org_id in User.objects.filter(
        role=Role.COORDINATOR,
        is_active=True,
        organization_id__in={r["patient__organization_id"] for r in rows},
    ).values_list("pk", "email", "organization_id"):
        coordinators[org_id].append((user_id, email))
    team: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for patient_id, user_id, email in CareTeamMember.objects.filter(
        patient_id__in={r["patient_id"] for r in rows}, user__is_active=True
    ).values_list("patient_id", "user_id", "user__email"):
        team[patient_id].append((user_id, email))
    out: list[tuple[tuple[int, str], Any]] = []
    for r in rows:
        for recipient in dict.fromkeys(
            [*team[r["patient_id"]], *coordinators[r["patient__organization_id"]]]
        ):
            out.append((recipient, r))
    return out


def send_critical_flag_digests(*, now: dt.datetime | None = None) -> int:
    """One email per coordinator listing the critical (or blocking) flags opened or escalated in
    the last 24 h on their open plans. The subject carries no patient detail (DOMAIN.md §7.2);
    the body names plans by id and the gap, and links to the dashboard. At most one per
    coordinator per UTC day (ledger key ``flag-digest:<user>:<date>``)."""
    now = now or timezone.now()
    since = now - dt.timedelta(hours=24)
    rows = (
        _recent_critical(since, plan__coordinator__isnull=False)
        .values(*DIGEST_FIELDS, "plan__coordinator_id", "plan__coordinator__email")
        .order_by("plan__coordinator_id", "plan_id", "id")
    )
    by_coordinator: dict[tuple[int, str], list[Any]] = defaultdict(list)
    for r in rows:
        by_coordinator[(r["plan__coordinator_id"], r["plan__coordinator__email"])].append(r)
    for recipient, flag_row in _patient_flag_recipients(since=since):
        by_coordinator[recipient].append(flag_row)
    sent = 0
    base = getattr(settings, "DASHBOARD_BASE_URL", "")
    for (user_id, email), flags in by_coordinator.items():
        if not email:
            continue
        key = f"flag-digest:{user_id}:{now.date().isoformat()}"
        subject = f"{len(flags)} new critical flag(s) need review"
        lines = [
            "New critical flags on plans you coordinate:",
            "",
            *(
                f"- Plan {f['plan_id']}: [{f['severity']}] {f['code']} — {f['message']}"
                f" {base}/dashboard/plans/{f['plan_id']}/"
                if f["plan_id"]
                else f"- Patient {f['patient_id']} (no plan yet): [{f['severity']}] "
                f"{f['code']} — {f['message']} {base}/dashboard/#flags"
                for f in flags
            ),
        ]
        body = "\n".join(lines)
        sent += send_once(key=key, to=email, subject=subject, body=body, now=now)
    return sent

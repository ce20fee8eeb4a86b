"""Immediate notification of a safety-critical flag to the patient's prescribers (issue 15).

A PHQ-9 item 9 > 0 or a C-SSRS high-risk screen needs same-visit clinical follow-up (DOMAIN.md
§5.2 PHQ-9 item 9 / C-SSRS rows; §5.1 Zero Suicide model), so the prescribers on the patient's
care team hear of it at once — not in the next day's digest. The message goes out after the
measure's transaction commits (``plans.tasks.notify_safety_flag``, promise 6) through the
email channel (``notifications.channels``), exactly once per (flag, prescriber):
``notifications.outbox.send_once`` commits the provider ledger row ``OutboundMessage`` keyed
``safety-flag:<flag>:<user>`` first and sends after that commit, never inside ``atomic``.

The subject carries no PHI (DOMAIN.md §7.2: no diagnosis, treatment or drug name in an email
subject); the body names the plan by id and links to the dashboard, where the details are
shown behind authentication.
"""

from __future__ import annotations

from django.conf import settings

from backend.accounts.models import Credential, Role
from notifications.outbox import send_once
from plans.flag_codes import SAFETY_CODES
from plans.models import CareTeamMember, Flag, FlagStatus

SAFETY_SUBJECT = "Urgent: a patient flag needs your review now"
PRESCRIBER_CREDENTIALS = (Credential.PSYCHIATRIST, Credential.PRESCRIBER)


def safety_flag_recipients(*, flag: Flag) -> list[tuple[int, str]]:
    """(user id, email) of the active prescribers on the flagged patient's care team."""
    return list(
        CareTeamMember.objects.filter(
            patient_id=flag.patient_id,
            user__is_active=True,
            user__role=Role.CLINICIAN,
            user__credential__in=PRESCRIBER_CREDENTIALS,
        )
        .exclude(user__email="")
        .order_by("user_id")
        .values_list("user_id", "user__email")
    )


def notify_safety_flag(*, flag_id: int) -> int:
    """Email every prescriber of the patient about an open safety flag; returns how many were
    sent now (0 when already sent, resolved, or not a safety code). Idempotent per recipient."""
    flag = Flag.objects.select_related("plan").filter(pk=flag_id).first()
    if flag is None or flag.status != FlagStatus.OPEN or flag.code not in SAFETY_CODES:
        return 0
    base = getattr(settings, "DASHBOARD_BASE_URL", "")
    body = "\n".join(
        [
            "A safety-critical flag was raised on a patient of your care team and needs "
            "same-visit clinical follow-up.",
            "",
            (
                f"Plan {flag.plan_id}: {flag.message}"
                if flag.plan_id
                else f"Patient {flag.patient_id} (no plan yet): {flag.message}"
            ),
            (
                f"{base}/dashboard/plans/{flag.plan_id}/#flags"
                if flag.plan_id
                else f"{base}/dashboard/"
            ),
        ]
    )
    sent = 0
    for user_id, email in safety_flag_recipients(flag=flag):
        key = f"safety-flag:{flag.pk}:{user_id}"
        sent += send_once(key=key, to=email, subject=SAFETY_SUBJECT, body=body)
    return sent

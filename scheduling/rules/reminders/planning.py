"""Reminder planning: which rows a patient's sessions get (per-session reminders, weekly
digests) and the FCC 15-72 SMS budget (1/day, 3/week) that decides which of them are skipped.

Pure rules (STYLE.md habit 9): stdlib only. See the package docstring for sources and decisions.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from scheduling.rules.reminders.policy import (
    PatientInfo,
    PlannedReminder,
    ReminderKind,
    ReminderPolicy,
    SessionInfo,
    SkipReason,
    due_time,
    place_in_allowed_hours,
    require_aware,
    wall_to_utc,
)

# Lower number wins when the SMS budget is short.
_PRIORITY = {
    ReminderKind.WEEKLY_DIGEST: 0,
    ReminderKind.CHANGE_NOTICE: 1,
    ReminderKind.REMINDER: 2,
    ReminderKind.SAME_DAY: 3,
}


def _effective_channel(patient: PatientInfo) -> Literal["sms", "email"] | None:
    """The channel the patient chose, if usable. No silent fallback: a STOP revokes texts, and
    HIPAA 45 CFR 164.522(b) (DOMAIN.md §7.2) means we use the means the patient asked for."""
    if patient.channel == "sms":
        return "sms" if patient.has_phone and not patient.sms_opted_out else None
    if patient.channel == "email":
        return "email" if patient.has_email else None
    return None


def _offset_label(offset: timedelta) -> str:
    seconds = int(offset.total_seconds())
    return f"{seconds // 3600}h" if seconds % 3600 == 0 else f"{seconds // 60}m"


def _iso_week_label(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def _digest_nominal(first_start: datetime, tz: str, policy: ReminderPolicy) -> datetime:
    """Latest ``digest_weekday`` at ``digest_time`` (patient local) strictly before the session."""
    zone = ZoneInfo(tz)
    local_first = first_start.astimezone(zone)
    for back in range(8):
        day = local_first.date() - timedelta(days=back)
        if day.weekday() != policy.digest_weekday:
            continue
        candidate = wall_to_utc(datetime.combine(day, policy.digest_time), zone, prefer="earlier")
        if candidate < first_start:
            return candidate
    raise AssertionError("unreachable: a weekday recurs within 8 days")  # pragma: no cover


def plan_reminders(
    *,
    sessions: Sequence[SessionInfo],
    patient: PatientInfo,
    policy: ReminderPolicy,
    now: datetime,
    prior_sms_due: Sequence[datetime] = (),
) -> list[PlannedReminder]:
    """Plan the reminder rows for a patient's sessions (DESIGN.md §4 promise 5).

    Pass the whole course (past sessions too): the digest decision counts every session in a
    patient-local ISO week, so re-planning mid-week gives the same keys. Only sessions after
    ``now`` get reminders. ``prior_sms_due`` are SMS already sent or queued outside this plan;
    they use up the FCC 15-72 budget (1/day, 3/week) first.

    Returns reminders sorted by (due_at, key); budget or timing losers carry ``skip_reason``.
    Channel 'none', no usable address, or SMS opt-out (STOP, FCC 24-24) → empty list.
    """
    require_aware(now, "now")
    channel = _effective_channel(patient)
    if channel is None:
        return []
    zone = ZoneInfo(patient.tz)

    def local_day(instant: datetime) -> date:
        return instant.astimezone(zone).date()

    ordered = sorted(sessions, key=lambda s: (s.start, str(s.session_id)))
    for s in ordered:
        require_aware(s.start, f"session {s.session_id} start")
    per_week = Counter(_iso_week_label(local_day(s.start)) for s in ordered)
    digest_weeks = (
        {w for w, n in per_week.items() if n > policy.digest_threshold_per_week}
        if channel == "sms"
        else set()
    )

    planned: list[PlannedReminder] = []
    for week in sorted(digest_weeks):
        upcoming = [s for s in ordered if _iso_week_label(local_day(s.start)) == week]
        upcoming = [s for s in upcoming if s.start > now]
        if not upcoming:
            continue
        first = upcoming[0].start
        nominal = _digest_nominal(first, patient.tz, policy)
        due = place_in_allowed_hours(nominal, deadline=first, tz=patient.tz, policy=policy, now=now)
        planned.append(
            PlannedReminder(
                key=f"digest:{patient.patient_id}:{week}:sms:{ReminderKind.WEEKLY_DIGEST}",
                session_id=None,
                channel="sms",
                kind=ReminderKind.WEEKLY_DIGEST,
                due_at=due,
                session_ids=tuple(s.session_id for s in upcoming),
                skip_reason=None if due else SkipReason.NO_ALLOWED_TIME,
            )
        )

    for s in ordered:
        if s.start <= now or _iso_week_label(local_day(s.start)) in digest_weeks:
            continue
        wanted = [
            (o, ReminderKind.REMINDER, f"reminder_{_offset_label(o)}") for o in policy.offsets
        ]
        if policy.same_day_offset is not None:
            wanted.append((policy.same_day_offset, ReminderKind.SAME_DAY, "same_day"))
        for offset, kind, suffix in wanted:
            due = due_time(
                session_start=s.start, offset=offset, patient_tz=patient.tz, policy=policy, now=now
            )
            planned.append(
                PlannedReminder(
                    key=f"session:{s.session_id}:{channel}:{suffix}",
                    session_id=s.session_id,
                    channel=channel,
                    kind=kind,
                    due_at=due,
                    session_ids=(s.session_id,),
                    skip_reason=None if due else SkipReason.NO_ALLOWED_TIME,
                )
            )

    if channel == "sms":
        planned = _enforce_sms_budget(planned, prior_sms_due, local_day, policy)
    far_future = datetime.max.replace(tzinfo=UTC)
    return sorted(planned, key=lambda r: (r.due_at or far_future, r.key))


def _enforce_sms_budget(
    planned: list[PlannedReminder],
    prior_sms_due: Sequence[datetime],
    local_day: Callable[[datetime], date],
    policy: ReminderPolicy,
) -> list[PlannedReminder]:
    """Greedy in priority order (digest > reminder > same_day, then due time, then key)."""
    sent_days = [local_day(d) for d in prior_sms_due]
    result = [r for r in planned if r.skipped]
    live = sorted(
        (r for r in planned if not r.skipped),
        key=lambda r: (_PRIORITY[r.kind], r.due_at, r.key),
    )
    for r in live:
        assert r.due_at is not None
        reason = check_sms_budget(
            sent_local_dates=sent_days, candidate_local_date=local_day(r.due_at), policy=policy
        )
        if reason is None:
            sent_days.append(local_day(r.due_at))
            result.append(r)
        else:
            result.append(_with_skip(r, SkipReason(reason)))
    return result


def _with_skip(r: PlannedReminder, reason: SkipReason) -> PlannedReminder:
    return PlannedReminder(
        key=r.key,
        session_id=r.session_id,
        channel=r.channel,
        kind=r.kind,
        due_at=r.due_at,
        session_ids=r.session_ids,
        skip_reason=reason,
    )


def check_sms_budget(
    *, sent_local_dates: Sequence[date], candidate_local_date: date, policy: ReminderPolicy
) -> str | None:
    """The dispatcher's last check before an SMS leaves: FCC 15-72 (DOMAIN.md §7.3) allows at most
    1 message a day and 3 a week. Dates are patient-local; weeks are ISO (Mon–Sun). Returns a
    ``SkipReason`` value when over budget, else ``None``."""
    if sum(1 for d in sent_local_dates if d == candidate_local_date) >= policy.sms_per_day:
        return SkipReason.SMS_DAILY_LIMIT.value
    week = candidate_local_date.isocalendar()[:2]
    if sum(1 for d in sent_local_dates if d.isocalendar()[:2] == week) >= policy.sms_per_week:
        return SkipReason.SMS_WEEKLY_LIMIT.value
    return None

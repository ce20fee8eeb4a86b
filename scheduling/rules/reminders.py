"""Reminder policy: when reminders are due, how many SMS a patient may get, and what they say.

Pure rules (STYLE.md habit 9): stdlib only, no Django, no database, no clock. The caller passes
``now`` and stores the result as ``Reminder`` rows (DESIGN.md §3); a beat tick claims due rows
(DESIGN.md §4 promise 4). Nothing here sends anything.

Sources
-------
- DESIGN.md §4 promise 5 (reminders respect the patient), promise 9 (time is honest), §7
  (peers send at any hour / in server time / fixed Pacific time; duplicate texts).
- DOMAIN.md §7.1: 24–48 h ahead is the common default ([WEAK]); "2 h before" is UNSOURCED, so
  ``same_day_offset`` is off by default.
- DOMAIN.md §7.2 HIPAA (HHS FAQ 198, OCR FAQ 570): limit PHI in unencrypted SMS/voicemail/email;
  never a drug, diagnosis or treatment name → ``FORBIDDEN_TERMS``, subject line carries nothing
  but "Appointment reminder from <clinic>".
- DOMAIN.md §7.3 FCC 15-72 healthcare exemption: provider name and contact number, text ≤160
  characters, at most 1 message a day and 3 a week, "Reply STOP" told every time, free to the
  end user (so no "msg & data rates" wording). FCC 24-24: revocation by any reasonable means
  ("stop", "quit", "end", "revoke", "opt out", "cancel", "unsubscribe"), one confirmation text.
  47 CFR 64.1200 quiet hours: only 08:00–21:00 recipient local time.

Public API
----------
Data
    ``ReminderPolicy`` (frozen; per clinic; can only be *stricter* than the FCC/quiet-hour limits),
    ``SessionInfo``, ``PatientInfo``, ``PlannedReminder``, ``ReminderKind``, ``SkipReason``,
    ``ForbiddenTerm``, ``FORBIDDEN_TERMS``, ``ForbiddenTermError``, ``SMS_MAX_CHARS``.
Timing
    ``in_quiet_hours(instant, tz, policy) -> bool``
    ``nominal_due_time(*, session_start, offset, patient_tz) -> datetime``
    ``due_time(*, session_start, offset, patient_tz, policy, now=None) -> datetime | None``
    ``plan_reminders(*, sessions, patient, policy, now, prior_sms_due=()) -> list[PlannedReminder]``
    ``check_sms_budget(*, sent_local_dates, candidate_local_date, policy) -> str | None``
Content
    ``contains_forbidden_term(text) -> str | None``
    ``format_local_start(local_start) -> str``  ("Tue Nov 24 10:00 AM")
    ``render_sms(*, kind, clinic_name, local_start, clinic_phone, room_or_address, preparation)``
    ``render_email(*, kind, clinic_name, local_start, clinic_phone, room_or_address, preparation)``
    ``render_digest_sms(*, clinic_name, local_starts, clinic_phone, room_or_address)``
    ``render_change_notice_sms(*, clinic_name, local_start, clinic_phone, room_or_address,
    cancelled=False)``
    ``render_help_text(*, clinic_name, clinic_phone)``
Inbound SMS and webhooks
    ``parse_inbound_keyword(body) -> 'stop' | 'start' | 'help' | None``
    ``STOP_CONFIRMATION``, ``START_CONFIRMATION``, ``HELP_TEXT_TEMPLATE``
    ``sign_webhook(secret, body, timestamp) -> str``
    ``verify_webhook_signature(secret, body, timestamp, signature, *, now, tolerance_s=300)``

Decisions
---------
- Offsets: whole days are subtracted in the patient's local wall time (a 24 h reminder for a
  10:00 session is at 10:00 the day before, even across DST); other offsets are elapsed time.
- Quiet hours: allowed window is [quiet_start, quiet_end) in the *patient's* zone. A nominal due
  time inside quiet hours moves EARLIER to ``quiet_end - 1 min`` of the previous allowed evening
  (never later, so a reminder never arrives after the visit it announces). If that moment is
  already past (late booking), it moves forward to the first allowed moment ≥ ``now``; if that is
  not before the session, there is no reminder (``None`` / ``SkipReason.NO_ALLOWED_TIME``).
  Wall-clock arithmetic is done in local time and converted back with zoneinfo; a nonexistent
  local time resolves to the earlier instant when moving earlier and the later one when moving
  later (see ``_wall_to_utc``).
- Digest: SMS only (the limit it works around is the FCC SMS budget). A patient-local ISO week
  with more than ``digest_threshold_per_week`` sessions gets one weekly digest due at the latest
  ``digest_weekday``/``digest_time`` before that week's first session, and no per-session SMS.
- Budget: 1/day and 3/ISO-week (Mon–Sun, patient local date of the due time) over all planned
  SMS plus ``prior_sms_due``. Extras are kept in the plan with a ``skip_reason`` so the caller can
  record them as 'skipped'. Priority: digest > reminder > same_day, then earlier due time, then key.
- SMS truncation: preparation first, then place, then (only if still too long) the clinic name;
  date/time, clinic, callback number and "Reply STOP to opt out" are never dropped. Cuts happen
  at word boundaries with "..." and a cut fragment that would read as a forbidden term is dropped.
- Term matching: see ``FORBIDDEN_TERMS``; 'pain' is a whole word (also 'pains', 'painful'), so
  'Spain', 'painting' and 'Paine St' pass while 'Pain Clinic' is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

SMS_MAX_CHARS = 160  # FCC 15-72 (DOMAIN.md §7.3)
_FCC_SMS_PER_DAY = 1  # FCC 15-72
_FCC_SMS_PER_WEEK = 3  # FCC 15-72
_EARLIEST_QUIET_START = time(8, 0)  # 47 CFR 64.1200, DOMAIN.md §7.3
_LATEST_QUIET_END = time(21, 0)
_STOP_LINE = "Reply STOP to opt out"  # FCC 15-72: recipients must be told how to opt out


class ReminderKind(StrEnum):
    REMINDER = "reminder"
    SAME_DAY = "same_day"
    WEEKLY_DIGEST = "weekly_digest"
    CHANGE_NOTICE = "change_notice"


class SkipReason(StrEnum):
    SMS_DAILY_LIMIT = "sms_daily_limit"  # FCC 15-72: max 1/day
    SMS_WEEKLY_LIMIT = "sms_weekly_limit"  # FCC 15-72: max 3/week
    NO_ALLOWED_TIME = "no_allowed_time"  # no 08:00–21:00 moment left before the session


# Lower number wins when the SMS budget is short.
_PRIORITY = {
    ReminderKind.WEEKLY_DIGEST: 0,
    ReminderKind.CHANGE_NOTICE: 1,
    ReminderKind.REMINDER: 2,
    ReminderKind.SAME_DAY: 3,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class ReminderPolicy:
    """Per-clinic reminder settings. Defaults are the safe ones; a clinic may only tighten them.

    - ``offsets``: 24 h (DOMAIN.md §7.1, 24–48 h common default [WEAK]).
    - ``same_day_offset``: UNSOURCED (DOMAIN.md §7.1, §8 item 6) → off unless a clinic opts in.
    - quiet hours 08:00–21:00 recipient time (47 CFR 64.1200, DOMAIN.md §7.3).
    - 1 SMS/day, 3/week (FCC 15-72, DOMAIN.md §7.3); a policy above these is rejected.
    - a course with more than ``digest_threshold_per_week`` sessions in a week gets a weekly digest
      (DESIGN.md §4 promise 5), sent ``digest_weekday`` (Mon=0 … Sun=6) at ``digest_time`` local.
    """

    offsets: tuple[timedelta, ...] = (timedelta(hours=24),)
    same_day_offset: timedelta | None = None
    quiet_start: time = time(8, 0)
    quiet_end: time = time(21, 0)
    sms_per_day: int = _FCC_SMS_PER_DAY
    sms_per_week: int = _FCC_SMS_PER_WEEK
    digest_threshold_per_week: int = 3
    digest_weekday: int = 6
    digest_time: time = time(17, 0)

    def __post_init__(self) -> None:
        all_offsets = [*self.offsets, *([self.same_day_offset] if self.same_day_offset else [])]
        if any(o <= timedelta(0) for o in all_offsets):
            raise ValueError("reminder offsets must be positive")
        if len(set(self.offsets)) != len(self.offsets):
            raise ValueError("reminder offsets must be distinct")
        if not (_EARLIEST_QUIET_START <= self.quiet_start < self.quiet_end <= _LATEST_QUIET_END):
            raise ValueError("allowed hours must lie within 08:00–21:00 (47 CFR 64.1200)")
        if not (0 <= self.sms_per_day <= _FCC_SMS_PER_DAY):
            raise ValueError("sms_per_day must be 0..1 (FCC 15-72)")
        if not (0 <= self.sms_per_week <= _FCC_SMS_PER_WEEK):
            raise ValueError("sms_per_week must be 0..3 (FCC 15-72)")
        if not 0 <= self.digest_weekday <= 6:
            raise ValueError("digest_weekday must be 0 (Mon) .. 6 (Sun)")
        if self.digest_threshold_per_week < 0:
            raise ValueError("digest_threshold_per_week must be ≥ 0")


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionInfo:
    session_id: int | str
    start: datetime  # aware
    clinic_name: str
    clinic_phone: str
    clinic_address: str
    room: str | None
    preparation: str  # patient-safe practical text, or ''
    clinic_tz: str


Channel = Literal["sms", "email", "none"]


@dataclass(frozen=True, slots=True, kw_only=True)
class PatientInfo:
    patient_id: int | str
    tz: str
    channel: Channel
    sms_opted_out: bool
    has_phone: bool
    has_email: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class PlannedReminder:
    """One future ``Reminder`` row. ``key`` is stable across re-plans (upsert by key)."""

    key: str
    session_id: int | str | None  # None for a weekly digest
    channel: Literal["sms", "email"]
    kind: ReminderKind
    due_at: datetime | None  # UTC; None only when skipped for NO_ALLOWED_TIME
    session_ids: tuple[int | str, ...]
    skip_reason: SkipReason | None = None

    @property
    def skipped(self) -> bool:
        return self.skip_reason is not None


# --------------------------------------------------------------------------------------------
# Time


def _require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (DESIGN.md §4 promise 9)")


def in_quiet_hours(instant: datetime, tz: str, policy: ReminderPolicy) -> bool:
    """True when ``instant`` is before ``quiet_start`` or at/after ``quiet_end`` in zone ``tz``.

    47 CFR 64.1200 / DOMAIN.md §7.3: only 08:00–21:00 recipient local time.
    """
    _require_aware(instant, "instant")
    local = instant.astimezone(ZoneInfo(tz)).time()
    return not (policy.quiet_start <= local < policy.quiet_end)


def _wall_to_utc(
    wall: datetime, zone: ZoneInfo, *, prefer: Literal["earlier", "later"]
) -> datetime:
    """Resolve a naive local wall time to UTC.

    Ambiguous (fall back): both readings are real; pick per ``prefer``. Nonexistent (spring
    forward gap): neither reading round-trips; ``earlier`` gives the instant just before the gap,
    ``later`` the one after it.
    """
    readings = [wall.replace(tzinfo=zone, fold=f).astimezone(UTC) for f in (0, 1)]
    valid = [
        r for r in readings if r.astimezone(zone).replace(tzinfo=None) == wall.replace(tzinfo=None)
    ]
    pool = valid or readings
    return min(pool) if prefer == "earlier" else max(pool)


def _latest_allowed_at_or_before(instant: datetime, tz: str, policy: ReminderPolicy) -> datetime:
    zone = ZoneInfo(tz)
    local = instant.astimezone(zone)
    if not in_quiet_hours(instant, tz, policy):
        return instant.astimezone(UTC)
    day = local.date() if local.time() >= policy.quiet_end else local.date() - timedelta(days=1)
    for _ in range(3):  # a DST oddity can at most push one day further back
        wall = datetime.combine(day, policy.quiet_end) - timedelta(minutes=1)
        candidate = _wall_to_utc(wall, zone, prefer="earlier")
        if candidate <= instant and not in_quiet_hours(candidate, tz, policy):
            return candidate
        day -= timedelta(days=1)
    raise AssertionError("no allowed local time found")  # pragma: no cover


def _earliest_allowed_at_or_after(instant: datetime, tz: str, policy: ReminderPolicy) -> datetime:
    zone = ZoneInfo(tz)
    local = instant.astimezone(zone)
    if not in_quiet_hours(instant, tz, policy):
        return instant.astimezone(UTC)
    day = local.date() if local.time() < policy.quiet_start else local.date() + timedelta(days=1)
    for _ in range(3):
        candidate = _wall_to_utc(datetime.combine(day, policy.quiet_start), zone, prefer="later")
        if candidate >= instant and not in_quiet_hours(candidate, tz, policy):
            return candidate
        day += timedelta(days=1)
    raise AssertionError("no allowed local time found")  # pragma: no cover


def _place_in_allowed_hours(
    nominal: datetime, *, deadline: datetime, tz: str, policy: ReminderPolicy, now: datetime | None
) -> datetime | None:
    candidate = _latest_allowed_at_or_before(nominal, tz, policy)
    if now is not None and candidate < now:
        candidate = _earliest_allowed_at_or_after(now, tz, policy)
    return candidate if candidate < deadline else None


def due_time(
    *,
    session_start: datetime,
    offset: timedelta,
    patient_tz: str,
    policy: ReminderPolicy,
    now: datetime | None = None,
) -> datetime | None:
    """When a reminder ``offset`` before ``session_start`` may go out, in UTC, or ``None``.

    Rule (47 CFR 64.1200 quiet hours, DOMAIN.md §7.3; DESIGN.md §4 promises 5 and 9): the
    nominal instant (``nominal_due_time``: whole days in local wall time) if it falls in the
    patient's allowed local hours; otherwise the latest allowed local minute before it
    (``quiet_end - 1 min`` the evening before). With ``now`` given and that moment past, the
    first allowed moment from ``now``. ``None`` when the result would not be strictly before the
    session (the caller records a skip).
    """
    _require_aware(session_start, "session_start")
    if now is not None:
        _require_aware(now, "now")
    nominal = nominal_due_time(session_start=session_start, offset=offset, patient_tz=patient_tz)
    return _place_in_allowed_hours(
        nominal, deadline=session_start, tz=patient_tz, policy=policy, now=now
    )


def nominal_due_time(*, session_start: datetime, offset: timedelta, patient_tz: str) -> datetime:
    """``session_start - offset`` before quiet hours are applied, in UTC.

    Whole-day offsets are calendar days in the patient's wall time ("the day before at the same
    time", DESIGN.md §4 promise 9), so across a DST change a 24 h reminder for a 10:00 session is
    at 10:00 local, 23 or 25 real hours ahead. Other offsets (e.g. 2 h) are elapsed time.
    A wall time that falls in a DST gap or overlap resolves to the earlier instant.
    """
    _require_aware(session_start, "session_start")
    seconds = offset.total_seconds()
    if seconds % 86400:
        return (session_start - offset).astimezone(UTC)
    zone = ZoneInfo(patient_tz)
    wall = session_start.astimezone(zone).replace(tzinfo=None) - offset
    return _wall_to_utc(wall, zone, prefer="earlier")


# --------------------------------------------------------------------------------------------
# Planning


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
        candidate = _wall_to_utc(datetime.combine(day, policy.digest_time), zone, prefer="earlier")
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
    _require_aware(now, "now")
    channel = _effective_channel(patient)
    if channel is None:
        return []
    zone = ZoneInfo(patient.tz)

    def local_day(instant: datetime) -> date:
        return instant.astimezone(zone).date()

    ordered = sorted(sessions, key=lambda s: (s.start, str(s.session_id)))
    for s in ordered:
        _require_aware(s.start, f"session {s.session_id} start")
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
        due = _place_in_allowed_hours(
            nominal, deadline=first, tz=patient.tz, policy=policy, now=now
        )
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


# --------------------------------------------------------------------------------------------
# Forbidden terms


@dataclass(frozen=True, slots=True)
class ForbiddenTerm:
    term: str
    match: Literal["anywhere", "word_start", "word"]
    why: str


_DRUG = "drug/brand name reveals treatment (HHS FAQ 198, DOMAIN.md §7.2)"
_MODALITY = "treatment/modality name (DESIGN.md §4 promise 5)"
_DIAGNOSIS = "diagnosis or condition (DOMAIN.md §7.2: omit diagnosis from SMS/voicemail)"
_SPECIALTY = "reveals a psychiatric/behavioural practice (DOMAIN.md §7.2 [WEAK] revealing name)"

# Matching modes, chosen per term to avoid false alarms on everyday words and place names:
# - "anywhere": long distinctive stems that do not occur inside innocent words; also catches
#   brand-style concatenations ("KetaMind", "SpravatoCare").
# - "word_start": stems that must begin a word (``magnetic`` but not "electromagnetism" prose).
# - "word": short acronyms and common words, whole word only: 'pain' matches "Pain Clinic" but not
#   "Spain", "painting" or "Paine St"; 'tms' matches "SuccessTMS" because camelCase is split
#   before matching, but not "ATMs".
# Deliberately NOT listed: "saint" (SAINT protocol, but also "Saint Mary's"), "iv" (Suite IV),
# "spray", "mood", "gad" (a name) — their context words are caught instead.
FORBIDDEN_TERMS: tuple[ForbiddenTerm, ...] = (
    ForbiddenTerm("spravato", "anywhere", _DRUG),
    ForbiddenTerm("esketamin", "anywhere", _DRUG),
    ForbiddenTerm("ketamin", "anywhere", _DRUG),
    ForbiddenTerm("ketalar", "anywhere", _DRUG),
    ForbiddenTerm("neurostar", "anywhere", "TMS device brand"),
    ForbiddenTerm("brainsway", "anywhere", "TMS device brand"),
    ForbiddenTerm("magventure", "anywhere", "TMS device brand"),
    ForbiddenTerm("magstim", "anywhere", "TMS device brand"),
    ForbiddenTerm("transcranial", "anywhere", _MODALITY),
    ForbiddenTerm("stimulat", "anywhere", _MODALITY),
    ForbiddenTerm("neuromodulat", "anywhere", _MODALITY),
    ForbiddenTerm("neurofeedback", "anywhere", _MODALITY),
    ForbiddenTerm("biofeedback", "anywhere", _MODALITY),
    ForbiddenTerm("electroconvuls", "anywhere", _MODALITY),
    ForbiddenTerm("theta burst", "anywhere", _MODALITY),
    ForbiddenTerm("anesthe", "anywhere", _MODALITY),
    ForbiddenTerm("anaesthe", "anywhere", _MODALITY),
    ForbiddenTerm("psychiatr", "anywhere", _SPECIALTY),
    ForbiddenTerm("mental health", "anywhere", _SPECIALTY),
    ForbiddenTerm("behavioral health", "anywhere", _SPECIALTY),
    ForbiddenTerm("behavioural health", "anywhere", _SPECIALTY),
    ForbiddenTerm("controlled substance", "anywhere", _DRUG),
    ForbiddenTerm("depress", "anywhere", _DIAGNOSIS),
    ForbiddenTerm("suicid", "anywhere", _DIAGNOSIS),
    ForbiddenTerm("psychos", "anywhere", _DIAGNOSIS),
    ForbiddenTerm("psychotic", "anywhere", _DIAGNOSIS),
    ForbiddenTerm("obsessive", "anywhere", _DIAGNOSIS),
    ForbiddenTerm("compulsive", "anywhere", _DIAGNOSIS),
    ForbiddenTerm("schizo", "anywhere", _DIAGNOSIS),
    ForbiddenTerm("bipolar", "anywhere", _DIAGNOSIS),
    ForbiddenTerm("dissociat", "anywhere", _DIAGNOSIS + "; SPRAVATO side effect"),
    ForbiddenTerm("fibromyalg", "anywhere", _DIAGNOSIS),
    ForbiddenTerm("neuropath", "anywhere", _DIAGNOSIS),
    ForbiddenTerm("magnetic", "word_start", _MODALITY),
    ForbiddenTerm("infus", "word_start", _MODALITY),
    ForbiddenTerm("sedat", "word_start", _MODALITY),
    ForbiddenTerm("opioid", "word_start", _DRUG),
    ForbiddenTerm("addict", "word_start", _DIAGNOSIS),
    ForbiddenTerm("anxiet", "word_start", _DIAGNOSIS),
    ForbiddenTerm("migrain", "word_start", _DIAGNOSIS),
    ForbiddenTerm("pain", "word", _DIAGNOSIS + "; also 'pains', 'painful'"),
    ForbiddenTerm("tms", "word", _MODALITY),
    ForbiddenTerm("rtms", "word", _MODALITY),
    ForbiddenTerm("dtms", "word", _MODALITY),
    ForbiddenTerm("itbs", "word", _MODALITY),
    ForbiddenTerm("ect", "word", _MODALITY),
    ForbiddenTerm("eeg", "word", _MODALITY),
    ForbiddenTerm("qeeg", "word", _MODALITY),
    ForbiddenTerm("rems", "word", _DRUG + "; SPRAVATO REMS"),
    ForbiddenTerm("nasal", "word", _DRUG + "; nasal spray"),
    ForbiddenTerm("ciii", "word", _DRUG + "; schedule III"),
    ForbiddenTerm("mdd", "word", _DIAGNOSIS),
    ForbiddenTerm("trd", "word", _DIAGNOSIS),
    ForbiddenTerm("ocd", "word", _DIAGNOSIS),
    ForbiddenTerm("ptsd", "word", _DIAGNOSIS),
    ForbiddenTerm("crps", "word", _DIAGNOSIS),
    ForbiddenTerm("phq", "word", "outcome questionnaire implies diagnosis"),
)

_WORD_FORMS = {"pain": "pain(?:s|ful)?"}


def _compile(t: ForbiddenTerm) -> re.Pattern[str]:
    body = _WORD_FORMS.get(t.term, re.escape(t.term))
    if t.match == "anywhere":
        return re.compile(body)
    if t.match == "word_start":
        return re.compile(rf"(?<![a-z0-9]){body}")
    return re.compile(rf"(?<![a-z0-9]){body}(?![a-z0-9])")


_TERM_PATTERNS = [(t.term, _compile(t)) for t in FORBIDDEN_TERMS]
_CAMEL_BOUNDARIES = re.compile(
    r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])|(?<=[A-Za-z])(?=\d)|(?<=\d)(?=[A-Za-z])"
)


# One pass over the text answers the common question "is anything there?"; only a text that
# holds a term is searched term by term (so the answer is still the first entry of the list).
_ANY_TERM = re.compile("|".join(f"(?:{p.pattern})" for _, p in _TERM_PATTERNS))
_SEPARATORS = re.compile(r"[\s_\-]+")


def _normalise_for_matching(text: str) -> str:
    if not text.isascii():  # ASCII has nothing to decompose
        decomposed = unicodedata.normalize("NFKD", text)
        text = "".join(c for c in decomposed if not unicodedata.combining(c))
    spaced = _CAMEL_BOUNDARIES.sub(" ", text).lower()
    return _SEPARATORS.sub(" ", spaced)


@lru_cache(maxsize=4096)  # clinic names, places and preparation texts repeat on every message
def contains_forbidden_term(text: str) -> str | None:
    """The first ``FORBIDDEN_TERMS`` entry found in ``text`` (case/accents ignored), or None."""
    normalised = _normalise_for_matching(text)
    if _ANY_TERM.search(normalised) is None:
        return None
    for term, pattern in _TERM_PATTERNS:
        if pattern.search(normalised):
            return term
    return None  # pragma: no cover - the combined pattern matched one of these


class ForbiddenTermError(ValueError):
    """Rendering refused: text would disclose treatment or diagnosis (DESIGN.md §4 promise 5)."""

    def __init__(self, term: str, field_name: str) -> None:
        super().__init__(f"{field_name} contains a term not allowed in patient messages: {term!r}")
        self.term = term
        self.field_name = field_name


def _ensure_safe(field_name: str, text: str) -> None:
    term = contains_forbidden_term(text)
    if term is not None:
        raise ForbiddenTermError(term, field_name)


# --------------------------------------------------------------------------------------------
# Rendering

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# Keep texts in the GSM-7 alphabet where easy (one 160-char segment; UCS-2 would be 70).
_GSM_FRIENDLY = str.maketrans(
    {
        "½": " 1/2",
        "¼": " 1/4",
        "’": "'",
        "‘": "'",
        "“": '"',
        "”": '"',
        "–": "-",
        "—": "-",
        "…": "...",
    }
)
_PHONE = re.compile(r"^[0-9+()\-. ]{3,20}$")


def _clean(text: str | None) -> str:
    cleaned = (text or "").translate(_GSM_FRIENDLY)
    return re.sub(r"\s+", " ", cleaned).strip()


def _clock(dt: datetime, *, compact: bool = False) -> str:
    hour = dt.hour % 12 or 12
    suffix = "AM" if dt.hour < 12 else "PM"
    if compact:
        return f"{hour}{suffix}" if dt.minute == 0 else f"{hour}:{dt.minute:02d}{suffix}"
    return f"{hour}:{dt.minute:02d} {suffix}"


def format_local_start(local_start: datetime) -> str:
    """'Tue Nov 24 10:00 AM' — locale-independent, wall time of the datetime as given."""
    d = local_start
    return f"{_DAYS[d.weekday()]} {_MONTHS[d.month - 1]} {d.day} {_clock(d)}"


def _shorten(text: str, max_len: int) -> str:
    """Cut at a word boundary and add '...'; '' if too little room or the cut reads as unsafe."""
    if len(text) <= max_len:
        return text
    if max_len < 8:
        return ""
    cut = text[: max_len - 3]
    if " " in cut.strip():
        cut = cut.rsplit(" ", 1)[0]
    cut = cut.rstrip(" ,.;:-/")
    shortened = f"{cut}..."
    return shortened if cut and contains_forbidden_term(shortened) is None else ""


def _validate_common(clinic_name: str, clinic_phone: str, place: str, preparation: str) -> None:
    _ensure_safe("clinic_name", clinic_name)
    _ensure_safe("room_or_address", place)
    _ensure_safe("preparation", preparation)
    if not clinic_name:
        raise ValueError("clinic_name is required (FCC 15-72: state the provider's name)")
    if not _PHONE.match(clinic_phone):
        raise ValueError("clinic_phone must be a callback number (FCC 15-72: contact info)")


def _fit_sms(build: Callable[[str, str, str], str], clinic: str, place: str, prep: str) -> str:
    """Shorten preparation, then place, then clinic name until the text is ≤160 characters."""
    text = build(clinic, place, prep)
    if len(text) > SMS_MAX_CHARS:
        prep = _shorten(prep, len(prep) - (len(text) - SMS_MAX_CHARS))
        text = build(clinic, place, prep)
    if len(text) > SMS_MAX_CHARS:
        prep = ""
        text = build(clinic, place, prep)
    if len(text) > SMS_MAX_CHARS:
        place = _shorten(place, len(place) - (len(text) - SMS_MAX_CHARS))
        text = build(clinic, place, prep)
    if len(text) > SMS_MAX_CHARS:
        place = ""
        text = build(clinic, place, prep)
    if len(text) > SMS_MAX_CHARS:
        clinic = _shorten(clinic, len(clinic) - (len(text) - SMS_MAX_CHARS))
        if not clinic:
            raise ValueError("SMS cannot fit 160 characters with the clinic name and callback")
        text = build(clinic, place, prep)
    _ensure_safe("sms", text)
    assert len(text) <= SMS_MAX_CHARS
    return text


def _sentence(text: str) -> str:
    return text if not text or text[-1] in ".!?" else f"{text}."


def render_sms(
    *,
    kind: ReminderKind | str,
    clinic_name: str,
    local_start: datetime,
    clinic_phone: str,
    room_or_address: str,
    preparation: str,
) -> str:
    """Per-session SMS: clinic, local date/time, place, preparation, callback, STOP.

    FCC 15-72 (DOMAIN.md §7.3): provider name + contact number, ≤160 chars, opt-out told every
    time. HIPAA (DOMAIN.md §7.2) / DESIGN.md §4 promise 5: no drug, diagnosis or treatment name —
    inputs and output are checked and ``ForbiddenTermError`` is raised rather than sent.
    """
    kind = ReminderKind(kind)
    clinic, place, prep, phone = map(
        _clean, (clinic_name, room_or_address, preparation, clinic_phone)
    )
    _validate_common(clinic, phone, place, prep)
    when = format_local_start(local_start)
    lead = {
        ReminderKind.REMINDER: "appointment",
        ReminderKind.SAME_DAY: "appointment today,",
        ReminderKind.CHANGE_NOTICE: "appointment moved to",
    }.get(kind)
    if lead is None:
        raise ValueError("use render_digest_sms for weekly digests")

    def build(c: str, p: str, pr: str) -> str:
        at = f" at {p}" if p else ""
        extra = f" {_sentence(pr)}" if pr else ""
        return f"{c}: {lead} {when}{at}.{extra} Call {phone}. {_STOP_LINE}"

    return _fit_sms(build, clinic, place, prep)


def render_change_notice_sms(
    *,
    clinic_name: str,
    local_start: datetime,
    clinic_phone: str,
    room_or_address: str,
    cancelled: bool = False,
) -> str:
    """A moved or cancelled appointment. Counts against the FCC 15-72 budget like any SMS."""
    if not cancelled:
        return render_sms(
            kind=ReminderKind.CHANGE_NOTICE,
            clinic_name=clinic_name,
            local_start=local_start,
            clinic_phone=clinic_phone,
            room_or_address=room_or_address,
            preparation="",
        )
    clinic, place, phone = map(_clean, (clinic_name, room_or_address, clinic_phone))
    _validate_common(clinic, phone, place, "")
    when = format_local_start(local_start)

    def build(c: str, p: str, _pr: str) -> str:
        at = f" at {p}" if p else ""
        return f"{c}: your appointment {when}{at} is cancelled. Call {phone}. {_STOP_LINE}"

    return _fit_sms(build, clinic, place, "")


def _digest_schedules(local_starts: Sequence[datetime]) -> list[str]:
    """Schedule phrasings from most to least detailed."""
    starts = sorted(local_starts)
    first = starts[0]
    by_day: dict[date, list[str]] = {}
    for s in starts:
        by_day.setdefault(s.date(), []).append(_clock(s, compact=True))
    days = list(by_day)
    head = f"{_DAYS[first.weekday()]} {_MONTHS[first.month - 1]} {first.day}"
    detailed = ", ".join(
        f"{head if i == 0 else _DAYS[d.weekday()]} {'+'.join(times)}"
        for i, (d, times) in enumerate(by_day.items())
    )
    options = [detailed]
    if len({tuple(t) for t in by_day.values()}) == 1 and len(days) > 1:
        span = f"{head}-{_DAYS[days[-1].weekday()]}"
        options.append(f"{span} {'+'.join(by_day[days[0]])}")
    options.append(f"{len(starts)} visits from {head} {_clock(first, compact=True)}")
    return options


def render_digest_sms(
    *,
    clinic_name: str,
    local_starts: Sequence[datetime],
    clinic_phone: str,
    room_or_address: str,
) -> str:
    """The weekly schedule for a course too dense for per-session texts (DESIGN.md §4 promise 5;
    FCC 15-72 1/day 3/week). Schedule detail degrades before the clinic or callback is cut."""
    if not local_starts:
        raise ValueError("a digest needs at least one session")
    clinic, place, phone = map(_clean, (clinic_name, room_or_address, clinic_phone))
    _validate_common(clinic, phone, place, "")
    options = _digest_schedules(local_starts)
    for i, schedule in enumerate(options):

        def build(c: str, p: str, _pr: str, schedule: str = schedule) -> str:
            at = f" at {p}" if p else ""
            return f"{c}: your appointments this week: {schedule}{at}. Call {phone}. {_STOP_LINE}"

        if i == len(options) - 1 or len(build(clinic, "", "")) <= SMS_MAX_CHARS:
            return _fit_sms(build, clinic, place, "")
    raise AssertionError("unreachable")  # pragma: no cover


def render_email(
    *,
    kind: ReminderKind | str,
    clinic_name: str,
    local_start: datetime,
    clinic_phone: str,
    room_or_address: str,
    preparation: str,
) -> tuple[str, str]:
    """(subject, body). Subject is only "Appointment reminder from <clinic>" ("update" for a change
    notice): OCR FAQ 570 / HHS FAQ 198 (DOMAIN.md §7.2) — limit PHI in unencrypted messages."""
    kind = ReminderKind(kind)
    clinic, place, prep, phone = map(
        _clean, (clinic_name, room_or_address, preparation, clinic_phone)
    )
    _validate_common(clinic, phone, place, prep)
    word = "update" if kind is ReminderKind.CHANGE_NOTICE else "reminder"
    subject = f"Appointment {word} from {clinic}"
    intro = {
        ReminderKind.CHANGE_NOTICE: "Your appointment has moved. The new time is:",
        ReminderKind.SAME_DAY: "This is a reminder of your appointment today:",
    }.get(kind, "This is a reminder of your upcoming appointment:")
    lines = [
        "Hello,",
        "",
        f"{intro}",
        "",
        f"When: {format_local_start(local_start)}",
        *([f"Where: {place}"] if place else []),
        *([f"Before you come: {_sentence(prep)}"] if prep else []),
        "",
        f"Questions, or need to reschedule? Call {clinic} at {phone}.",
        f"To change how we contact you, call {phone}.",
        "",
        clinic,
    ]
    body = "\n".join(lines)
    _ensure_safe("email subject", subject)
    _ensure_safe("email body", body)
    return subject, body


# --------------------------------------------------------------------------------------------
# Inbound keywords (CTIA handbook; FCC 24-24 revocation words, DOMAIN.md §7.3)

_STOP_WORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
)
_START_WORDS = frozenset({"START", "UNSTOP", "YES"})
_HELP_WORDS = frozenset({"HELP", "INFO"})

STOP_CONFIRMATION = (
    "You are unsubscribed and will get no more reminder texts. "
    "To book or change a visit, call your clinic. Reply START to resubscribe."
)
START_CONFIRMATION = (
    "You are subscribed to appointment reminder texts again. "
    "Reply HELP for help or STOP to opt out."
)
HELP_TEXT_TEMPLATE = (
    "{clinic_name} appointment reminders. For help call {clinic_phone}. Reply STOP to opt out."
)


def parse_inbound_keyword(body: str) -> Literal["stop", "start", "help"] | None:
    """Classify an inbound SMS.

    A message that is only a keyword (any case, spacing, punctuation) maps per CTIA: STOP,
    STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT (+ REVOKE, OPT OUT) → stop; START, UNSTOP, YES → start;
    HELP, INFO → help. FCC 24-24 makes "stop, quit, end, revoke, opt out, cancel, unsubscribe" a
    revocation by any reasonable means, so a longer message containing one of them as a word is
    also 'stop' (erring towards honouring the opt-out; the caller should still show the message to
    staff — "cancel my visit" may also be an appointment request). START/HELP only standalone.
    """
    text = unicodedata.normalize("NFKC", body or "").upper()
    words = re.sub(r"[^A-Z]+", " ", text).split()
    if not words:
        return None
    joined = " ".join(words)
    if joined in _STOP_WORDS or joined == "OPT OUT" or joined == "OPT OUT ALL":
        return "stop"
    if joined in _START_WORDS:
        return "start"
    if joined in _HELP_WORDS:
        return "help"
    if any(w in _STOP_WORDS for w in words) or " OPT OUT " in f" {joined} ":
        return "stop"
    return None


def render_help_text(*, clinic_name: str, clinic_phone: str) -> str:
    """HELP reply: provider name and contact (FCC 15-72); clinic name shortened if needed."""
    clinic, phone = _clean(clinic_name), _clean(clinic_phone)
    _validate_common(clinic, phone, "", "")

    def build(c: str, _p: str, _pr: str) -> str:
        return HELP_TEXT_TEMPLATE.format(clinic_name=c, clinic_phone=phone)

    return _fit_sms(build, clinic, "", "")


# --------------------------------------------------------------------------------------------
# Provider webhooks


def _signed_payload(body: bytes, timestamp: str) -> bytes:
    return timestamp.encode("ascii") + b"." + body


def sign_webhook(secret: bytes, body: bytes, timestamp: str) -> str:
    """Hex HMAC-SHA256 over ``f"{timestamp}." + body`` (timestamp: Unix seconds as text)."""
    return hmac.new(secret, _signed_payload(body, timestamp), hashlib.sha256).hexdigest()


def verify_webhook_signature(
    secret: bytes,
    body: bytes,
    timestamp: str,
    signature: str,
    *,
    now: datetime,
    tolerance_s: int = 300,
) -> bool:
    """Constant-time check of ``signature`` (optionally prefixed 'sha256='), rejecting timestamps
    more than ``tolerance_s`` away from ``now`` (replay protection)."""
    _require_aware(now, "now")
    if not secret or not timestamp.isascii() or not timestamp.isdigit():
        return False
    if abs(now.timestamp() - int(timestamp)) > tolerance_s:
        return False
    given = signature.strip().lower().removeprefix("sha256=")
    expected = sign_webhook(secret, body, timestamp)
    return hmac.compare_digest(expected.encode("ascii"), given.encode("ascii", "replace"))


__all__ = [
    "FORBIDDEN_TERMS",
    "HELP_TEXT_TEMPLATE",
    "SMS_MAX_CHARS",
    "START_CONFIRMATION",
    "STOP_CONFIRMATION",
    "ForbiddenTerm",
    "ForbiddenTermError",
    "PatientInfo",
    "PlannedReminder",
    "ReminderKind",
    "ReminderPolicy",
    "SessionInfo",
    "SkipReason",
    "check_sms_budget",
    "contains_forbidden_term",
    "due_time",
    "format_local_start",
    "in_quiet_hours",
    "nominal_due_time",
    "parse_inbound_keyword",
    "plan_reminders",
    "render_change_notice_sms",
    "render_digest_sms",
    "render_email",
    "render_help_text",
    "render_sms",
    "sign_webhook",
    "verify_webhook_signature",
]

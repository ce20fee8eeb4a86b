"""Reads for the dashboard pages, composed from the domain selectors (DESIGN.md §2: interfaces
only translate). Each page's data is fetched in a fixed number of queries whatever the number of
sessions, measures or reminders (STYLE.md habit 12) — the page tests assert it.

Everything is scoped through ``plans.access`` first: a plan the user may not see is a 404 before
any other row is read.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from backend.accounts.models import User
from backend.audit.models import AuditEvent
from dashboard.charts import (
    ChartData,
    CourseMark,
    Point,
    StripItem,
    render_outcome_chart,
    render_timeline_strip,
)
from dashboard.labels import modality_label
from modalities.vocab import Instrument, RequirementStatus
from plans import access, flag_order
from plans import selectors as plans_selectors
from plans.flag_codes import SAFETY_CODES, FlagCode
from plans.models import CarePlan, CareTeamMember, Flag, FlagStatus, Measure, RecordStatus
from scheduling import selectors as scheduling_selectors
from scheduling.models import Clinic, Reminder, ReminderStatus, Session, SessionStatus

RECENT_AUDIT_EVENTS = 15
RECENT_REMINDERS = 30

# Missed = the patient did not come or the visit was called off; entered-in-error is not shown.
MISSED_STATUSES = (SessionStatus.NOSHOW, SessionStatus.CANCELLED)


def flag_sort_key(flag: Flag) -> tuple:
    """The same order as ``open_flags_ordered``, for flags already loaded."""
    return flag_order.flag_priority_key(flag)


def open_flags_ordered(qs):
    """Safety-critical flags first, then most severe, soonest due (none last), oldest
    (``plans.flag_order.order_flags_by_priority``, the API's order too)."""
    return flag_order.order_flags_by_priority(qs)


# ---------------------------------------------------------------------------------------------
# Time
# ---------------------------------------------------------------------------------------------


def dashboard_zone(user: User) -> ZoneInfo:
    """The zone 'today' and 'this week' are counted in: the user's organisation's first clinic
    (a clinic's local calendar, promise 9); UTC for a platform admin without one."""
    if user.organization_id:
        tz = (
            Clinic.objects.filter(organization_id=user.organization_id)
            .order_by("name", "id")
            .values_list("timezone", flat=True)
            .first()
        )
        if tz:
            return ZoneInfo(tz)
    return ZoneInfo("UTC")


@dataclass(frozen=True)
class Window:
    today_start: dt.datetime
    tomorrow_start: dt.datetime
    week_start: dt.datetime
    week_end: dt.datetime


def local_window(now: dt.datetime, tz: ZoneInfo) -> Window:
    """Today and this week (Monday–Sunday) as UTC instants bounding local midnights."""
    local_today = now.astimezone(tz).date()
    monday = local_today - dt.timedelta(days=local_today.weekday())

    def midnight(day: dt.date) -> dt.datetime:
        # In UTC: Python subtracts and compares datetimes sharing one tzinfo as wall-clock times,
        # which would make a week across a DST change look like 168 hours.
        return dt.datetime.combine(day, dt.time.min, tzinfo=tz).astimezone(dt.UTC)

    return Window(
        today_start=midnight(local_today),
        tomorrow_start=midnight(local_today + dt.timedelta(days=1)),
        week_start=midnight(monday),
        week_end=midnight(monday + dt.timedelta(days=7)),
    )


# ---------------------------------------------------------------------------------------------
# Worklist
# ---------------------------------------------------------------------------------------------


@dataclass
class Worklist:
    zone: ZoneInfo
    window: Window
    today: list[Session]
    later_this_week: list[Session]
    flags: list[Flag]
    plans: list[CarePlan]

    @property
    def safety_flags(self) -> list[Flag]:
        """Safety-critical flags (suicide risk) — the banner at the top of the worklist."""
        return [f for f in self.flags if f.code in SAFETY_CODES]


def get_worklist(*, user: User, now: dt.datetime) -> Worklist:
    zone = dashboard_zone(user)
    window = local_window(now, zone)
    week = list(
        scheduling_selectors.list_sessions_for_clinician(
            user=user, start=window.week_start, end=window.week_end, include_inactive=True
        ).exclude(status=SessionStatus.ENTERED_IN_ERROR)
    )
    flags = open_flags_ordered(
        access.visible_flags(user)
        .filter(status=FlagStatus.OPEN)
        .select_related("patient", "component__protocol", "session")
    )
    plans = (
        access.visible_plans(user)
        .select_related("patient", "clinic")
        .order_by("patient__family_name", "patient__given_name", "-created_at", "id")
    )
    return Worklist(
        zone=zone,
        window=window,
        today=[s for s in week if window.today_start <= s.starts_at < window.tomorrow_start],
        later_this_week=[s for s in week if s.starts_at >= window.tomorrow_start],
        flags=list(flags),
        plans=list(plans),
    )


# ---------------------------------------------------------------------------------------------
# Plan page
# ---------------------------------------------------------------------------------------------


@dataclass
class ChecklistItem:
    component_id: Any
    component_label: str
    key: str
    code: str
    status: str
    severity: str
    reason: str
    detail: str
    applies_because: str
    source: str
    expires_on: dt.date | None
    flag: Flag | None = None  # the open flag raised for this gap, shown on this row only

    @property
    def label(self) -> str:
        return self.code.replace("_", " ")


@dataclass
class ChecklistGroup:
    component: Any
    ready: bool
    rows: list[ChecklistItem]

    @property
    def outstanding(self) -> int:
        return sum(1 for r in self.rows if r.status != RequirementStatus.SATISFIED)


@dataclass
class TimelineEntry:
    session: Session
    state: str  # "past" | "upcoming" | "missed" | "today"
    modality: str


@dataclass
class PlanPage:
    plan: CarePlan
    zone: ZoneInfo
    age: int
    care_team: list[CareTeamMember]
    components: list[Any]
    checklist: list[ChecklistItem]
    checklist_groups: list[ChecklistGroup]
    missing_count: int
    ready_to_start: bool
    combination_warnings: list[Any]
    flags: list[Flag]  # open flags not already shown as a checklist row (one gap shown once)
    timeline: list[TimelineEntry]
    chart: ChartData
    reminders: list[Reminder]
    audit_events: list[AuditEvent]
    modality_counts: dict[str, dict[str, int]] = field(default_factory=dict)
    timeline_svg: str = ""
    safety_flags: list[Flag] = field(default_factory=list)  # the banner at the top of the page
    gaps_in_checklist: int = 0  # open readiness flags shown on their checklist row


def _age(birth: dt.date, today: dt.date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def component_label(component: Any) -> str:
    return f"{component.protocol.title}"


def checklist_from_readiness(readiness: Any, components: list[Any]) -> list[ChecklistItem]:
    """Flatten the pure readiness result into rows, dropping requirements that do not apply."""
    labels = {c.pk: component_label(c) for c in components}
    order: dict[str, int] = {
        RequirementStatus.MISSING.value: 0,
        RequirementStatus.EXPIRED.value: 1,
        RequirementStatus.SATISFIED.value: 2,
    }
    rows: list[ChecklistItem] = []
    for comp in readiness.components:
        for item in comp.items:
            if item.status == RequirementStatus.NOT_APPLICABLE:
                continue
            rows.append(
                ChecklistItem(
                    component_id=comp.component_id,
                    component_label=labels.get(comp.component_id, str(comp.component_id)),
                    key=item.key,
                    code=str(item.code),
                    status=str(item.status),
                    severity=str(item.severity),
                    reason=item.reason,
                    detail=item.detail,
                    applies_because=item.applies_because,
                    source=item.source,
                    expires_on=item.expires_on,
                )
            )
    position = {c.pk: n for n, c in enumerate(components)}
    rows.sort(key=lambda r: (position.get(r.component_id, len(position)), order[r.status], r.key))
    return rows


_GAP_CODES = {
    str(FlagCode.REQUIREMENT_MISSING),
    str(FlagCode.REQUIREMENT_EXPIRED),
    str(FlagCode.REQUIREMENT_EXPIRING),
}


def _attach_gap_flags(flags: list[Flag], checklist: list[ChecklistItem]) -> tuple[list[Flag], int]:
    """One gap shown once: a readiness flag whose gap is a checklist row is shown on that row
    (its severity badge), not a second time in the flag list. Returns (the other flags, how
    many were attached)."""
    rows = {f"{r.component_id}:{r.key}": r for r in checklist}
    rest: list[Flag] = []
    attached = 0
    for flag in flags:
        row = rows.get(flag.requirement_key) if flag.code in _GAP_CODES else None
        if row is None:
            rest.append(flag)
            continue
        if row.flag is None or flag_sort_key(flag) < flag_sort_key(row.flag):
            row.flag = flag
        attached += 1
    return rest, attached


def _groups(readiness: Any, components: list[Any], checklist: list[ChecklistItem]):
    ready = {c.component_id: c.ready_to_start for c in readiness.components}
    return [
        ChecklistGroup(
            component=c,
            ready=ready.get(c.pk, True),
            rows=[r for r in checklist if r.component_id == c.pk],
        )
        for c in components
    ]


def _timeline(sessions: list[Session], now: dt.datetime, zone: ZoneInfo) -> list[TimelineEntry]:
    today = now.astimezone(zone).date()
    out = []
    for s in sessions:
        if s.status in MISSED_STATUSES:
            state = "missed"
        elif s.starts_at.astimezone(zone).date() == today:
            state = "today"
        elif s.starts_at > now:
            state = "upcoming"
        else:
            state = "past"
        out.append(TimelineEntry(session=s, state=state, modality=s.component.protocol.modality))
    return out


def _chart(plan: CarePlan, measures: list[Measure], sessions: list[Session], zone, components):
    series: dict[Instrument, list[Point]] = {}
    for m in measures:
        try:
            instrument = Instrument(m.instrument)
        except ValueError:
            continue
        series.setdefault(instrument, []).append(
            Point(at=m.taken_at, total=float(m.total), is_baseline=m.is_baseline)
        )
    by_component: dict[Any, list[Session]] = {}
    for s in sessions:
        if s.status not in MISSED_STATUSES:
            by_component.setdefault(s.component_id, []).append(s)
    courses = []
    for c in components:
        own = by_component.get(c.pk, [])
        if own:
            courses.append(
                CourseMark(
                    label=modality_label(c.protocol.modality),
                    starts_at=own[0].starts_at,
                    ends_at=own[-1].ends_at,
                )
            )
    return render_outcome_chart(
        series, courses, tz=zone, title=f"Outcome measures for {plan.patient.given_name}"
    )


def get_plan_page(*, user: User, plan_id: Any, now: dt.datetime) -> PlanPage:
    """Everything the plan page shows. Raises ``NotFoundError`` for a plan the user may not see."""
    plan = access.access_plan(user=user, plan_id=plan_id)
    zone = ZoneInfo(plan.clinic.timezone)
    today = now.astimezone(zone).date()
    # The clinician's page lists every open flag (sorted below), not the API's first page.
    detail = plans_selectors.get_plan_detail(plan=plan, today=today, open_flag_limit=None)
    components = sorted(detail.components, key=lambda c: (c.position, c.pk))
    readiness = detail.readiness
    care_team = list(
        CareTeamMember.objects.filter(patient_id=plan.patient_id)
        .select_related("user")
        .order_by("id")
    )
    flags = sorted(detail.open_flags, key=flag_sort_key)
    sessions = [
        s
        for s in scheduling_selectors.list_sessions_for_plan(plan=plan)
        if s.status != SessionStatus.ENTERED_IN_ERROR
    ]
    measures = list(
        Measure.objects.filter(patient_id=plan.patient_id, status=RecordStatus.FINAL)
        .filter(
            instrument__in=[
                i.value for i in (Instrument.PHQ9, Instrument.GAD7, Instrument.PAIN_NRS)
            ]
        )
        .order_by("taken_at", "id")
    )
    reminders = list(
        Reminder.objects.filter(patient_id=plan.patient_id)
        .exclude(status__in=[ReminderStatus.PENDING])
        .select_related("session")
        .order_by("-due_at", "-id")[:RECENT_REMINDERS]
    )
    audit_events = list(
        AuditEvent.objects.filter(patient_id=plan.patient_id)
        .select_related("actor")
        .order_by("-at", "-id")[:RECENT_AUDIT_EVENTS]
    )
    checklist = checklist_from_readiness(readiness, components)
    flags, in_checklist = _attach_gap_flags(flags, checklist)
    timeline = _timeline(sessions, now, zone)
    counts: dict[str, dict[str, int]] = {}
    for entry in timeline:
        bucket = counts.setdefault(
            entry.modality, {"past": 0, "today": 0, "upcoming": 0, "missed": 0}
        )
        bucket[entry.state] += 1
    return PlanPage(
        plan=plan,
        zone=zone,
        age=_age(plan.patient.birth_date, today),
        care_team=care_team,
        components=components,
        checklist=checklist,
        checklist_groups=_groups(readiness, components, checklist),
        missing_count=sum(1 for r in checklist if r.status != RequirementStatus.SATISFIED),
        ready_to_start=readiness.ready_to_start,
        combination_warnings=list(readiness.warnings),
        flags=flags,
        safety_flags=[f for f in flags if f.code in SAFETY_CODES],
        gaps_in_checklist=in_checklist,
        timeline=timeline,
        chart=_chart(plan, measures, sessions, zone, components),
        reminders=reminders,
        audit_events=audit_events,
        modality_counts=counts,
        timeline_svg=render_timeline_strip(
            [
                StripItem(
                    lane=modality_label(e.modality),
                    starts_at=e.session.starts_at,
                    state=e.state,
                    label=_session_label(e.session),
                )
                for e in timeline
            ],
            now=now,
            tz=zone,
        ),
    )


def _session_label(session: Session) -> str:
    kind = session.get_kind_display().capitalize()
    return f"{kind} #{session.sequence}" if session.sequence else kind

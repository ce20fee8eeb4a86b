"""The flag scanner: raise, escalate and auto-resolve time-based flags in one set-based pass.

Issue 5 / DESIGN.md §4 promise 3 (one open flag per gap). Runs from beat every 10 minutes and on
commit of a plan, evaluation, measure or session change (``plans.tasks.request_recheck``).

Set-based: a fixed number of queries whatever the number of plans — aggregate queries over the
sessions, evaluations and measures of every plan in scope, the readiness rules evaluated in
Python over bulk-loaded facts, then at most a handful of bulk writes (``INSERT … ON CONFLICT DO
NOTHING`` against the partial unique index ``one_open_flag_per_gap``, grouped ``UPDATE``s). Two
scans running at once, or one running twice, therefore open no duplicate flag.

Codes owned here (plans/flag_codes.py): REMS_MONITORING_FORM_OVERDUE, INDUCTION_REVIEW_DUE,
WEEKLY_PHQ9_OVERDUE, PRIOR_AUTH_EXPIRING, SESSIONS_BEYOND_AUTHORIZATION, FOLLOW_UP_OVERDUE,
NO_SHOW_STREAK, REQUIREMENT_EXPIRING (a satisfied step whose validity ends before a booked
session it must cover: warned ahead, resolved when renewed). REQUIREMENT_MISSING/EXPIRED
belong to the readiness sync: the scanner only opens
one the sync has not (a booked session is near) and escalates to critical within 72 h; it never
lowers a severity and never resolves a readiness flag.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import asdict, dataclass, field, replace
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import (
    CharField,
    Count,
    DateTimeField,
    Exists,
    F,
    Max,
    Min,
    OuterRef,
    Q,
    Subquery,
    Value,
    Window,
)
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Coalesce, RowNumber
from django.utils import timezone

from modalities.vocab import (
    EvaluationKind,
    Instrument,
    LabelStatus,
    PayerType,
    RequirementStatus,
)
from plans.flag_codes import SEVERITY_ORDER, FlagCode
from plans.models import (
    CarePlan,
    Evaluation,
    Flag,
    FlagStatus,
    Measure,
    PlanComponent,
    PlanStatus,
    RecordStatus,
)
from plans.rules.readiness import GATED_TIMINGS

SCANNER_CODES = (
    FlagCode.REMS_MONITORING_FORM_OVERDUE,
    FlagCode.INDUCTION_REVIEW_DUE,
    FlagCode.WEEKLY_PHQ9_OVERDUE,
    FlagCode.PRIOR_AUTH_EXPIRING,
    FlagCode.SESSIONS_BEYOND_AUTHORIZATION,
    FlagCode.PRIOR_AUTH_UNITS_LOW,
    FlagCode.FOLLOW_UP_OVERDUE,
    FlagCode.NO_SHOW_STREAK,
    FlagCode.REQUIREMENT_EXPIRING,
)
REQUIREMENT_CODES = (FlagCode.REQUIREMENT_MISSING, FlagCode.REQUIREMENT_EXPIRED)
SCANNED_PLAN_STATUSES = (PlanStatus.ACTIVE, PlanStatus.ON_HOLD)

# Rules and where they come from (DOMAIN.md). UNSOURCED ones are settings.
PMF_DAYS = 7  # §2.4 PMF within 7 days [REG-form]; the catalogue's timing_value is the rule
PMF_LOOKBACK_DAYS = 90
INDUCTION_DAYS = 28  # §2.3/§5.3: evaluate benefit at the end of the 4-week induction [LABEL]
INDUCTION_REVIEW_WINDOW_DAYS = 7  # a review from day 21 on counts as the end-of-induction review
PHQ9_INTERVAL_DAYS = 7  # §5.3 weekly PHQ-9 during a TMS course [WEAK]
PRIOR_AUTH_WARNING_DAYS = 14
CRITICAL_WITHIN = dt.timedelta(hours=72)
NO_SHOW_STREAK = 2
ACTIVE_TREATMENT_DAYS = 14  # a course counts as running if a session was fulfilled this recently

_SESSION_LIVE = ("booked", "arrived")
_SESSION_USES_AUTH = ("booked", "arrived", "fulfilled")
_TREATMENT_KINDS = ("mapping", "treatment")


def follow_up_cadence() -> dt.timedelta:
    """Psychiatric follow-up interval during active treatment. DOMAIN.md §5.3: exact intervals
    are UNSOURCED (common clinical practice) → a setting, default 30 days."""
    return dt.timedelta(days=getattr(settings, "FOLLOW_UP_CADENCE_DAYS", 30))


@dataclass
class ScanResult:
    plans: int = 0
    wanted: int = 0
    opened: int = 0
    escalated: int = 0
    resolved: int = 0
    by_code: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class _Gap:
    plan_id: int
    code: str
    key: str
    severity: str
    message: str
    component_id: int | None = None
    session_id: int | None = None
    due_at: dt.datetime | None = None
    detail: dict[str, Any] = field(default_factory=dict, hash=False)


def _max_severity(a: str, b: str) -> str:
    return a if SEVERITY_ORDER[a] >= SEVERITY_ORDER[b] else b


# ---------------------------------------------------------------------------------------------
# Detection (each function: a constant number of queries)


def _components(plan_q: Q) -> list[Any]:
    return list(
        PlanComponent.objects.filter(plan_q)
        .exclude(status__in=("completed", "stopped"))
        .values(
            "id",
            "plan_id",
            "plan__patient_id",
            "protocol_id",
            "protocol__modality",
            "plan__clinic__timezone",
        )
    )


def _session_stats(session_q: Q, now: dt.datetime) -> dict[int, dict]:
    future_live = Q(status__in=_SESSION_LIVE, starts_at__gt=now)
    fulfilled = Q(status="fulfilled")
    rows = (
        _sessions(session_q)
        .values("component_id")
        .annotate(
            next_booked=Min("starts_at", filter=future_live),
            booked_future=Count("id", filter=future_live),
            fulfilled_count=Count("id", filter=fulfilled),
            first_fulfilled=Min("starts_at", filter=fulfilled),
            last_fulfilled=Max("starts_at", filter=fulfilled),
            authorised_use=Count(
                "id", filter=Q(status__in=_SESSION_USES_AUTH, kind__in=_TREATMENT_KINDS)
            ),
            last_follow_up=Max("starts_at", filter=fulfilled & Q(kind="follow_up")),
            next_follow_up=Min("starts_at", filter=future_live & Q(kind="follow_up")),
        )
    )
    return {r["component_id"]: r for r in rows}


def _sessions(session_q: Q):
    from scheduling.models import Session

    return Session.objects.filter(session_q)


def pmf_windows() -> dict[int, dt.timedelta]:
    """protocol id → how long after a session its PMF may wait, from the catalogue requirement
    (``rems_monitoring_form``, timing ``within_days_after_each_session``; one query)."""
    from modalities.models import RequirementSpec
    from modalities.services import _requirement_spec
    from plans.rules.readiness import post_session_window

    out = {}
    for row in RequirementSpec.objects.filter(code=EvaluationKind.REMS_MONITORING_FORM):
        window = post_session_window(_requirement_spec(row))
        if window is not None:
            out[row.protocol_id] = window
    return out


def _pmf_overdue(session_q: Q, now: dt.datetime, windows: dict[int, dt.timedelta]) -> list[dict]:
    """Fulfilled SPRAVATO sessions older than their protocol's PMF window (7 days, DOMAIN.md
    §2.4) with no Patient Monitoring Form: a PMF names the session (``data.session_id``) or
    falls between it and the next dose."""
    from scheduling.models import Session

    overdue = Q(pk__in=[])
    for protocol_id, window in windows.items():
        overdue |= Q(component__protocol_id=protocol_id, starts_at__lte=now - window)

    next_start = Subquery(
        Session.objects.filter(
            component_id=OuterRef("component_id"),
            status="fulfilled",
            starts_at__gt=OuterRef("starts_at"),
        )
        .order_by("starts_at")
        .values("starts_at")[:1]
    )
    pmf = Evaluation.objects.filter(
        patient_id=OuterRef("patient_id"),
        kind=EvaluationKind.REMS_MONITORING_FORM,
        status=RecordStatus.FINAL,
    )
    named = pmf.annotate(_sid=KT("data__session_id")).filter(
        _sid=Cast(OuterRef("pk"), output_field=CharField())
    )
    unnamed = pmf.filter(~Q(data__has_key="session_id")).filter(
        performed_at__gte=OuterRef("starts_at"), performed_at__lt=OuterRef("_next")
    )
    return list(
        _sessions(session_q)
        .filter(
            overdue,
            status="fulfilled",
            component__protocol__modality="spravato",
            starts_at__gte=now - dt.timedelta(days=PMF_LOOKBACK_DAYS),
        )
        .annotate(
            _next=Coalesce(
                next_start,
                Value(dt.datetime.max.replace(tzinfo=dt.UTC)),
                output_field=DateTimeField(),
            )
        )
        .exclude(Exists(named))
        .exclude(Exists(unnamed))
        .values("id", "component_id", "component__plan_id", "component__protocol_id", "starts_at")
    )


def _latest_by_patient(patient_ids) -> tuple[dict[int, Any], dict[int, Any]]:
    evals = {
        r["patient_id"]: r
        for r in Evaluation.objects.filter(patient_id__in=patient_ids, status=RecordStatus.FINAL)
        .values("patient_id")
        .annotate(
            last_psych=Max("performed_at", filter=Q(kind=EvaluationKind.PSYCHIATRIC_EVALUATION))
        )
    }
    measures = {
        r["patient_id"]: r
        for r in Measure.objects.filter(
            patient_id__in=patient_ids, status=RecordStatus.FINAL, instrument=Instrument.PHQ9
        )
        .values("patient_id")
        .annotate(last_phq9=Max("taken_at"))
    }
    return evals, measures


def _no_show_streaks(session_q: Q, now: dt.datetime) -> set[int]:
    """Plans whose last ``NO_SHOW_STREAK`` past sessions were all no-shows."""
    rows = (
        _sessions(session_q)
        .filter(starts_at__lte=now, status__in=("fulfilled", "arrived", "noshow"))
        .annotate(
            rn=Window(
                RowNumber(),
                partition_by=[F("component__plan_id")],
                order_by=[F("starts_at").desc(), F("id").desc()],
            )
        )
        .filter(rn__lte=NO_SHOW_STREAK)
        .values_list("component__plan_id", "status")
    )
    counts: dict[int, int] = defaultdict(int)
    for plan_id, status in rows:
        counts[plan_id] += status == "noshow"
    return {p for p, n in counts.items() if n >= NO_SHOW_STREAK}


def component_facts_prior_auth(component: PlanComponent):
    """The coverage fact exactly as ``plans.selectors.component_facts`` builds it."""
    from plans.selectors import prior_auth_fact

    return prior_auth_fact(component)


def expiry_warning_days() -> int:
    """How far ahead the scanner warns that a step's validity ends before a booked session it
    must cover (issue 15: at least 3 days ahead). UNSOURCED → a setting, default 7 days."""
    return int(getattr(settings, "REQUIREMENT_EXPIRY_WARNING_DAYS", 7))


def _booked_course_sessions(session_q: Q) -> dict[int, list[tuple]]:
    """(sequence, starts_at, status) of every active course session in scope, per component."""
    rows: dict[int, list[tuple]] = defaultdict(list)
    for component_id, sequence, starts_at, status in (
        _sessions(session_q)
        .filter(
            kind__in=_TREATMENT_KINDS,
            status__in=_SESSION_USES_AUTH,
            sequence__isnull=False,
        )
        .order_by("starts_at", "id")
        .values_list("component_id", "sequence", "starts_at", "status")
    ):
        rows[component_id].append((sequence, starts_at, status))
    return rows


def _requirement_gaps(
    components: list[dict],
    stats: dict[int, dict],
    now: dt.datetime,
    *,
    plan_q: Q,
    session_q: Q,
    patient_ids,
) -> list[_Gap]:
    """Requirement gaps of components with a booked session, judged at that session (issue 15):
    missing/expired steps → warning, critical within 72 h for blocking ones (issue 5); a
    satisfied blocking step whose validity ends before a booked session it must cover →
    ``requirement_expiring`` warning, ``expiry_warning_days()`` before that session. Readiness
    comes from the same pure rules the gate uses, over facts loaded in bulk."""
    from plans.rules.readiness import ClinicFacts, evaluate_component, forecast_expiries
    from plans.selectors import (
        component_facts,
        components_with_protocols,
        course_facts,
        evaluation_facts,
        measure_facts,
    )

    booked = {c["id"]: c for c in components if stats.get(c["id"], {}).get("next_booked")}
    if not booked:
        return []
    rows = [
        row
        for row in components_with_protocols(PlanComponent.objects.filter(plan_q)).select_related(
            "plan__clinic"
        )
        if row.pk in booked
    ]
    evals: dict[int, list] = defaultdict(list)
    for e in Evaluation.objects.filter(patient_id__in=patient_ids, status=RecordStatus.FINAL):
        evals[e.patient_id].append(e)
    measures: dict[int, list] = defaultdict(list)
    for m in Measure.objects.filter(patient_id__in=patient_ids, status=RecordStatus.FINAL):
        measures[m.patient_id].append(m)
    course_rows = _booked_course_sessions(session_q)
    lookahead = dt.timedelta(days=expiry_warning_days())
    gaps: list[_Gap] = []
    specs: dict[tuple[int, int], Any] = {}  # parsed protocol/indication specs, once per pair
    for row in rows:
        st = stats[row.pk]
        clinic = row.plan.clinic
        zone = ZoneInfo(clinic.timezone)
        pair = (row.protocol_id, row.indication_id)
        if pair not in specs:
            specs[pair] = component_facts(row)
        sessions = course_rows.get(row.pk, [])
        upcoming = [
            (seq, start) for seq, start, status in sessions if status == "booked" and start > now
        ]
        next_seq = upcoming[0][0] if upcoming else None
        facts = replace(
            specs[pair],
            component_id=row.pk,
            label_status=LabelStatus(row.label_status),
            payer_type=PayerType(row.payer_type),
            prior_auth=component_facts_prior_auth(row),
            course=course_facts(sessions, zone=zone, at_sequence=next_seq),
        )
        today = now.astimezone(zone).date()
        readiness = evaluate_component(
            component=facts,
            evaluations=evaluation_facts(evals[row.plan.patient_id]),
            measures=measure_facts(measures[row.plan.patient_id]),
            clinic=ClinicFacts(rems_certified_until=clinic.rems_certified_until),
            today=today,
        )
        near = st["next_booked"] - now <= CRITICAL_WITHIN
        for item in readiness.outstanding:
            if item.timing not in GATED_TIMINGS:
                continue
            code = (
                FlagCode.REQUIREMENT_EXPIRED
                if item.status == RequirementStatus.EXPIRED
                else FlagCode.REQUIREMENT_MISSING
            )
            blocking = str(item.severity) == "blocking"
            severity = "critical" if near and blocking else "warning"
            if near:  # never below the requirement's own severity (e.g. blocking)
                severity = _max_severity(severity, str(item.severity))
            gaps.append(
                _Gap(
                    plan_id=row.plan_id,
                    code=code,
                    key=f"{row.pk}:{item.key}",
                    severity=severity,
                    message=f"{item.key.replace('_', ' ')}: {item.detail or item.status}"
                    + (" — session within 72 h" if near else ""),
                    component_id=row.pk,
                    due_at=st["next_booked"],
                    detail={
                        "requirement": item.key,
                        "status": str(item.status),
                        "reason": item.reason,
                        "source": item.source,
                        "detail": item.detail,
                        "next_session_at": st["next_booked"].isoformat(),
                        "raised_by": "scanner",
                    },
                )
            )
        # prior authorisation on the component is PRIOR_AUTH_EXPIRING's (one gap, one flag)
        forecasts = [
            f
            for f in forecast_expiries(
                readiness,
                booked=[(seq, start.astimezone(zone).date()) for seq, start in upcoming],
                started=facts.course.started_on is not None,
            )
            if not str(readiness.item(f.key).satisfied_by or "").startswith("prior_auth:")
        ]
        starts = dict(upcoming)
        for f in forecasts:
            blocks_at = starts[f.blocks_sequence]
            if blocks_at - now > lookahead:
                continue
            gaps.append(
                _Gap(
                    plan_id=row.plan_id,
                    code=FlagCode.REQUIREMENT_EXPIRING,
                    key=f"{row.pk}:{f.key}",
                    severity="warning",
                    message=(
                        f"{f.key.replace('_', ' ')}: valid until {f.expires_on.isoformat()}, "
                        f"would block session {f.blocks_sequence} on {f.blocks_on.isoformat()}"
                    ),
                    component_id=row.pk,
                    due_at=dt.datetime.combine(
                        f.expires_on + dt.timedelta(days=1), dt.time.min, tzinfo=zone
                    ),
                    detail={
                        "requirement": f.key,
                        "expires_on": f.expires_on.isoformat(),
                        "blocks_sequence": f.blocks_sequence,
                        "blocks_at": blocks_at.isoformat(),
                        "reason": f.reason,
                        "source": f.source,
                        "raised_by": "scanner",
                    },
                )
            )
    return gaps


def detect_gaps(
    *, plan_q: Q, session_q: Q, patient_ids, now: dt.datetime
) -> tuple[set[int], list[_Gap]]:
    components = _components(plan_q)
    plan_ids = {c["plan_id"] for c in components}
    stats = _session_stats(session_q, now)
    evals, phq9 = _latest_by_patient(patient_ids)
    gaps: list[_Gap] = []

    by_plan: dict[int, list[dict]] = defaultdict(list)
    for c in components:
        by_plan[c["plan_id"]].append(c)
        st = stats.get(c["id"])
        if st is None:
            continue
        cid, pid, modality = c["id"], c["plan_id"], c["protocol__modality"]
        # SPRAVATO end-of-induction efficacy review (DOMAIN.md §2.3, §5.3 [LABEL]).
        if modality == "spravato" and st["first_fulfilled"]:
            due = st["first_fulfilled"] + dt.timedelta(days=INDUCTION_DAYS)
            window = due - dt.timedelta(days=INDUCTION_REVIEW_WINDOW_DAYS)
            last_psych = evals.get(c["plan__patient_id"], {}).get("last_psych")
            reviewed = any(t and t >= window for t in (last_psych, st["last_follow_up"]))
            if now >= due and not reviewed:
                gaps.append(
                    _Gap(pid, FlagCode.INDUCTION_REVIEW_DUE, str(cid), "warning",
                         "End-of-induction efficacy review is due (week 4).",
                         component_id=cid, due_at=due,
                         detail={"source": "DOMAIN.md §2.3, §5.3 [LABEL]"})
                )  # fmt: skip
        # Weekly PHQ-9 during an active TMS course (DOMAIN.md §5.3 [WEAK]).
        if (
            modality == "tms"
            and st["first_fulfilled"]
            and st["last_fulfilled"] >= now - dt.timedelta(days=PHQ9_INTERVAL_DAYS)
            and st["first_fulfilled"] <= now - dt.timedelta(days=PHQ9_INTERVAL_DAYS)
        ):
            last = phq9.get(c["plan__patient_id"], {}).get("last_phq9")
            if last is None or last < now - dt.timedelta(days=PHQ9_INTERVAL_DAYS):
                gaps.append(
                    _Gap(pid, FlagCode.WEEKLY_PHQ9_OVERDUE, str(cid), "warning",
                         "Weekly PHQ-9 is overdue during the course.", component_id=cid,
                         due_at=(last or st["first_fulfilled"])
                         + dt.timedelta(days=PHQ9_INTERVAL_DAYS),
                         detail={"source": "DOMAIN.md §5.3 [WEAK]"})
                )  # fmt: skip

    # Psychiatric follow-up within the cadence during active interventional treatment.
    cadence = follow_up_cadence()
    for pid, comps in by_plan.items():
        cstats = [stats[c["id"]] for c in comps if c["id"] in stats]
        treating = any(
            s["last_fulfilled"]
            and s["last_fulfilled"] >= now - dt.timedelta(days=ACTIVE_TREATMENT_DAYS)
            for c, s in ((c, stats.get(c["id"])) for c in comps)
            if s is not None and c["protocol__modality"] != "psychiatry"
        )
        if not treating:
            continue
        if any(s["next_follow_up"] for s in cstats):
            continue
        seen = [s["last_follow_up"] for s in cstats if s["last_follow_up"]]
        last_psych = evals.get(comps[0]["plan__patient_id"], {}).get("last_psych")
        if last_psych:
            seen.append(last_psych)
        last = max(seen) if seen else None
        if last is None or last < now - cadence:
            gaps.append(
                _Gap(pid, FlagCode.FOLLOW_UP_OVERDUE, "", "warning",
                     "No psychiatric follow-up within the cadence and none booked.",
                     due_at=(last + cadence) if last else None,
                     detail={"cadence_days": cadence.days, "source": "DOMAIN.md §5.3 UNSOURCED"})
            )  # fmt: skip

    pmf = pmf_windows()
    for row in _pmf_overdue(session_q, now, pmf):
        gaps.append(
            _Gap(row["component__plan_id"], FlagCode.REMS_MONITORING_FORM_OVERDUE, str(row["id"]),
                 "warning", "SPRAVATO REMS Patient Monitoring Form not filed within 7 days.",
                 component_id=row["component_id"], session_id=row["id"],
                 due_at=row["starts_at"] + pmf.get(row["component__protocol_id"],
                                                   dt.timedelta(days=PMF_DAYS)),
                 detail={"source": "DOMAIN.md §2.4 PMF [REG-form]"})
        )  # fmt: skip
    for pid in _no_show_streaks(session_q, now):
        if pid in plan_ids:
            gaps.append(
                _Gap(pid, FlagCode.NO_SHOW_STREAK, "", "warning",
                     f"{NO_SHOW_STREAK} or more consecutive no-shows.")
            )  # fmt: skip
    gaps.extend(
        _requirement_gaps(
            components, stats, now, plan_q=plan_q, session_q=session_q, patient_ids=patient_ids
        )
    )
    # Prior authorisations: their own rule set (plans/scanner_authorization.py).
    from plans.scanner_authorization import authorization_gaps

    gaps.extend(authorization_gaps(plan_q=plan_q, now=now))
    return plan_ids, gaps


# ---------------------------------------------------------------------------------------------
# Reconciliation (bulk writes)


def scan_all_plans(
    *, plan_ids: list[int] | None = None, now: dt.datetime | None = None
) -> ScanResult:
    """Scan every active/on-hold plan (or ``plan_ids``) and reconcile its flags. Idempotent."""
    now = now or timezone.now()
    plans = CarePlan.objects.filter(status__in=SCANNED_PLAN_STATUSES)
    plan_q = Q(plan__status__in=SCANNED_PLAN_STATUSES)
    session_q = Q(component__plan__status__in=SCANNED_PLAN_STATUSES)
    if plan_ids is not None:
        plans = plans.filter(pk__in=plan_ids)
        plan_q &= Q(plan_id__in=plan_ids)
        session_q &= Q(component__plan_id__in=plan_ids)
    # Subqueries, not id lists: the statement stays the same size for any number of plans.
    scanned, gaps = detect_gaps(
        plan_q=plan_q, session_q=session_q, patient_ids=plans.values("patient_id"), now=now
    )
    return _reconcile(scanned, gaps, plan_ids=plan_ids, now=now)


@transaction.atomic
def _reconcile(
    scanned: set[int], gaps: list[_Gap], *, plan_ids: list[int] | None, now: dt.datetime
) -> ScanResult:
    """Bulk-apply the wanted gaps. A full scan looks at every open flag of these codes, so a
    plan that left the active states has its scanner flags resolved; a re-check looks at
    ``plan_ids`` only."""
    result = ScanResult(plans=len(scanned))
    wanted = {(g.plan_id, str(g.code), g.key): g for g in gaps}
    result.wanted = len(wanted)
    for g in wanted.values():
        result.by_code[str(g.code)] = result.by_code.get(str(g.code), 0) + 1
    codes = [str(c) for c in (*SCANNER_CODES, *REQUIREMENT_CODES)]
    existing = {
        (f["plan_id"], f["code"], f["requirement_key"]): f
        for f in Flag.objects.filter(
            status=FlagStatus.OPEN,
            code__in=codes,
            **({} if plan_ids is None else {"plan_id__in": plan_ids}),
        ).values("id", "plan_id", "code", "requirement_key", "severity")
    }
    # Open what is missing; a concurrent scan's insert wins silently (partial unique index).
    patient_of = (
        dict(
            CarePlan.objects.filter(pk__in={g.plan_id for g in wanted.values()}).values_list(
                "pk", "patient_id"
            )
        )
        if len(wanted) > len(existing)
        else {}
    )
    new = [
        Flag(
            plan_id=g.plan_id,
            patient_id=patient_of[g.plan_id],
            code=str(g.code),
            requirement_key=g.key,
            severity=g.severity,
            message=g.message,
            component_id=g.component_id,
            session_id=g.session_id,
            due_at=g.due_at,
            detail=g.detail,
            status=FlagStatus.OPEN,
        )
        for k, g in wanted.items()
        if k not in existing
    ]
    if new:
        # (with ignore_conflicts the count includes rows a concurrent scan inserted first)
        result.opened = len(Flag.objects.bulk_create(new, ignore_conflicts=True))
    # Escalate, never lower (plans/flag_codes.py).
    raise_to: dict[str, list[int]] = defaultdict(list)
    for k, f in existing.items():
        want = wanted.get(k)
        if want and SEVERITY_ORDER[want.severity] > SEVERITY_ORDER[f["severity"]]:
            raise_to[want.severity].append(f["id"])
    for severity, ids in raise_to.items():
        result.escalated += Flag.objects.filter(pk__in=ids, status=FlagStatus.OPEN).update(
            severity=severity, updated_at=now
        )
    # Auto-resolve the scanner's own codes whose gap closed (never readiness flags).
    gone = [
        f["id"]
        for k, f in existing.items()
        if k not in wanted and f["code"] in {str(c) for c in SCANNER_CODES}
    ]
    if gone:
        result.resolved = Flag.objects.filter(pk__in=gone, status=FlagStatus.OPEN).update(
            status=FlagStatus.RESOLVED, resolved_at=now, updated_at=now
        )
    return result

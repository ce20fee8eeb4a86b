"""Gap detection for the flag scanner: which time-based gaps the plans of one chunk have.

Each function runs a constant number of aggregate queries over the chunk's sessions,
evaluations and measures (``session_q``/``plan_q`` restrict them to the chunk; the scanner
package's ``__init__`` drives the chunks and reconciles). Sessions are read through the
session-fact port (plans/ports.py): plans never imports scheduling.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from django.conf import settings
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
    QuerySet,
    Subquery,
    Value,
    Window,
)
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Coalesce, RowNumber

from backend.db.expressions import AnyOf
from modalities.models import RequirementSpec
from modalities.services import _requirement_spec
from modalities.vocab import COURSE_KINDS, EvaluationKind, Instrument
from plans.authorizations import approved_windows
from plans.flag_codes import FlagCode
from plans.models import Evaluation, Measure, PlanComponent, PlanStatus, RecordStatus
from plans.ports import HOLDING_SESSION_STATUSES, session_facts
from plans.reconcile import WantedFlag
from plans.rules.readiness import post_session_window
from plans.scanner.authorization import authorization_gaps
from plans.scanner.requirements import requirement_gaps

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

# Rules and where they come from (DOMAIN.md). UNSOURCED ones are settings. A rule that compares
# the clock with an input time plus a constant must list the constant in
# plans.scanner.stability.time_offsets (or a scan may skip a plan whose answer moved).
PMF_DAYS = 7  # §2.4 PMF within 7 days [REG-form]; the catalogue's timing_value is the rule
PMF_LOOKBACK_DAYS = 90
INDUCTION_DAYS = 28  # §2.3/§5.3: evaluate benefit at the end of the 4-week induction [LABEL]
INDUCTION_REVIEW_WINDOW_DAYS = 7  # a review from day 21 on counts as the end-of-induction review
PHQ9_INTERVAL_DAYS = 7  # §5.3 weekly PHQ-9 during a TMS course [WEAK]
PRIOR_AUTH_WARNING_DAYS = 14
NO_SHOW_STREAK = 2
ACTIVE_TREATMENT_DAYS = 14  # a course counts as running if a session was fulfilled this recently

_SESSION_LIVE = ("booked", "arrived")


def follow_up_cadence() -> dt.timedelta:
    """Psychiatric follow-up interval during active treatment. DOMAIN.md §5.3: exact intervals
    are UNSOURCED (common clinical practice) → a setting, default 30 days."""
    return dt.timedelta(days=getattr(settings, "FOLLOW_UP_CADENCE_DAYS", 30))


# ---------------------------------------------------------------------------------------------
# Detection (each function: a constant number of queries)


def _components(plan_q: Q) -> list[Any]:
    """The chunk's open components as plain rows, with what the requirement gaps read too
    (readiness facts of the component and its clinic): no second component query."""
    return list(
        PlanComponent.objects.filter(plan_q)
        .exclude(status__in=("completed", "stopped"))
        .order_by("id")
        .values(
            "id",
            "plan_id",
            "plan__patient_id",
            "protocol_id",
            "protocol__modality",
            "indication_id",
            "label_status",
            "payer_type",
            "plan__clinic_id",
            "plan__clinic__timezone",
            "plan__clinic__rems_certification_id",
            "plan__clinic__rems_certified_until",
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
                "id", filter=Q(status__in=HOLDING_SESSION_STATUSES, kind__in=COURSE_KINDS)
            ),
            last_follow_up=Max("starts_at", filter=fulfilled & Q(kind="follow_up")),
            next_follow_up=Min("starts_at", filter=future_live & Q(kind="follow_up")),
        )
    )
    return {r["component_id"]: r for r in rows}


def _sessions(session_q: Q) -> QuerySet[Any]:
    return session_facts().sessions().filter(session_q)


def pmf_windows() -> dict[int, dt.timedelta]:
    """protocol id → how long after a session its PMF may wait, from the catalogue requirement
    (``rems_monitoring_form``, timing ``within_days_after_each_session``; one query)."""
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
    overdue = Q(pk__in=[])
    for protocol_id, window in windows.items():
        overdue |= Q(component__protocol_id=protocol_id, starts_at__lte=now - window)

    next_start = Subquery(
        session_facts()
        .sessions()
        .filter(
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
        for r in Evaluation.objects.filter(
            AnyOf("patient_id", patient_ids), status=RecordStatus.FINAL
        )
        .values("patient_id")
        .annotate(
            last_psych=Max("performed_at", filter=Q(kind=EvaluationKind.PSYCHIATRIC_EVALUATION))
        )
    }
    measures = {
        r["patient_id"]: r
        for r in Measure.objects.filter(
            AnyOf("patient_id", patient_ids), status=RecordStatus.FINAL, instrument=Instrument.PHQ9
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


def detect_gaps(
    *, plan_q: Q, session_q: Q, patient_ids, now: dt.datetime
) -> tuple[set[int], list[WantedFlag]]:
    components = _components(plan_q)
    plan_ids = {c["plan_id"] for c in components}
    stats = _session_stats(session_q, now)
    evals, phq9 = _latest_by_patient(patient_ids)
    gaps: list[WantedFlag] = []

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
                    WantedFlag(
                        pid,
                        FlagCode.INDUCTION_REVIEW_DUE,
                        str(cid),
                        "warning",
                        "End-of-induction efficacy review is due (week 4).",
                        component_id=cid,
                        due_at=due,
                        detail={"source": "DOMAIN.md §2.3, §5.3 [LABEL]"},
                    )
                )
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
                    WantedFlag(
                        pid,
                        FlagCode.WEEKLY_PHQ9_OVERDUE,
                        str(cid),
                        "warning",
                        "Weekly PHQ-9 is overdue during the course.",
                        component_id=cid,
                        due_at=(last or st["first_fulfilled"])
                        + dt.timedelta(days=PHQ9_INTERVAL_DAYS),
                        detail={"source": "DOMAIN.md §5.3 [WEAK]"},
                    )
                )

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
                WantedFlag(
                    pid,
                    FlagCode.FOLLOW_UP_OVERDUE,
                    "",
                    "warning",
                    "No psychiatric follow-up within the cadence and none booked.",
                    due_at=(last + cadence) if last else None,
                    detail={"cadence_days": cadence.days, "source": "DOMAIN.md §5.3 UNSOURCED"},
                )
            )

    pmf = pmf_windows()
    for row in _pmf_overdue(session_q, now, pmf):
        gaps.append(
            WantedFlag(
                row["component__plan_id"],
                FlagCode.REMS_MONITORING_FORM_OVERDUE,
                str(row["id"]),
                "warning",
                "SPRAVATO REMS Patient Monitoring Form not filed within 7 days.",
                component_id=row["component_id"],
                session_id=row["id"],
                due_at=row["starts_at"]
                + pmf.get(row["component__protocol_id"], dt.timedelta(days=PMF_DAYS)),
                detail={"source": "DOMAIN.md §2.4 PMF [REG-form]"},
            )
        )
    for pid in _no_show_streaks(session_q, now):
        if pid in plan_ids:
            gaps.append(
                WantedFlag(
                    pid,
                    FlagCode.NO_SHOW_STREAK,
                    "",
                    "warning",
                    f"{NO_SHOW_STREAK} or more consecutive no-shows.",
                )
            )
    # The chunk's approved authorisations, read once for readiness and for the alerts.
    windows = approved_windows([c["id"] for c in components])
    gaps.extend(
        requirement_gaps(
            components,
            stats,
            now,
            session_q=session_q,
            patient_ids=patient_ids,
            windows=windows,
        )
    )
    # Prior authorisations: their own rule set (plans/scanner/authorization.py).
    gaps.extend(authorization_gaps(components, windows, now=now))
    return plan_ids, gaps

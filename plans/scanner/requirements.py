"""Requirement gaps for the flag scanner (issue 15): the readiness of components with a booked
session, judged at that session, from the same pure rules the check-in gate uses.

Missing/expired steps → REQUIREMENT_MISSING/EXPIRED (critical within 72 h for blocking ones,
issue 5); a satisfied step whose validity ends before a booked session it must cover →
REQUIREMENT_EXPIRING, ``expiry_warning_days()`` ahead. Facts are read per chunk as plain rows
(``values_list``), never as ORM objects.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import replace
from typing import Any, NamedTuple

from django.conf import settings
from django.db.models import (
    BooleanField,
    Case,
    ExpressionWrapper,
    F,
    Q,
    QuerySet,
    Value,
    When,
    Window,
)
from django.db.models.functions import RowNumber

from backend.db.expressions import AnyOf
from modalities.models import Protocol, ProtocolIndication
from modalities.services import indication_spec_from_model
from modalities.spec_cache import protocol_specs
from modalities.vocab import (
    COURSE_KINDS,
    EvaluationKind,
    Instrument,
    LabelStatus,
    PayerType,
    RequirementStatus,
)
from plans.authorizations import AuthorizationWindow
from plans.flag_codes import SEVERITY_ORDER, FlagCode
from plans.models import Evaluation, Measure, RecordStatus, newest_window_key
from plans.ports import HOLDING_SESSION_STATUSES, session_facts
from plans.reconcile import WantedFlag
from plans.rules.readiness import (
    GATED_TIMINGS,
    ClinicFacts,
    ComponentFacts,
    EvaluationFact,
    MeasureFact,
    PriorAuthFact,
    evaluate_component,
    forecast_expiries,
)
from plans.selectors import (
    checked_kinds,
    clinic_facts,
    course_facts,
    evidence_codes,
    zone_named,
)

CRITICAL_WITHIN = dt.timedelta(hours=72)  # listed in plans.scanner.stability.time_offsets


def _max_severity(a: str, b: str) -> str:
    return a if SEVERITY_ORDER[a] >= SEVERITY_ORDER[b] else b


def expiry_warning_days() -> int:
    """How far ahead the scanner warns that a step's validity ends before a booked session it
    must cover (issue 15: at least 3 days ahead). UNSOURCED → a setting, default 7 days."""
    return int(getattr(settings, "REQUIREMENT_EXPIRY_WARNING_DAYS", 7))


def _booked_course_sessions(session_q: Q) -> dict[int, list[tuple]]:
    """(sequence, starts_at, status) of every active course session in scope, per component."""
    rows: dict[int, list[tuple]] = defaultdict(list)
    for component_id, sequence, starts_at, status in (
        session_facts()
        .sessions()
        .filter(
            session_q,
            kind__in=COURSE_KINDS,
            status__in=HOLDING_SESSION_STATUSES,
            sequence__isnull=False,
        )
        .order_by("starts_at", "id")
        .values_list("component_id", "sequence", "starts_at", "status")
    ):
        rows[component_id].append((sequence, starts_at, status))
    return rows


# value → member, read per row (calling the enum per row was 5 % of a re-scan)
_KINDS = {k.value: k for k in EvaluationKind}
_INSTRUMENTS = {i.value: i for i in Instrument}


# Evidence older than this before the scan can only count through its date: every clinic's
# "today" (UTC−12 … UTC+14) is on or after its date, so no rule sees it as future-dated.
SETTLED_BEFORE = dt.timedelta(days=2)


def _newest_settled_only(
    qs: QuerySet, settled: Q, partition: list[Any], order: list[Any]
) -> QuerySet:
    """``qs`` without the ``settled`` rows that are not the newest of their ``partition`` (by
    ``order``); every other row is kept."""
    flag = ExpressionWrapper(settled, output_field=BooleanField())
    return qs.annotate(
        _settled=flag,
        _rank=Window(RowNumber(), partition_by=[*partition, flag], order_by=order),
    ).filter(Q(_settled=False) | Q(_rank=1))


def _fact_rows(
    patient_ids: Any, specs: Iterable[ComponentFacts], now: dt.datetime
) -> tuple[dict[int, list], dict[int, list]]:
    """Final evaluations and measures of ``patient_ids`` as readiness facts, read as plain rows
    (two queries; no ORM objects): only the kinds and instruments the chunk's requirements read
    (``evidence_codes``, as the plan readiness reads them), and an evaluation's ``data`` only
    where a requirement's check reads it (``checked_kinds``) — decoding every row's JSON was
    the largest cost of a re-scan.

    Not the whole history (issue 17): of the *settled* rows — older than ``SETTLED_BEFORE``,
    no ``valid_until`` override and, for evaluations, of a kind no check reads — only the
    newest per patient, kind (instrument and baseline-ness) and component is read. The rules
    (``plans.rules.readiness.evaluate``) cannot tell the difference: such a row counts by its
    date alone, its expiry (date + the requirement's validity) grows with that date and every
    window they apply (``since``, the course start, ``today``) is a lower or upper date bound,
    so whenever an older settled row is a candidate, valid, or the latest passing one, so is
    the newest (tests/workers/test_scanner_history.py checks it against the full history)."""
    kinds, instruments = evidence_codes(specs)
    with_data = checked_kinds(specs)
    before = now - SETTLED_BEFORE
    checked = Case(When(kind__in=list(with_data), then=F("data")), default=Value(None))
    settled = Q(performed_at__lt=before, valid_until__isnull=True) & ~Q(kind__in=list(with_data))
    evals: dict[int, list[EvaluationFact]] = defaultdict(list)
    for pid, pk, kind, component_id, performed_at, valid_until, data in _newest_settled_only(
        Evaluation.objects.filter(
            AnyOf("patient_id", patient_ids), status=RecordStatus.FINAL, kind__in=list(kinds)
        ).annotate(checked=checked),
        settled,
        [F("patient_id"), F("kind"), F("component_id")],
        [F("performed_at").desc(), F("id").desc()],
    ).values_list(
        "patient_id", "id", "kind", "component_id", "performed_at", "valid_until", "checked"
    ):
        evals[pid].append(
            EvaluationFact(
                id=pk,
                kind=_KINDS[kind],
                component_id=component_id,
                performed_at=performed_at,
                valid_until=valid_until,
                data=data or {},
            )
        )
    measures: dict[int, list[MeasureFact]] = defaultdict(list)
    for pid, pk, instrument, taken_at, is_baseline in _newest_settled_only(
        Measure.objects.filter(
            AnyOf("patient_id", patient_ids),
            status=RecordStatus.FINAL,
            instrument__in=list(instruments),
        ),
        Q(taken_at__lt=before),
        [F("patient_id"), F("instrument"), F("is_baseline")],
        [F("taken_at").desc(), F("id").desc()],
    ).values_list("patient_id", "id", "instrument", "taken_at", "is_baseline"):
        measures[pid].append(
            MeasureFact(
                id=pk,
                instrument=_INSTRUMENTS[instrument],
                taken_at=taken_at,
                is_baseline=is_baseline,
            )
        )
    return evals, measures


class _Clinic(NamedTuple):
    """The clinic fields readiness reads (``clinic_facts``), from a component row."""

    timezone: str
    rems_certification_id: str
    rems_certified_until: dt.date | None


def _prior_auth_facts(windows: dict[int, list[AuthorizationWindow]]) -> dict[int, PriorAuthFact]:
    """Each component's current approved authorisation as readiness sees it: the one
    ``PlanComponent.current_authorization`` picks (``newest_window_key``)."""
    out = {}
    for cid, ws in windows.items():
        w = max(ws, key=lambda w: newest_window_key(w.starts_on, w.id))
        out[cid] = PriorAuthFact(number=w.number, sessions=w.units, expires_on=w.ends_on)
    return out


def requirement_gaps(
    components: list[dict],
    stats: dict[int, dict],
    now: dt.datetime,
    *,
    session_q: Q,
    patient_ids: Any,
    windows: dict[int, list[AuthorizationWindow]],
) -> list[WantedFlag]:
    """Requirement gaps of components with a booked session, judged at that session (issue 15):
    missing/expired steps → warning, critical within 72 h for blocking ones (issue 5); a
    satisfied blocking step whose validity ends before a booked session it must cover →
    ``requirement_expiring`` warning, ``expiry_warning_days()`` before that session. Readiness
    comes from the same pure rules the gate uses, over facts loaded in bulk as plain rows
    (``components`` are ``gaps._components`` rows; no ORM objects). ``session_q`` (by
    component) and ``patient_ids`` select the chunk; ``windows`` are its approved
    authorisations (``plans.authorizations.approved_windows``)."""
    booked = [c for c in components if stats.get(c["id"], {}).get("next_booked")]
    if not booked:
        return []
    # The protocol/indication specs, built once per pair (the protocol's from the per-process
    # cache, modalities.spec_cache: building it from rows costs more than the rules themselves);
    # protocols and indications are read once each, not joined onto every row (their JSON
    # columns decoded per row cost more than the rules too).
    protocols = protocol_specs(Protocol.objects.filter(pk__in={c["protocol_id"] for c in booked}))
    indications = ProtocolIndication.objects.in_bulk({c["indication_id"] for c in booked})
    specs: dict[tuple[int, int], ComponentFacts] = {}
    for c in booked:
        pair = (c["protocol_id"], c["indication_id"])
        if pair not in specs:
            specs[pair] = ComponentFacts(
                component_id=None,
                protocol=protocols[pair[0]],
                indication=indication_spec_from_model(indications[pair[1]]),
                label_status=LabelStatus(c["label_status"]),
                payer_type=PayerType(c["payer_type"]),
            )
    authorizations = _prior_auth_facts(windows)
    evals, measures = _fact_rows(patient_ids, list(specs.values()), now)
    course_rows = _booked_course_sessions(session_q)
    lookahead = dt.timedelta(days=expiry_warning_days())
    clinics: dict[int, tuple[dt.tzinfo, dt.date, ClinicFacts]] = {}
    gaps: list[WantedFlag] = []
    for row in booked:
        cid, plan_id, patient_id = row["id"], row["plan_id"], row["plan__patient_id"]
        st = stats[cid]
        if row["plan__clinic_id"] not in clinics:
            clinic = _Clinic(
                row["plan__clinic__timezone"],
                row["plan__clinic__rems_certification_id"],
                row["plan__clinic__rems_certified_until"],
            )
            zone = zone_named(clinic.timezone)
            clinics[row["plan__clinic_id"]] = (
                zone,
                now.astimezone(zone).date(),
                clinic_facts(clinic),
            )
        zone, today, clinic_fact = clinics[row["plan__clinic_id"]]
        sessions = course_rows.get(cid, [])
        upcoming = [
            (seq, start) for seq, start, status in sessions if status == "booked" and start > now
        ]
        next_seq = upcoming[0][0] if upcoming else None
        facts = replace(
            specs[(row["protocol_id"], row["indication_id"])],
            component_id=cid,
            label_status=LabelStatus(row["label_status"]),
            payer_type=PayerType(row["payer_type"]),
            prior_auth=authorizations.get(cid),
            course=course_facts(sessions, zone=zone, at_sequence=next_seq),
        )
        readiness = evaluate_component(
            component=facts,
            evaluations=evals[patient_id],
            measures=measures[patient_id],
            clinic=clinic_fact,
            today=today,
        )
        near = st["next_booked"] - now <= CRITICAL_WITHIN
        next_at, within = st["next_booked"].isoformat(), " — session within 72 h" if near else ""
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
                WantedFlag(
                    plan_id=plan_id,
                    code=code,
                    key=f"{cid}:{item.key}",
                    severity=severity,
                    message=f"{item.key.replace('_', ' ')}: {item.detail or item.status}{within}",
                    component_id=cid,
                    due_at=st["next_booked"],
                    detail={
                        "requirement": item.key,
                        "status": str(item.status),
                        "reason": item.reason,
                        "source": item.source,
                        "detail": item.detail,
                        "next_session_at": next_at,
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
                WantedFlag(
                    plan_id=plan_id,
                    code=FlagCode.REQUIREMENT_EXPIRING,
                    key=f"{cid}:{f.key}",
                    severity="warning",
                    message=(
                        f"{f.key.replace('_', ' ')}: valid until {f.expires_on.isoformat()}, "
                        f"would block session {f.blocks_sequence} on {f.blocks_on.isoformat()}"
                    ),
                    component_id=cid,
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

"""Report selectors (issue 11): claims/superbill rows, outcomes per protocol and indication, the
authorisation worklist. Reads only; interfaces authorise (``require_report_access``) and audit.

Scope: the patients the user may see (``plans.access.visible_patients``) — a coordinator's
organisation, a clinician's care team; patients get no report at all (403).

Size: the claims export is ONE query streamed through a server-side cursor
(``.iterator(chunk_size=…)``), the authorisation number and the clinic-local date computed in SQL,
the codes in Python per row (``billing.rules``, pure) — memory and query count stay flat whatever
the number of sessions. The outcomes report is one aggregate query over components (measures as
correlated subqueries) plus one for the protocols' planned course lengths.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db.models import Count, IntegerField, Min, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce, Concat
from django.utils import timezone

from backend.accounts.models import Role
from billing.rules import session_billing
from modalities.models import Protocol
from modalities.rules.phases import Phase
from modalities.vocab import COURSE_KINDS
from plans.access import visible_patients
from plans.authorizations import LocalDate
from plans.models import (
    AuthorizationStatus,
    Measure,
    PlanComponent,
    PriorAuthorization,
    RecordStatus,
)
from plans.rules.authorization import EXPIRY_WARNING_DAYS
from plans.rules.scoring import compare_to_baseline
from plans.selectors import zone_named
from scheduling.models import Session

REPORT_ROLES = frozenset({Role.COORDINATOR, Role.CLINICIAN, Role.ADMIN})
CHUNK = 2000


def require_report_access(user: Any) -> None:
    """Coordinators, clinicians and admins; patients never (403)."""
    if not (getattr(user, "is_authenticated", False) and user.role in REPORT_ROLES):
        raise PermissionDenied("reports are for clinic staff")


@dataclass(frozen=True)
class ReportFilters:
    clinic: int | None = None
    protocol: str | None = None  # protocol code (any version)
    date_from: dt.date | None = None
    date_to: dt.date | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            k: (v.isoformat() if isinstance(v, dt.date) else v)
            for k, v in self.__dict__.items()
            if v is not None
        }


# ---------------------------------------------------------------------------------------------
# Claims / superbill export


CLAIM_COLUMNS = (
    "session_id",
    "date",
    "clinic",
    "rendering_clinician",
    "credential",
    "patient_mrn",
    "patient_name",
    "protocol",
    "session_kind",
    "codes",
    "units",
    "claim",
    "payer_type",
    "payer_name",
    "authorization_number",
    "icd10",
    "note",
    "problems",
)


def _authorization_number() -> Subquery:
    covering = PriorAuthorization.objects.filter(
        component_id=OuterRef("component_id"), status=AuthorizationStatus.APPROVED
    ).filter(
        (Q(starts_on__isnull=True) | Q(starts_on__lte=OuterRef("day")))
        & (Q(ends_on__isnull=True) | Q(ends_on__gte=OuterRef("day")))
    )
    return Subquery(covering.order_by("-starts_on", "-id").values("number")[:1])


def claim_sessions(*, user: Any, filters: ReportFilters) -> QuerySet:
    """Fulfilled sessions in scope, one row each, as plain values (one query)."""
    qs = Session.objects.filter(
        status="fulfilled", patient__in=visible_patients(user).values("pk")
    ).annotate(day=LocalDate("clinic__timezone", "starts_at"))
    if filters.clinic is not None:
        qs = qs.filter(clinic_id=filters.clinic)
    if filters.protocol:
        qs = qs.filter(component__protocol__code=filters.protocol)
    if filters.date_from:
        qs = qs.filter(day__gte=filters.date_from)
    if filters.date_to:
        qs = qs.filter(day__lte=filters.date_to)
    return (
        qs.annotate(
            auth_number=_authorization_number(),
            clinician_name=Concat("clinician__first_name", Value(" "), "clinician__last_name"),
        )
        .order_by("starts_at", "id")
        .values_list(
            "id",
            "day",
            "clinic__name",
            "clinician_name",
            "clinician__credential",
            "patient__mrn",
            "patient__given_name",
            "patient__family_name",
            "component__protocol__code",
            "component__protocol__modality",
            "kind",
            "completion",
            "component__payer_type",
            "component__payer_name",
            "component__label_status",
            "auth_number",
            "component__plan__diagnoses",
        )
    )


def iter_claim_rows(*, user: Any, filters: ReportFilters) -> Iterator[dict[str, Any]]:
    """The superbill rows, streamed (server-side cursor, ``CHUNK`` rows at a time)."""
    rows = claim_sessions(user=user, filters=filters).iterator(chunk_size=CHUNK)
    for (
        sid,
        day,
        clinic,
        clinician,
        credential,
        mrn,
        given,
        family,
        protocol,
        modality,
        kind,
        completion,
        payer_type,
        payer_name,
        label_status,
        auth_number,
        diagnoses,
    ) in rows:
        billing = session_billing(
            protocol_code=protocol,
            modality=modality,
            kind=kind,
            completion=completion,
            payer_type=payer_type,
            label_status=label_status,
        )
        yield {
            "session_id": sid,
            "date": day.isoformat(),
            "clinic": clinic,
            "rendering_clinician": (clinician or "").strip(),
            "credential": credential or "",
            "patient_mrn": mrn,
            "patient_name": f"{family}, {given}",
            "protocol": protocol,
            "session_kind": kind,
            "codes": billing.codes,
            "units": billing.units,
            "claim": "yes" if billing.claim else "no",
            "payer_type": payer_type,
            "payer_name": payer_name,
            "authorization_number": auth_number or "",
            "icd10": ";".join(diagnoses or []),
            "note": billing.note,
            "problems": ";".join(billing.problems),
        }


# ---------------------------------------------------------------------------------------------
# Outcomes per protocol and indication

OUTCOME_INSTRUMENTS = ("phq9", "gad7", "pain_nrs")
RESPONSE_INSTRUMENT = "phq9"


def _measure(instrument: str, order: tuple[str, ...], column: str) -> Subquery:
    return Subquery(
        Measure.objects.filter(
            plan_id=OuterRef("plan_id"), instrument=instrument, status=RecordStatus.FINAL
        )
        .order_by(*order)
        .values(column)[:1]
    )


def _planned_total(phases: list[dict[str, Any]], cap: int | None) -> int:
    total = sum(Phase.from_dict(p).sessions for p in phases)
    return min(total, cap) if cap else total


@dataclass
class OutcomeGroup:
    protocol: str
    protocol_name: str
    indication: str
    started: int = 0
    completed: int = 0
    evaluable: int = 0  # PHQ-9 baseline and a later PHQ-9
    responders: int = 0
    remitters: int = 0
    changes: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))

    @property
    def response_rate(self) -> float | None:
        return self.responders / self.evaluable if self.evaluable else None

    @property
    def remission_rate(self) -> float | None:
        return self.remitters / self.evaluable if self.evaluable else None

    def mean_change(self, instrument: str) -> float | None:
        values = self.changes.get(instrument) or []
        return sum(values) / len(values) if values else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "protocol": self.protocol,
            "protocol_name": self.protocol_name,
            "indication": self.indication,
            "started": self.started,
            "completed": self.completed,
            "evaluable": self.evaluable,
            "responders": self.responders,
            "remitters": self.remitters,
            "response_rate": self.response_rate,
            "remission_rate": self.remission_rate,
            "mean_change": {i: self.mean_change(i) for i in OUTCOME_INSTRUMENTS},
            "n_change": {i: len(self.changes.get(i) or []) for i in OUTCOME_INSTRUMENTS},
        }


def outcome_report(*, user: Any, filters: ReportFilters) -> list[OutcomeGroup]:
    """Per (protocol, indication): courses started (≥ 1 fulfilled treatment session, the first
    in the date range), completed (component completed, or every planned session fulfilled),
    PHQ-9 response (≥ 50 % drop from baseline) and remission (< 5) among the courses with a
    baseline and a later PHQ-9 (DOMAIN.md §5.2 PHQ-9 response/remission row), and the mean
    change (latest − baseline) of PHQ-9, GAD-7 and pain NRS. Two queries."""
    fulfilled = Session.objects.filter(
        component_id=OuterRef("pk"), status="fulfilled", kind__in=COURSE_KINDS
    )
    count = Subquery(
        fulfilled.values("component_id").annotate(n=Count("id")).values("n")[:1],
        output_field=IntegerField(),
    )
    first_day = Subquery(
        fulfilled.annotate(day=LocalDate("clinic__timezone", "starts_at"))
        .values("component_id")
        .annotate(d=Min("day"))
        .values("d")[:1]
    )
    qs = PlanComponent.objects.filter(
        plan__patient__in=visible_patients(user).values("pk")
    ).exclude(protocol__modality="psychiatry")
    if filters.clinic is not None:
        qs = qs.filter(plan__clinic_id=filters.clinic)
    if filters.protocol:
        qs = qs.filter(protocol__code=filters.protocol)
    annotations: dict[str, Any] = {"n_fulfilled": Coalesce(count, 0), "first_day": first_day}
    for inst in OUTCOME_INSTRUMENTS:
        annotations[f"{inst}_base_id"] = _measure(inst, ("-is_baseline", "taken_at", "id"), "id")
        annotations[f"{inst}_base"] = _measure(inst, ("-is_baseline", "taken_at", "id"), "total")
        annotations[f"{inst}_last_id"] = _measure(inst, ("-taken_at", "-id"), "id")
        annotations[f"{inst}_last"] = _measure(inst, ("-taken_at", "-id"), "total")
    rows = (
        qs.annotate(**annotations)
        .filter(n_fulfilled__gt=0)  # type: ignore[misc]  # an annotation the plugin cannot see
        .values(
            "protocol_id",
            "protocol__code",
            "protocol__title",
            "indication__name",
            "status",
            *annotations,
        )
        .order_by("protocol__code", "indication__name")
    )
    if filters.date_from:
        rows = rows.filter(first_day__gte=filters.date_from)
    if filters.date_to:
        rows = rows.filter(first_day__lte=filters.date_to)
    planned = {
        pk: _planned_total(phases, cap)
        for pk, phases, cap in Protocol.objects.values_list("pk", "phases", "session_cap")
    }
    groups: dict[tuple[str, str], OutcomeGroup] = {}
    for r in rows.iterator(chunk_size=CHUNK):
        key = (r["protocol__code"], r["indication__name"])
        g = groups.get(key)
        if g is None:
            g = groups[key] = OutcomeGroup(r["protocol__code"], r["protocol__title"], key[1])
        g.started += 1
        if r["status"] == "completed" or r["n_fulfilled"] >= planned.get(r["protocol_id"], 0):
            g.completed += 1
        for inst in OUTCOME_INSTRUMENTS:
            base, last = r[f"{inst}_base"], r[f"{inst}_last"]
            if base is None or r[f"{inst}_base_id"] == r[f"{inst}_last_id"]:
                continue
            g.changes[inst].append(float(last) - float(base))
            if inst == RESPONSE_INSTRUMENT:
                change = compare_to_baseline(inst, _num(base), _num(last))
                g.evaluable += 1
                g.responders += bool(change.response)
                g.remitters += bool(change.remission)
    return list(groups.values())


def _num(value: Any) -> float | int:
    f = float(value)
    return int(f) if f.is_integer() else f


# ---------------------------------------------------------------------------------------------
# Authorisation worklist

WORKLIST_CATEGORIES = ("denied", "exhausted", "expired", "expiring", "requested")


def authorization_worklist(
    *,
    user: Any,
    filters: ReportFilters,
    now: dt.datetime | None = None,
    include_ok: bool = False,
) -> list[dict[str, Any]]:
    """Authorisations needing work: denied, exhausted (every unit used), expired (end date
    passed), expiring (within 14 days, ``PRIOR_AUTH_WARNING_DAYS``), requested (awaiting the
    payer). Units used are derived (fulfilled course sessions in the window). One query.
    "Passed" and "days left" count on each clinic's own date at ``now`` (default: now), as the
    scanner's alerts and the session days do: at 22:00 in New York an authorisation ending
    that day has not expired yet, whatever the date in UTC."""
    now = now or timezone.now()
    today_in: dict[str, dt.date] = {}
    days = getattr(settings, "PRIOR_AUTH_WARNING_DAYS", EXPIRY_WARNING_DAYS)
    # a side the authorisation does not record is unbounded
    used = (
        Session.objects.filter(
            component_id=OuterRef("component_id"), status="fulfilled", kind__in=COURSE_KINDS
        )
        .annotate(day=LocalDate("clinic__timezone", "starts_at"))
        .filter(
            Q(day__gte=Coalesce(OuterRef("starts_on"), Value(dt.date.min)))
            & Q(day__lte=Coalesce(OuterRef("ends_on"), Value(dt.date.max)))
        )
        .values("component_id")
        .annotate(n=Count("id"))
        .values("n")[:1]
    )
    qs = PriorAuthorization.objects.filter(
        component__plan__patient__in=visible_patients(user).values("pk")
    )
    if filters.clinic is not None:
        qs = qs.filter(component__plan__clinic_id=filters.clinic)
    if filters.protocol:
        qs = qs.filter(component__protocol__code=filters.protocol)
    if filters.date_from:
        qs = qs.filter(Q(ends_on__isnull=True) | Q(ends_on__gte=filters.date_from))
    if filters.date_to:
        qs = qs.filter(Q(starts_on__isnull=True) | Q(starts_on__lte=filters.date_to))
    rows = (
        qs.annotate(used=Coalesce(Subquery(used, output_field=IntegerField()), 0))
        .values(
            "id",
            "number",
            "status",
            "payer_name",
            "authorized_units",
            "starts_on",
            "ends_on",
            "decision_note",
            "used",
            "component_id",
            "component__plan_id",
            "component__protocol__code",
            "component__plan__patient__mrn",
            "component__plan__patient__given_name",
            "component__plan__patient__family_name",
            "component__plan__clinic__name",
            "component__plan__clinic__timezone",
        )
        .order_by("ends_on", "id")
    )
    out = []
    for r in rows.iterator(chunk_size=CHUNK):
        zone = r["component__plan__clinic__timezone"]
        if zone not in today_in:
            today_in[zone] = now.astimezone(zone_named(zone)).date()
        today = today_in[zone]
        category = _category(dict(r), today=today, warning_days=days)
        if category is None and not include_ok:
            continue
        out.append(
            {
                "id": r["id"],
                "category": category or "ok",
                "status": r["status"],
                "number": r["number"],
                "payer_name": r["payer_name"],
                "authorized_units": r["authorized_units"],
                "used": r["used"],
                "remaining": None
                if r["authorized_units"] is None
                else max(r["authorized_units"] - r["used"], 0),
                "starts_on": r["starts_on"].isoformat() if r["starts_on"] else None,
                "ends_on": r["ends_on"].isoformat() if r["ends_on"] else None,
                "days_left": (r["ends_on"] - today).days if r["ends_on"] else None,
                "decision_note": r["decision_note"],
                "component": r["component_id"],
                "plan": r["component__plan_id"],
                "protocol": r["component__protocol__code"],
                "patient_mrn": r["component__plan__patient__mrn"],
                "patient_name": f"{r['component__plan__patient__family_name']}, "
                f"{r['component__plan__patient__given_name']}",
                "clinic": r["component__plan__clinic__name"],
            }
        )
    order = {c: i for i, c in enumerate(WORKLIST_CATEGORIES)}
    out.sort(key=lambda x: (order.get(x["category"], 99), x["ends_on"] or "9999"))
    return out


def _category(r: dict[str, Any], *, today: dt.date, warning_days: int) -> str | None:
    status = r["status"]
    if status == AuthorizationStatus.DENIED:
        return "denied"
    if status == AuthorizationStatus.REQUESTED:
        return "requested"
    if status == AuthorizationStatus.EXPIRED:
        return "expired"
    units, ends = r["authorized_units"], r["ends_on"]
    if units is not None and r["used"] >= units:
        return "exhausted"
    if ends is not None and ends < today:
        return "expired"
    if ends is not None and (ends - today).days <= warning_days:
        return "expiring"
    return None

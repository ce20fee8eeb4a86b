"""Bench data in bulk SQL (issue 17): an organisation with ``n`` patients, one active plan each
(one component), optionally one booked session and one due SMS reminder each.

Set-based ``INSERT … SELECT generate_series`` statements: 100 k plans take seconds, not the
minutes the ORM would. Everything belongs to one fresh organisation, removed by ``drop_org``.
Synthetic data only: example.com emails, +1 …555-01xx phones.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import time
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

CANDIDATE_ZONES = (
    "Pacific/Honolulu",
    "America/Anchorage",
    "America/Los_Angeles",
    "America/Denver",
    "America/Chicago",
    "America/New_York",
    "America/Sao_Paulo",
    "Atlantic/Azores",
    "Europe/London",
    "Europe/Berlin",
    "Europe/Athens",
    "Asia/Dubai",
    "Asia/Kolkata",
    "Asia/Bangkok",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Pacific/Auckland",
)


def setup_django() -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings.development")
    django.setup()
    from django.conf import settings

    settings.DEBUG = False  # no per-query logging: measure what production runs


def awake_zones(now: datetime | None = None) -> list[str]:
    """Zones where it is comfortably inside 08:00–21:00 right now (reminders may go out)."""
    now = now or datetime.now(UTC)
    return [z for z in CANDIDATE_ZONES if 9 <= now.astimezone(ZoneInfo(z)).hour <= 19]


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} (2 cores shared with other users)"


def make_org(tag: str):
    from backend.accounts.models import Organization, Role, User
    from scheduling.models import Clinic

    org = Organization.objects.create(name=f"bench {tag}", slug=f"bench-{tag}")
    clinic = Clinic.objects.create(
        organization=org,
        name="Bench Clinic",
        timezone="UTC",
        phone="+15555550100",
        address="1 Bench St",
    )
    coordinator = User.objects.create(
        username=f"bench-coord-{tag}",
        email=f"bench-{tag}@example.com",
        role=Role.COORDINATOR,
        organization=org,
    )
    return org, clinic, coordinator


def add_plans(
    *,
    org_id: int,
    clinic_id: int,
    coordinator_id: int | None,
    n: int,
    tag: str,
    zones: list[str],
    start: int = 0,
) -> None:
    """``n`` patients, each with one active plan and one TMS component (bulk SQL)."""
    from django.db import connection

    from modalities.models import Protocol

    proto = Protocol.objects.filter(code="tms_10hz_ldlpfc_mdd").order_by("-version").first()
    ind = proto.indications.first()
    params = {
        "org": org_id,
        "clinic": clinic_id,
        "coord": coordinator_id,
        "n": n,
        "tag": tag,
        "zones": zones,
        "start": start,
        "proto": proto.pk,
        "ind": ind.pk,
        "label": ind.label_status,
        "target": proto.target,
    }
    with connection.cursor() as cur:
        cur.execute(
            """
            INSERT INTO plans_patient (mrn, given_name, family_name, birth_date, phone, email,
                timezone, preferred_channel, sms_consent_at, created_at, updated_at,
                organization_id)
            SELECT %(tag)s || '-' || g, 'Bench', 'P' || g, DATE '1980-01-01',
                   '+1' || (201 + (g / 100) %% 700) || '55501' || lpad((g %% 100)::text, 2, '0'),
                   'b' || g || '@example.com',
                   (%(zones)s::text[])[1 + g %% cardinality(%(zones)s::text[])], 'sms', now(),
                   now(), now(), %(org)s
            FROM generate_series(%(start)s + 1, %(start)s + %(n)s) g
            """,
            params,
        )
        cur.execute(
            """
            INSERT INTO plans_careplan (title, status, status_reason, diagnoses, goals,
                created_at, updated_at, clinic_id, coordinator_id, organization_id, patient_id)
            SELECT 'Bench plan', 'active', '', ARRAY['F33.2'], '',
                   now() - (p.id %% 1000000) * interval '1 second', now(), %(clinic)s,
                   %(coord)s, %(org)s, p.id
            FROM plans_patient p
            WHERE p.organization_id = %(org)s
              AND NOT EXISTS (SELECT 1 FROM plans_careplan c WHERE c.patient_id = p.id)
            """,
            params,
        )
        cur.execute(
            """
            INSERT INTO plans_plancomponent (label_status, target, laterality, rationale,
                payer_type, payer_name, status, position, created_at, updated_at,
                indication_id, plan_id, protocol_id)
            SELECT %(label)s, %(target)s, '', '', 'self_pay', '', 'active', 0, now(), now(),
                   %(ind)s, c.id, %(proto)s
            FROM plans_careplan c
            WHERE c.organization_id = %(org)s
              AND NOT EXISTS (SELECT 1 FROM plans_plancomponent x WHERE x.plan_id = c.id)
            """,
            params,
        )
        cur.execute("ANALYZE plans_patient, plans_careplan, plans_plancomponent")


def detail_plan(
    *, org, clinic, coordinator, evaluations: int = 40, measures: int = 30, open_flags: int = 25
) -> int:
    """A realistic plan to read: 4 components (TMS M1 for fibromyalgia, SPRAVATO, follow-up, IV
    ketamine), ``evaluations`` steps and ``measures`` PHQ-9/GAD-7 through the services, and
    ``open_flags`` open monitoring flags (one per fulfilled SPRAVATO session, issue 17)."""
    from datetime import date, timedelta

    from django.utils import timezone

    from modalities.models import Protocol
    from plans import services
    from plans.models import Flag, Patient

    patient = Patient.objects.create(
        organization=org,
        mrn=f"DETAIL-{org.pk}",
        given_name="Alex",
        family_name="Example",
        birth_date=date(1979, 4, 12),
        phone="+15555550111",
        email="alex@example.com",
        timezone="America/New_York",
    )
    comps = []
    for code in (
        "tms_hf_lm1_fibromyalgia",
        "spravato_trd",
        "psychiatric_follow_up",
        "ketamine_iv_depression",
    ):
        proto = Protocol.objects.filter(code=code).order_by("-version").first()
        comps.append(
            {"protocol": proto, "indication": proto.indications.first(), "payer_type": "self_pay"}
        )
    plan = services.create_plan(
        patient=patient, clinic=clinic, by=coordinator, title="Detail", components=comps
    )
    now = timezone.now()
    kinds = ["psychiatric_evaluation", "transport_plan", "pdmp_check", "off_label_consent"]
    for i in range(evaluations):
        services.record_evaluation(
            patient=patient,
            by=coordinator,
            plan=plan,
            kind=kinds[i % 4],
            performed_at=now - timedelta(days=i),
        )
    for i in range(measures):
        instrument, answers = (
            ("phq9", {f"q{j}": 1 for j in range(1, 10)} | {"q9": 0})
            if i % 2
            else ("gad7", {f"q{j}": 1 for j in range(1, 8)})
        )
        services.record_measure(
            patient=patient,
            by=coordinator,
            plan=plan,
            instrument=instrument,
            answers=answers,
            taken_at=now - timedelta(days=i),
        )
    Flag.objects.bulk_create(
        Flag(
            plan=plan,
            patient=patient,
            code="MONITORING_FORM_MISSING",
            requirement_key=f"bench:{i}",
            severity="warning",
            message="A monitoring form is missing.",
        )
        for i in range(open_flags)
    )
    return plan.pk


def add_due_reminders(*, org_id: int, clinic_id: int) -> int:
    """One booked session tomorrow and one SMS reminder due a minute ago per plan."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            """
            INSERT INTO scheduling_session (kind, sequence, phase, starts_at, ends_at, status,
                completion, override_reason, cancel_reason, created_at, updated_at, clinic_id,
                component_id, patient_id)
            SELECT 'treatment', 1, '', t, t + interval '40 minutes', 'booked', '{}'::jsonb, '',
                   '', now(), now(), %(clinic)s, pc.id, c.patient_id
            FROM plans_careplan c
            JOIN plans_plancomponent pc ON pc.plan_id = c.id
            CROSS JOIN LATERAL (SELECT date_trunc('minute', now()) + interval '1 day'
                                       + (c.id %% 600) * interval '1 minute' AS t) ts
            WHERE c.organization_id = %(org)s
            """,
            {"org": org_id, "clinic": clinic_id},
        )
        cur.execute(
            """
            INSERT INTO scheduling_reminder (key, session_ids, channel, kind, due_at, status,
                attempts, last_error, provider_id, subject, body, skip_reason, created_at,
                updated_at, patient_id, session_id, announced)
            SELECT 'bench:' || s.id, ARRAY[s.id], 'sms', 'reminder',
                   now() - interval '1 minute', 'pending', 0, '', '', '', '', '', now(), now(),
                   s.patient_id, s.id, '{}'::jsonb
            FROM scheduling_session s WHERE s.clinic_id = %(clinic)s
            """,
            {"clinic": clinic_id},
        )
        cur.execute("ANALYZE scheduling_session, scheduling_reminder")
        cur.execute(
            "SELECT count(*) FROM scheduling_reminder r JOIN scheduling_session s"
            " ON s.id = r.session_id WHERE s.clinic_id = %s",
            [clinic_id],
        )
        return cur.fetchone()[0]


def reset_reminders(clinic_id: int) -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            """
            UPDATE scheduling_reminder r SET status = 'pending', attempts = 0, claimed_at = NULL,
                sent_at = NULL, provider_id = '', body = '', announced = '{}'::jsonb,
                due_at = now() - interval '1 minute'
            FROM scheduling_session s WHERE s.id = r.session_id AND s.clinic_id = %s
            """,
            [clinic_id],
        )


def drop_org(org_id: int) -> None:
    """Remove everything ``make_org`` / ``add_*`` created (and the audit rows of its users)."""
    from django.db import connection

    with connection.cursor() as cur:
        for sql in (
            # flags first: a flag may name a session
            "DELETE FROM plans_flag WHERE plan_id IN"
            " (SELECT id FROM plans_careplan WHERE organization_id = %(o)s)",
            "DELETE FROM scheduling_reminder WHERE patient_id IN"
            " (SELECT id FROM plans_patient WHERE organization_id = %(o)s)",
            "DELETE FROM scheduling_session WHERE patient_id IN"
            " (SELECT id FROM plans_patient WHERE organization_id = %(o)s)",
            "DELETE FROM plans_measure WHERE patient_id IN"
            " (SELECT id FROM plans_patient WHERE organization_id = %(o)s)",
            "DELETE FROM plans_evaluation WHERE patient_id IN"
            " (SELECT id FROM plans_patient WHERE organization_id = %(o)s)",
            "DELETE FROM plans_priorauthorization WHERE component_id IN (SELECT c.id FROM"
            " plans_plancomponent c JOIN plans_careplan p ON p.id = c.plan_id"
            " WHERE p.organization_id = %(o)s)",
            "DELETE FROM plans_plancomponent WHERE plan_id IN"
            " (SELECT id FROM plans_careplan WHERE organization_id = %(o)s)",
            "DELETE FROM plans_careplan WHERE organization_id = %(o)s",
            "DELETE FROM plans_careteammember WHERE patient_id IN"
            " (SELECT id FROM plans_patient WHERE organization_id = %(o)s)",
            "DELETE FROM audit_auditevent WHERE organization_id = %(o)s OR actor_id IN"
            " (SELECT id FROM accounts_user WHERE organization_id = %(o)s) OR patient_id IN"
            " (SELECT id FROM plans_patient WHERE organization_id = %(o)s)",
            "DELETE FROM authtoken_token WHERE user_id IN"
            " (SELECT id FROM accounts_user WHERE organization_id = %(o)s)",
            "DELETE FROM plans_patient WHERE organization_id = %(o)s",
            "DELETE FROM accounts_user WHERE organization_id = %(o)s",
            "DELETE FROM scheduling_clinic WHERE organization_id = %(o)s",
            "DELETE FROM accounts_organization WHERE id = %(o)s",
        ):
            cur.execute(sql, {"o": org_id})
    vacuum()


def vacuum(*tables: str) -> None:
    """``VACUUM ANALYZE`` ``tables`` (all when none are named), as autovacuum would after a
    bulk change. This machine's PostgreSQL runs with ``autovacuum = off``: without it every
    dropped world and every deleted flag stays behind as dead rows, so each run measures the
    bloat the runs before it left (issue 17: 3 M dead flags, evaluations and measures made a
    100 k-plan re-scan 16× a 10 k one) instead of the code."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(f"VACUUM ANALYZE {', '.join(tables)}")  # the benchmarks' own table names


def scalar(sql: str, params: list) -> Any:
    """The one value a query returns (a count, for the benchmarks' checks)."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchone()[0]


def tag() -> str:
    return f"{os.getpid()}-{int(time.time())}"


def production_env(**extra: str) -> dict[str, str]:
    """Environment of a production-settings process on this machine (HTTP on 127.0.0.1)."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "backend.settings.production",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        **extra,
    }


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("server exited during start")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("server did not start")

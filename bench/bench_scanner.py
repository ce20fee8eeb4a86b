"""Flag scanner at scale (issue 17): 10 k and 100 k plans with a realistic history, first scan,
full re-scan (every plan judged again), the next beat tick with nothing changed and a tick after
1 % of the patients got a PHQ-9 (only the plans whose answer may have moved are judged:
plans/scanner/stability.py), the raw SQL floor measured in the same run, ratios and peak
memory; for the first scan also a write floor (its flags inserted by plain SQL), since the
read floor writes nothing.

Run with ``make bench BENCH=scanner`` (``python -m bench scanner``); sizes and history through
the environment (see ``main``). Each size runs in its own process; its synthetic plans
belong to a fresh organisation (committed, so the processes that share a scan see them) that
is removed at the end (``bench._world.drop_org``).
``build_world`` (ORM, small) is shared with the tests in tests/workers/; ``build_world_sql``
builds the same mix with bulk SQL for the benchmark sizes.
"""

from __future__ import annotations

import itertools
import json
import os
import resource
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta

from bench import _world

ZONES = (
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "Pacific/Honolulu",
)
_run = itertools.count(1)


def build_world(*, n_plans: int, now: datetime, clinic, coordinator=None) -> list[int]:
    """``n_plans`` active plans with a mix of gaps, in a handful of bulk inserts.

    Every third plan is SPRAVATO (first dose 30 days ago, a dose 10 days ago without a PMF, the
    next booked 48 h ahead, REMS enrolment missing); the others are a running TMS course with
    no PHQ-9 for two weeks; every fifth plan's last two visits were no-shows; every fourth has
    a prior authorisation for 3 sessions expiring in a week; every seventh has not started.
    """
    from modalities.models import Protocol
    from plans.models import CarePlan, Patient, PlanComponent, PriorAuthorization
    from scheduling.models import Session

    tag = f"{os.getpid()}-{next(_run)}-{int(time.time() * 1000)}"
    protos = {}
    for code in ("tms_10hz_ldlpfc_mdd", "spravato_trd"):
        p = Protocol.objects.filter(code=code).order_by("-version").first()
        protos[code] = (p, p.indications.first())
    patients = Patient.objects.bulk_create(
        Patient(
            organization_id=clinic.organization_id,
            mrn=f"B{tag}-{i}",
            given_name="Bench",
            family_name=f"P{i}",
            birth_date=date(1980, 1, 1),
            phone=f"+1{201 + (i // 100) % 700}55501{i % 100:02d}",  # fictional 555-01xx
            timezone=ZONES[i % len(ZONES)],
            preferred_channel="sms",
        )
        for i in range(n_plans)
    )
    plans = CarePlan.objects.bulk_create(
        CarePlan(
            patient=pt,
            organization_id=clinic.organization_id,
            clinic=clinic,
            title="Bench plan",
            diagnoses=["F33.2"],
            status="active",
            coordinator=coordinator,
        )
        for pt in patients
    )
    comps = []
    for i, plan in enumerate(plans):
        proto, ind = protos["spravato_trd" if i % 3 == 0 else "tms_10hz_ldlpfc_mdd"]
        comps.append(
            PlanComponent(
                plan=plan,
                protocol=proto,
                indication=ind,
                label_status=ind.label_status,
                target=proto.target,
                payer_type="commercial",
                status="active",
            )
        )
    comps = PlanComponent.objects.bulk_create(comps)
    PriorAuthorization.objects.bulk_create(
        PriorAuthorization(
            component=comp,
            number="PA-1",
            authorized_units=3,
            status="approved",
            ends_on=(now + timedelta(days=7)).date(),
        )
        for i, comp in enumerate(comps)
        if i % 4 == 0
    )
    sessions = []
    for i, comp in enumerate(comps):
        pid = comp.plan.patient_id

        def add(days: float, status: str, *, comp=comp, pid=pid) -> None:
            start = (now + timedelta(days=days)).replace(second=0, microsecond=0)
            sessions.append(
                Session(
                    component=comp,
                    patient_id=pid,
                    clinic=clinic,
                    kind="treatment",
                    starts_at=start,
                    ends_at=start + timedelta(minutes=40),
                    status=status,
                )
            )

        past = [-30, -26, -10] if i % 3 == 0 else [-14, -12, -10, -8, -6, -4, -2]
        if i % 7 == 1:  # not started yet: pre-course requirements are still open
            past = []
        for n, d in enumerate(past):
            noshow = i % 5 == 0 and n >= len(past) - 2
            add(d, "noshow" if noshow else "fulfilled")
        for d in (2, 4, 6):
            add(d, "booked")
    Session.objects.bulk_create(sessions, batch_size=5000)
    return [p.pk for p in plans]


# ---------------------------------------------------------------------------------------------
# The bench world at scale: the same mix as build_world, written with INSERT … SELECT over
# generate_series (100 k plans in well under a minute), plus a realistic history per patient.

_WORLD_SQL = [
    "CREATE TEMP TABLE bw (i int PRIMARY KEY, spravato bool, patient_id bigint,"
    " plan_id bigint, component_id bigint) ON COMMIT DROP",
    "INSERT INTO bw (i, spravato) SELECT i, i %% 3 = 0 FROM generate_series(0, %(n)s - 1) i",
    """WITH ins AS (
        INSERT INTO plans_patient (mrn, given_name, family_name, birth_date, phone, email,
            timezone, preferred_channel, created_at, updated_at, organization_id)
        SELECT 'B' || %(tag)s || '-' || i, 'Bench', 'P' || i, DATE '1980-01-01',
            '+1' || (201 + (i / 100) %% 700) || '55501' || lpad((i %% 100)::text, 2, '0'), '',
            (%(zones)s::text[])[1 + i %% 5], 'sms', %(now)s, %(now)s, %(org)s
        FROM bw RETURNING id, mrn)
    UPDATE bw SET patient_id = ins.id FROM ins WHERE ins.mrn = 'B' || %(tag)s || '-' || bw.i""",
    """WITH ins AS (
        INSERT INTO plans_careplan (title, status, status_reason, diagnoses, goals, created_at,
            updated_at, clinic_id, organization_id, patient_id, coordinator_id)
        SELECT 'Bench plan', 'active', '', ARRAY['F33.2'], '', %(now)s, %(now)s, %(clinic)s,
            %(org)s, patient_id, %(coordinator)s FROM bw RETURNING id, patient_id)
    UPDATE bw SET plan_id = ins.id FROM ins WHERE ins.patient_id = bw.patient_id""",
    """WITH ins AS (
        INSERT INTO plans_plancomponent (label_status, target, laterality, rationale, payer_type,
            payer_name, status, position, created_at, updated_at, indication_id, plan_id,
            protocol_id)
        SELECT CASE WHEN spravato THEN %(s_label)s ELSE %(t_label)s END,
            CASE WHEN spravato THEN %(s_target)s ELSE %(t_target)s END, '', '', 'commercial', '',
            'active', 0, %(now)s, %(now)s,
            CASE WHEN spravato THEN %(s_ind)s ELSE %(t_ind)s END, plan_id,
            CASE WHEN spravato THEN %(s_proto)s ELSE %(t_proto)s END
        FROM bw RETURNING id, plan_id)
    UPDATE bw SET component_id = ins.id FROM ins WHERE ins.plan_id = bw.plan_id""",
    """INSERT INTO plans_priorauthorization (payer_name, number, authorized_units, status,
            ends_on, decision_note, created_at, updated_at, component_id)
        SELECT '', 'PA-1', 3, 'approved', (%(now)s::timestamptz + interval '7 days')::date, '',
            %(now)s, %(now)s, component_id FROM bw WHERE i %% 4 = 0""",
    # past visits (the last two no-shows for every fifth plan; none when not started), then
    # three booked sessions ahead
    """INSERT INTO scheduling_session (kind, phase, starts_at, ends_at, status, completion,
            override_reason, cancel_reason, created_at, updated_at, clinic_id, component_id,
            patient_id)
        SELECT 'treatment', '', at, at + interval '40 minutes', status, '{}', '', '',
            %(now)s, %(now)s, %(clinic)s, component_id, patient_id
        FROM (
            SELECT bw.component_id, bw.patient_id,
                date_trunc('minute', %(now)s::timestamptz + d * interval '1 day') AS at,
                CASE WHEN bw.i %% 5 = 0 AND ord > cardinality(days) - 2 THEN 'noshow'
                     ELSE 'fulfilled' END AS status
            FROM bw
            CROSS JOIN LATERAL (SELECT CASE WHEN bw.i %% 7 = 1 THEN '{}'::int[]
                                            WHEN bw.spravato THEN '{-30,-26,-10}'::int[]
                                            ELSE '{-14,-12,-10,-8,-6,-4,-2}'::int[] END) a(days)
            CROSS JOIN LATERAL unnest(days) WITH ORDINALITY u(d, ord)
            UNION ALL
            SELECT bw.component_id, bw.patient_id,
                date_trunc('minute', %(now)s::timestamptz + d * interval '1 day'), 'booked'
            FROM bw CROSS JOIN unnest('{2,4,6}'::int[]) f(d)
        ) s""",
    # history: evaluations of kinds the requirements read, all older than the windows that
    # matter, and weekly PHQ-9s that stopped two weeks ago (so the gaps stay those above)
    """INSERT INTO plans_evaluation (kind, status, performed_at, data, note, recorded_at,
            error_reason, recorded_by_id, patient_id)
        SELECT (ARRAY['psychiatric_evaluation', 'baseline_bp', 'medical_clearance',
                      'pdmp_check', 'tms_safety_screen'])[1 + k %% 5], 'final',
            %(now)s::timestamptz - (400 + 30 * k) * interval '1 day', '{}', '', %(now)s, '',
            %(clinician)s, patient_id
        FROM bw CROSS JOIN generate_series(1, %(history)s) k""",
    """INSERT INTO plans_measure (instrument, answers, total, band, risk, subscores,
            safety_alert, is_baseline, taken_at, status, recorded_at, error_reason,
            recorded_by_id, patient_id)
        SELECT 'phq9', '[1,1,1,1,1,1,1,1,1]', 9, 'mild', '', '{}', false, k = %(history)s,
            %(now)s::timestamptz - (14 + 7 * k) * interval '1 day', 'final', %(now)s, '',
            %(clinician)s, patient_id
        FROM bw CROSS JOIN generate_series(1, %(history)s) k""",
]


def build_world_sql(*, n_plans: int, now: datetime, clinic, clinician, history: int) -> None:
    """``build_world``'s plans (same gap mix) in a fixed number of bulk SQL statements, plus
    ``history`` evaluations and PHQ-9s per patient. Must run inside a transaction."""
    from django.db import connection

    from modalities.models import Protocol

    def proto(code: str):
        p = Protocol.objects.filter(code=code).order_by("-version").first()
        return p, p.indications.first()

    (tp, ti), (sp, si) = proto("tms_10hz_ldlpfc_mdd"), proto("spravato_trd")
    params = {
        "n": n_plans,
        "tag": f"{os.getpid()}-{int(time.time() * 1000)}",
        "now": now,
        "zones": list(ZONES),
        "org": clinic.organization_id,
        "clinic": clinic.pk,
        "coordinator": None,
        "clinician": clinician.pk,
        "history": history,
        "t_proto": tp.pk,
        "t_ind": ti.pk,
        "t_label": ti.label_status,
        "t_target": tp.target,
        "s_proto": sp.pk,
        "s_ind": si.pk,
        "s_label": si.label_status,
        "s_target": sp.target,
    }
    with connection.cursor() as cursor:
        for sql in _WORLD_SQL:
            cursor.execute(sql, params)
        cursor.execute("DROP TABLE bw")
        cursor.execute("ANALYZE")


# One raw SQL pass reading what a scan must read for every plan (plans × components × sessions,
# evaluations and measures per patient) — no rules, no writes: the floor a scan is compared to.
FLOOR_SQL = """
    SELECT p.id, count(DISTINCT c.id), count(s.id), max(s.starts_at),
           (SELECT count(*) FROM plans_evaluation e WHERE e.patient_id = p.patient_id),
           (SELECT max(m.taken_at) FROM plans_measure m WHERE m.patient_id = p.patient_id)
    FROM plans_careplan p
    JOIN plans_plancomponent c ON c.plan_id = p.id
    LEFT JOIN scheduling_session s ON s.component_id = c.id
    WHERE p.status IN ('active', 'on-hold')
    GROUP BY p.id
"""


def _floor(connection) -> float:
    t0 = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(FLOOR_SQL)
        cursor.fetchall()
    return time.perf_counter() - t0


# The columns a flag insert writes (the table's own, but for the generated id and the
# dismissal ones a new flag leaves empty).
_FLAG_COLUMNS = (
    "patient_id, plan_id, component_id, session_id, code, requirement_key, severity, status,"
    " message, detail, due_at, opened_at, updated_at, dismiss_reason"
)
_WRITE_FLOOR_SQL = (
    f"INSERT INTO plans_flag ({_FLAG_COLUMNS}) SELECT {_FLAG_COLUMNS} FROM bench_flags"  # noqa: S608  (fixed column list)
)


def _write_floor(connection, org_id: int) -> float:
    """What writing the first scan's flags costs PostgreSQL alone: the flags the scan opened,
    copied aside, deleted and inserted again by one ``INSERT … SELECT`` with their foreign-key
    checks (``SET CONSTRAINTS ALL IMMEDIATE`` runs what the commit would), then rolled back.
    The read floor (``FLOOR_SQL``) writes nothing, so a first scan — which opens about ten
    flags a plan here — is also given against the sum of the two."""
    from django.db import transaction

    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(
            "CREATE TEMP TABLE bench_flags ON COMMIT DROP AS SELECT f.* FROM plans_flag f"
            " JOIN plans_careplan p ON p.id = f.plan_id WHERE p.organization_id = %s",
            [org_id],
        )
        cur.execute(
            "DELETE FROM plans_flag f USING plans_careplan p"
            " WHERE p.id = f.plan_id AND p.organization_id = %s",
            [org_id],
        )
        # as the scanner writes: its own writes do not mark plans changed (plans.scanner.stability)
        cur.execute("SELECT set_config('plans.scan_writer', 'on', true)")
        t0 = time.perf_counter()
        cur.execute(_WRITE_FLOOR_SQL)
        cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
        elapsed = time.perf_counter() - t0
        transaction.set_rollback(True)
    return elapsed


def _record_phq9s(org_id: int, *, every: int, at: datetime, by: int) -> int:
    """A PHQ-9 for every ``every``-th patient of the organisation (one statement; the triggers
    mark their plans changed), taken at ``at``; how many."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            """INSERT INTO plans_measure (instrument, answers, total, band, risk, subscores,
                    safety_alert, is_baseline, taken_at, status, recorded_at, error_reason,
                    recorded_by_id, patient_id)
                SELECT 'phq9', '[1,1,1,1,1,1,1,1,1]', 9, 'mild', '', '{}', false, false, %s,
                    'final', %s, '', %s, id
                FROM plans_patient WHERE organization_id = %s AND id %% %s = 0""",
            [at, at, by, org_id, every],
        )
        return cur.rowcount


def _forget_phq9s(org_id: int, *, at: datetime) -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "DELETE FROM plans_measure m USING plans_patient p"
            " WHERE p.id = m.patient_id AND p.organization_id = %s AND m.taken_at = %s",
            [org_id, at],
        )


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _flags_opened(org_id: int) -> int:
    return _world.scalar(
        "SELECT count(*) FROM plans_flag f JOIN plans_careplan p ON p.id = f.plan_id"
        " WHERE p.organization_id = %s",
        [org_id],
    )


def scan_part() -> None:
    """One of the processes of a shared scan: the chunks in ``BENCH_SCAN_PART`` (JSON), judged
    at ``BENCH_SCAN_NOW``, started when the parent writes a line (so every process is set up
    and connected before the clock starts, as running workers are)."""
    _world.setup_django()
    from django.db import connection

    from plans.scanner import scan_chunk

    bounds = json.loads(os.environ["BENCH_SCAN_PART"])
    now = datetime.fromisoformat(os.environ["BENCH_SCAN_NOW"])
    force = os.environ.get("BENCH_SCAN_FORCE") == "1"
    connection.ensure_connection()
    print("ready", flush=True)
    sys.stdin.readline()
    opened = sum(
        scan_chunk(after_id=lo, upto_id=hi, now=now, force=force).opened for lo, hi in bounds
    )
    print(json.dumps({"opened": opened, "peak_rss_mb": _peak_rss_mb()}), flush=True)


def scan_in_processes(workers: int, now: datetime, *, force: bool = False) -> dict:
    """Wall time of one scan shared by ``workers`` processes, each taking every
    ``workers``-th chunk — what ``workers`` Celery workers on the ``flags`` queue do with the
    chunk tasks ``plans.scan_flags`` fans out (tests/workers/test_scanner_fanout.py runs that
    through real workers), without the broker round trips."""
    from plans.scanner import chunk_bounds

    bounds = chunk_bounds()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", "import bench.bench_scanner as b; b.scan_part()"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={
                **os.environ,
                "BENCH_SCAN_PART": json.dumps(bounds[i::workers]),
                "BENCH_SCAN_NOW": now.isoformat(),
                "BENCH_SCAN_FORCE": "1" if force else "0",
            },
        )
        for i in range(workers)
    ]
    try:
        for p in procs:
            if p.stdout is None or p.stdout.readline().strip() != "ready":
                raise RuntimeError("a scan process did not start")
        t0 = time.perf_counter()
        for p in procs:
            if p.stdin is not None:
                p.stdin.write("go\n")
                p.stdin.flush()
        outs = [json.loads(p.stdout.readline()) for p in procs if p.stdout is not None]
        wall = time.perf_counter() - t0
    finally:
        for p in procs:
            if p.wait(timeout=600) != 0:
                raise RuntimeError(f"scan process exited {p.returncode}")
    return {
        "wall_s": wall,
        "opened": sum(o["opened"] for o in outs),
        "peak_rss_mb": max(o["peak_rss_mb"] for o in outs),
    }


def run_one(n: int, history: int, workers: int = 2) -> dict:
    """One size in this (fresh) process: build (committed, in a fresh organisation), first
    scan, re-scan and floor in this process, then the same first scan and re-scan shared by
    ``workers`` processes; the organisation is removed at the end (``_world.drop_org``)."""
    _world.setup_django()
    from django.db import connection, transaction

    from backend.accounts.models import User
    from modalities.services import sync_catalogue
    from plans.scanner import scan_all_plans

    now = datetime.now(UTC)
    sync_catalogue()
    tag = _world.tag()
    org, clinic, _ = _world.make_org(tag)
    try:
        clinician = User.objects.create(
            username=f"bench-clin-{tag}",
            role="clinician",
            credential="psychiatrist",
            organization=org,
            email=f"bench-clin-{tag}@example.com",
        )
        t0 = time.perf_counter()
        with transaction.atomic():
            build_world_sql(n_plans=n, now=now, clinic=clinic, clinician=clinician, history=history)
        built = time.perf_counter() - t0
        rss_built = _peak_rss_mb()
        t0 = time.perf_counter()
        first = scan_all_plans(now=now)
        scan = time.perf_counter() - t0
        flags = _flags_opened(org.pk)
        _world.vacuum("plans_flag")  # autovacuum's analyze after 1 M new flags (_world.vacuum)
        _world.vacuum("plans_planscanstate", "plans_planchange")
        # every plan judged again (``force``: what every scan did before plans.scanner.stability)
        t0 = time.perf_counter()
        second = scan_all_plans(now=now, force=True)
        rescan = time.perf_counter() - t0
        # the next beat tick, 10 minutes on, nothing changed: only the plans whose answer may
        # have moved with the clock are judged
        tick = now + timedelta(minutes=10)
        t0 = time.perf_counter()
        ticked = scan_all_plans(now=tick)
        tick_s = time.perf_counter() - t0
        # a busy 10 minutes: 1 % of the patients get a PHQ-9, then the next tick
        changed = _record_phq9s(org.pk, every=100, at=tick, by=clinician.pk)
        t0 = time.perf_counter()
        busy = scan_all_plans(now=tick + timedelta(minutes=10))
        busy_s = time.perf_counter() - t0
        _forget_phq9s(org.pk, at=tick)  # the world the shared scans judge is the first one's
        floor = min(_floor(connection) for _ in range(3))  # the best of three: a stricter floor
        peak = _peak_rss_mb()
        # the same scans shared by processes: from no flags, then again with nothing to change
        with connection.cursor() as cursor:
            cursor.execute(
                "DELETE FROM plans_flag WHERE plan_id IN"
                " (SELECT id FROM plans_careplan WHERE organization_id = %s)",
                [org.pk],
            )
        _world.vacuum("plans_flag")
        shared = scan_in_processes(workers, now)
        shared_flags = _flags_opened(org.pk)
        _world.vacuum("plans_flag")
        shared_re = scan_in_processes(workers, now, force=True)
        # last, on the same flags (the scans opened them again): its rolled-back rows are
        # vacuumed with the dropped world's, not in a pass of their own
        write_floor = min(_write_floor(connection, org.pk) for _ in range(3 if n <= 20_000 else 1))
    finally:
        _world.drop_org(org.pk)
    return {
        "plans": first.plans,
        "chunks": first.chunks,
        "opened": first.opened,
        "reopened": second.opened,
        "tick_s": tick_s,
        "tick_judged": ticked.plans,
        "busy_s": busy_s,
        "busy_changed": changed,
        "busy_judged": busy.plans,
        "build_s": built,
        "scan_s": scan,
        "rescan_s": rescan,
        "floor_s": floor,
        "write_floor_s": write_floor,
        "rss_before_scan_mb": rss_built,
        "peak_rss_mb": peak,
        "workers": workers,
        "shared_scan_s": shared["wall_s"],
        "shared_rescan_s": shared_re["wall_s"],
        "shared_same_flags": shared_flags == flags and shared_re["opened"] == 0,
        "shared_peak_rss_mb": max(shared["peak_rss_mb"], shared_re["peak_rss_mb"]),
    }


def main() -> None:
    """Each size in its own process (a clean peak RSS per size), then the scaling ratio.

    ``BENCH_SCANNER_SIZES`` (default ``10000,100000``; ``BENCH_SCANNER_PLANS`` for one size),
    ``BENCH_SCANNER_HISTORY`` evaluations + PHQ-9s per patient (default 10),
    ``FLAG_SCAN_CHUNK_PLANS`` plans per chunk (default 2000).
    """
    sizes = os.environ.get("BENCH_SCANNER_SIZES") or os.environ.get(
        "BENCH_SCANNER_PLANS", "10000,100000"
    )
    history = int(os.environ.get("BENCH_SCANNER_HISTORY", "10"))
    results = {}
    for n in (int(s) for s in sizes.split(",") if s.strip()):
        out = subprocess.run(
            [
                sys.executable,
                "-c",
                f"import json, bench.bench_scanner as b; "
                f"print(json.dumps(b.run_one({n}, {history})))",
            ],
            check=True,
            capture_output=True,
            text=True,
            env=os.environ,
        )
        r = json.loads(out.stdout.strip().splitlines()[-1])
        results[n] = r
        print(
            f"scanner {n:,} plans (+{history} evaluations, +{history} PHQ-9 per patient, "
            f"{r['chunks']} chunks): first scan {r['scan_s']:.2f}s "
            f"({r['plans'] / r['scan_s']:,.0f} plans/s, opened {r['opened']}); "
            f"full re-scan {r['rescan_s']:.2f}s (opened {r['reopened']}); raw floor "
            f"{r['floor_s']:.2f}s; scan/floor {r['scan_s'] / r['floor_s']:.1f}x, "
            f"full re-scan/floor {r['rescan_s'] / r['floor_s']:.1f}x; peak RSS "
            f"{r['peak_rss_mb']:.0f} MB ({r['rss_before_scan_mb']:.0f} MB before the scan); "
            f"build {r['build_s']:.1f}s",
            flush=True,
        )
        print(
            f"  next tick (10 min on, nothing changed): {r['tick_s']:.2f}s "
            f"({r['tick_s'] / r['floor_s']:.2f}x floor, {r['tick_judged']} plans judged); "
            f"a tick after {r['busy_changed']} PHQ-9s: {r['busy_s']:.2f}s "
            f"({r['busy_s'] / r['floor_s']:.2f}x floor, {r['busy_judged']} plans judged)",
            flush=True,
        )
        both = r["floor_s"] + r["write_floor_s"]
        print(
            f"  write floor (the {r['opened']} flags by one INSERT … SELECT, foreign-key checks "
            f"included) {r['write_floor_s']:.2f}s; first scan / (read + write floor) "
            f"{r['scan_s'] / both:.1f}x, shared by {r['workers']} processes "
            f"{r['shared_scan_s'] / both:.1f}x",
            flush=True,
        )
        print(
            f"  shared by {r['workers']} processes (chunks as the flags workers share them): "
            f"first scan {r['shared_scan_s']:.2f}s ({r['shared_scan_s'] / r['floor_s']:.1f}x "
            f"floor), full re-scan {r['shared_rescan_s']:.2f}s "
            f"({r['shared_rescan_s'] / r['floor_s']:.1f}x floor), same flags as one process: "
            f"{r['shared_same_flags']}; peak RSS per process {r['shared_peak_rss_mb']:.0f} MB; "
            f"{_world.load()}",
            flush=True,
        )
    if len(results) >= 2:
        small, large = min(results), max(results)
        print(
            f"scanner scaling {large:,}/{small:,} plans: time ratio "
            f"{results[large]['scan_s'] / results[small]['scan_s']:.1f} "
            f"(linear = {large / small:.0f}); full re-scan ratio "
            f"{results[large]['rescan_s'] / results[small]['rescan_s']:.1f}; tick ratio "
            f"{results[large]['tick_s'] / results[small]['tick_s']:.1f}; shared by "
            f"{results[large]['workers']} processes: time ratio "
            f"{results[large]['shared_scan_s'] / results[small]['shared_scan_s']:.1f}"
        )


if __name__ == "__main__":
    main()

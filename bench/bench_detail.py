"""Plan detail cost against a hand-written SQL + json floor, in one process (issue 17).

One realistic plan (4 components: TMS M1 for fibromyalgia, SPRAVATO, follow-up, IV ketamine;
40 evaluations, 30 PHQ-9/GAD-7, 25 open flags) in a fresh organisation (removed at the end).

- ours: ``GET /api/v1/plans/{id}/`` through Django's request handler in this process (token
  authentication, access check, audit event, selectors, readiness, serialization, JSON);
- floor: the same rows read by five hand-written queries (plan with patient, clinic and
  coordinator; components with protocol and indication; the patient's evaluations and measures;
  the plan's newest open flags) and ``json.dumps`` of them — no rules, no audit.

Median of ``BENCH_DETAIL_REPEATS`` (200) each; prints the ratio. The history is sized by
``BENCH_DETAIL_EVALUATIONS`` (40), ``BENCH_DETAIL_MEASURES`` (30) and ``BENCH_DETAIL_FLAGS`` (25).
``make bench BENCH=detail``. Figures, not assertions.
"""

from __future__ import annotations

import json
import os
import statistics
import time

from bench import _world

FLOOR = (
    """SELECT p.*, pt.mrn, pt.given_name, pt.family_name, pt.timezone, c.name, c.timezone,
              c.rems_certified_until, u.username
       FROM plans_careplan p JOIN plans_patient pt ON pt.id = p.patient_id
       JOIN scheduling_clinic c ON c.id = p.clinic_id
       LEFT JOIN accounts_user u ON u.id = p.coordinator_id WHERE p.id = %(plan)s""",
    """SELECT pc.*, pr.code, pr.version, pr.modality, pr.title, pr.target, pr.phases,
              i.code, i.name, i.category, i.label_status
       FROM plans_plancomponent pc JOIN modalities_protocol pr ON pr.id = pc.protocol_id
       JOIN modalities_protocolindication i ON i.id = pc.indication_id
       WHERE pc.plan_id = %(plan)s ORDER BY pc.position, pc.id""",
    """SELECT * FROM plans_evaluation WHERE patient_id = %(patient)s AND status = 'final'""",
    """SELECT * FROM plans_measure WHERE patient_id = %(patient)s AND status = 'final'""",
    """SELECT * FROM plans_flag WHERE plan_id = %(plan)s AND status = 'open'
       ORDER BY opened_at DESC, id DESC LIMIT 21""",
)


def _floor(plan_id: int, patient_id: int) -> float:
    from django.db import connection

    t0 = time.perf_counter()
    payload = {}
    with connection.cursor() as cur:
        for n, sql in enumerate(FLOOR):
            cur.execute(sql, {"plan": plan_id, "patient": patient_id})
            names = [d.name for d in cur.description]
            payload[n] = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    json.dumps(payload, default=str)
    return time.perf_counter() - t0


def main() -> None:
    _world.setup_django()
    from django.test import Client
    from rest_framework.authtoken.models import Token

    from modalities.services import sync_catalogue
    from plans.models import CarePlan

    repeats = int(os.environ.get("BENCH_DETAIL_REPEATS", "200"))
    sync_catalogue()
    org, clinic, coordinator = _world.make_org(_world.tag())
    try:
        sizes = {
            k: int(os.environ.get(f"BENCH_DETAIL_{k.upper()}", d))
            for k, d in (("evaluations", 40), ("measures", 30), ("flags", 25))
        }
        plan_id = _world.detail_plan(
            org=org,
            clinic=clinic,
            coordinator=coordinator,
            evaluations=sizes["evaluations"],
            measures=sizes["measures"],
            open_flags=sizes["flags"],
        )
        patient_id = CarePlan.objects.get(pk=plan_id).patient_id
        token = Token.objects.create(user=coordinator).key
        client = Client(HTTP_AUTHORIZATION=f"Token {token}", HTTP_HOST="127.0.0.1")
        url = f"/api/v1/plans/{plan_id}/"
        assert client.get(url).status_code == 200
        ours, floor = [], []
        for _ in range(repeats):
            t0 = time.perf_counter()
            response = client.get(url)
            ours.append(time.perf_counter() - t0)
            floor.append(_floor(plan_id, patient_id))
        size = len(response.content)
        o, f = statistics.median(ours), statistics.median(floor)
        print(
            f"detail: plan with 4 components, {sizes['evaluations']} evaluations, "
            f"{sizes['measures']} measures, {sizes['flags']} open flags ({size:,} bytes); "
            f"{_world.load()}"
        )
        print(
            f"  ours (full request in-process) {o * 1000:.1f} ms; floor (5 raw queries + json) "
            f"{f * 1000:.1f} ms; ratio {o / f:.2f}x"
        )
    finally:
        _world.drop_org(org.pk)


if __name__ == "__main__":
    main()

"""API throughput over HTTP on the production settings, as ratios of ``/healthz`` (issue 17).

gunicorn (2 sync workers: 2 cores) serves ``backend.settings.production`` on 127.0.0.1 (DEBUG
off, HTTPS redirect off because there is no TLS proxy here). One organisation of
``BENCH_API_PLANS_SMALL`` (1,000) plans, then grown to ``BENCH_API_PLANS_LARGE`` (100,000) with
bulk SQL. For each size and for concurrency 1 and 8 (client threads, one connection per
request): requests/s of ``/healthz`` (the floor: same server, no database), of the plan list
(first keyset page of 50, as a coordinator with a token) and of one plan's detail (4 components,
40 evaluations, 30 measures, 25 open flags). Each request is audited, as in production.

``make bench BENCH=api``; sizes via ``BENCH_API_PLANS_SMALL`` / ``BENCH_API_PLANS_LARGE``,
seconds per figure via ``BENCH_API_SECONDS`` (4). Figures, not assertions: the client shares the
2 cores with the server (and other users).
"""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from bench import _world

ROOT = Path(__file__).resolve().parents[1]
SECONDS = float(os.environ.get("BENCH_API_SECONDS", "4"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rate(port: int, path: str, *, concurrency: int, token: str | None = None) -> float:
    """Successful requests per second over ``SECONDS`` with ``concurrency`` client threads."""
    headers = {"Authorization": f"Token {token}"} if token else {}
    done, errors = [0] * concurrency, []
    stop = time.monotonic() + SECONDS

    def client(i: int) -> None:
        while time.monotonic() < stop:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            try:
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
                response.read()
                if response.status == 200:
                    done[i] += 1
                else:
                    errors.append(response.status)
            finally:
                conn.close()

    t0 = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        print(f"    ({len(errors)} non-200 answers on {path}: {sorted(set(errors))})")
    return sum(done) / (time.perf_counter() - t0)


def _serve(port: int, tmp: Path) -> subprocess.Popen:
    env = _world.production_env(DB_CONN_MAX_AGE="60")
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "backend.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=open(tmp / "gunicorn.log", "wb"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
    )
    _world.wait_for_port(port, proc)
    return proc


def _measure(port: int, token: str, detail_id: int, label: str, *, detail: bool) -> dict:
    out = {}
    for c in (1, 8):
        rate(port, "/healthz", concurrency=c)  # warm every worker
        health = rate(port, "/healthz", concurrency=c)
        plans = rate(port, "/api/v1/plans/", concurrency=c, token=token)
        line = (
            f"  {label} c={c}: /healthz {health:,.0f}/s; plan list {plans:,.0f}/s = "
            f"{plans / health:.3f}x healthz"
        )
        if detail:
            one = rate(port, f"/api/v1/plans/{detail_id}/", concurrency=c, token=token)
            line += f"; plan detail {one:,.0f}/s = {one / health:.3f}x healthz"
        print(line, flush=True)
        out[c] = plans
    return out


def main() -> None:
    import tempfile

    _world.setup_django()
    from rest_framework.authtoken.models import Token

    from modalities.services import sync_catalogue

    small = int(os.environ.get("BENCH_API_PLANS_SMALL", "1000"))
    large = int(os.environ.get("BENCH_API_PLANS_LARGE", "100000"))
    sync_catalogue()
    tag = _world.tag()
    org, clinic, coordinator = _world.make_org(tag)
    token = Token.objects.create(user=coordinator).key
    proc = None
    try:
        zones = _world.awake_zones() or ["UTC"]
        _world.add_plans(
            org_id=org.pk,
            clinic_id=clinic.pk,
            coordinator_id=coordinator.pk,
            n=small,
            tag=tag,
            zones=zones,
        )
        detail_id = _world.detail_plan(org=org, clinic=clinic, coordinator=coordinator)
        port = _free_port()
        with tempfile.TemporaryDirectory() as tmp:
            proc = _serve(port, Path(tmp))
            print(f"api: gunicorn 2 workers, production settings; {_world.load()}", flush=True)
            first = _measure(port, token, detail_id, f"{small:,} plans", detail=True)
            t0 = time.perf_counter()
            _world.add_plans(
                org_id=org.pk,
                clinic_id=clinic.pk,
                coordinator_id=coordinator.pk,
                n=large - small,
                tag=tag,
                zones=zones,
                start=small,
            )
            print(f"  (grew to {large:,} plans in {time.perf_counter() - t0:.0f}s)", flush=True)
            second = _measure(port, token, detail_id, f"{large:,} plans", detail=False)
            for c in (1, 8):
                print(
                    f"  plan list {large:,} / {small:,} plans at c={c}: "
                    f"{second[c] / first[c]:.2f}x (1.00 = flat)"
                )
            print(f"  {_world.load()}")
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(20)
        _world.drop_org(org.pk)


if __name__ == "__main__":
    main()

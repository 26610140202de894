"""PostgreSQL stopped under a running Chorus: the web answers 503 with a clear page (JSON on the
API) while it is down, and web and workers carry on once it is back, without being restarted.

A private cluster (initdb, on a free port, in a temporary folder) with its own gunicorn, Celery
worker and Redis: the shared PostgreSQL on 5432 is never stopped.
"""
from __future__ import annotations

import json

import psycopg
import pytest

from tests.support.private_services import (
    Browser,
    PrivatePostgres,
    PrivateRedis,
    chorus_env,
    manage,
    postgres_bin,
    start_celery,
    start_web,
    stop_process,
    wait_for,
)
from tests.support.shared_data import in_ci

BINARIES = postgres_bin()
pytestmark = pytest.mark.skipif(BINARIES is None and not in_ci(),
                                reason="needs PostgreSQL's server binaries (initdb, pg_ctl) to run a private cluster")


@pytest.fixture
def cluster():
    if BINARIES is None:
        pytest.fail("PostgreSQL's server binaries (initdb, pg_ctl) are missing; CI must have them")
    cluster = PrivatePostgres(BINARIES)
    try:
        cluster.init()
        cluster.createdb("chorus")
        yield cluster
    finally:
        cluster.remove()


def test_postgres_down_gives_503_pages_and_web_and_workers_recover_without_restart(cluster, tmp_path):
    redis = PrivateRedis(tmp_path)
    redis.start()
    env = chorus_env(database_url=cluster.url("chorus"), redis_url=redis.url)
    manage(env, "migrate", "--noinput")
    manage({**env, "DJANGO_SUPERUSER_PASSWORD": "pw-curator-123"}, "createsuperuser", "--noinput",
           "--username", "curator", "--email", "curator@example.org")
    web, base = start_web(env, tmp_path / "web.log")
    worker = start_celery(env, tmp_path / "worker.log", "worker", "-Q", "default", "-P", "solo", "-c", "1",
                          "-n", "default@pg-outage", "--without-mingle", "--without-gossip")
    try:
        staff = Browser(base)
        token = staff.csrf("/login/")
        status, _, _ = staff.request("/login/", {"username": "curator", "password": "pw-curator-123",
                                                 "csrfmiddlewaretoken": token})
        assert status == 200 and staff.request("/dashboard/")[0] == 200
        _probe_runs(staff, cluster, "before the outage")

        cluster.stop()
        for path in ("/dashboard/", "/c/some-study/", "/dashboard/runs/1/"):
            status, html, headers = staff.request(path)
            assert status == 503, (path, status, html[:500])
            assert "Temporarily unavailable" in html and "cannot reach its database" in html, html
            assert "Traceback" not in html and headers.get("Retry-After") == "30"
        status, body, _ = Browser(base).request("/api/v1/runs/", headers={"Authorization": "Bearer nope"})
        assert status == 503 and json.loads(body)["error"]["code"] == "database_unavailable"

        cluster.start()
        # The same gunicorn and worker, never restarted: pages come back, the session still holds.
        wait_for(lambda: staff.request("/dashboard/")[0] == 200, timeout=60, what="the dashboard to answer again")
        assert web.poll() is None and worker.poll() is None
        _probe_runs(staff, cluster, "after the outage")
    finally:
        stop_process(web)
        stop_process(worker)
        redis.stop()


def _probe_runs(staff: Browser, cluster: PrivatePostgres, when: str) -> None:
    """A queue probe sent from the dashboard is run by the worker, which writes to the database."""
    token = staff.csrf("/dashboard/")
    status, _, _ = staff.request("/dashboard/probes/", {"queue": "default", "csrfmiddlewaretoken": token})
    assert status == 200, f"sending a probe {when}: {status}"

    def ran() -> bool:
        with psycopg.connect(cluster.url("chorus").replace("postgres://", "postgresql://")) as conn:
            row = conn.execute("SELECT ran_at, worker FROM dashboard_queueprobe ORDER BY id DESC LIMIT 1").fetchone()
        return row is not None and row[0] is not None and row[1] == "default@pg-outage"

    wait_for(ran, timeout=120, what=f"the worker to run the probe sent {when}", interval=0.5)

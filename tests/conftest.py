"""Shared fixtures: real Celery workers on the test database, Playwright on Debian's Chromium,
a staff user, and a tiny Llama model built offline."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.policy_server import free_port

REPO_ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"


# The workers' policy server (CHORUS_POLICY_BASE_URL), fixed before they start; tests that run
# policy_backend "openai" serve it there (tests/gpu_workers/test_policy_server_on_worker.py).
POLICY_SERVER_PORT = free_port()
POLICY_SERVER_URL = f"http://127.0.0.1:{POLICY_SERVER_PORT}/v1"

# s3_server / s3_bucket: a real S3-protocol server on loopback for the object-storage tests.
pytest_plugins = ["tests.support.s3"]

# Playwright's sync API runs an event loop in this thread; the ORM calls made by tests around it
# are still plain synchronous calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "shared_data(relative, what): reads real third-party files from ../shared/data/<relative> "
        "(see tests/support/shared_data.py); skipped when absent, failed when absent in CI",
    )


def _shared_data_missing(item) -> str | None:
    from tests.support.shared_data import missing_message

    for mark in item.iter_markers("shared_data"):
        problem = missing_message(*mark.args, **mark.kwargs)
        if problem:
            return problem
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """Outside CI a test whose shared data is absent is skipped, before its fixtures are set up."""
    from tests.support.shared_data import in_ci

    problem = _shared_data_missing(item)
    if problem and not in_ci():
        pytest.skip(problem)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item):
    """In CI the same absence fails the test with the same line: CI must never skip these tests."""
    problem = _shared_data_missing(item)
    if problem:
        pytest.fail(problem, pytrace=False)


@pytest.fixture(scope="session")
def celery_workers(django_db_setup, django_db_blocker):
    """Two real workers, as in production: prefork on `default`, solo on `gpu`, on the test database.
    They import tests.support.worker_faults, which does nothing unless a test plants a fault.

    Tests that use them need `@pytest.mark.django_db(transaction=True)` so the workers see their rows.
    """
    from django.conf import settings

    from chorus.celery import app

    db = settings.DATABASES["default"]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "chorus.settings.test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), str(REPO_ROOT / "platform")]),  # this checkout's code
        "CHORUS_POLICY_BASE_URL": POLICY_SERVER_URL,
    }
    app.control.purge()
    commands = {
        "default": ["-Q", "default", "-c", "1", "-n", "default@chorus-test"],
        "gpu": ["-Q", "gpu", "-P", "solo", "-c", "1", "-n", "gpu@chorus-test"],
    }
    (REPO_ROOT / "var").mkdir(exist_ok=True)
    logs = {q: open(REPO_ROOT / "var" / f"test-worker-{q}.log", "w") for q in commands}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "chorus", "worker", "-l", "info", "--without-mingle",
             "--without-gossip", "--include", "tests.support.worker_faults", *args],
            cwd=REPO_ROOT / "platform", env=env, stdout=logs[q], stderr=subprocess.STDOUT,
        )
        for q, args in commands.items()
    ]
    try:
        _wait_for_workers(app, {"default@chorus-test", "gpu@chorus-test"}, procs)
        yield {"default": "default@chorus-test", "gpu": "gpu@chorus-test"}
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def _wait_for_workers(app, names: set[str], procs, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        dead = [p for p in procs if p.poll() is not None]
        if dead:
            raise RuntimeError("a Celery worker exited during start-up; see var/test-worker-*.log")
        replies = app.control.ping(timeout=1) or []
        if names <= {name for reply in replies for name in reply}:
            return
        time.sleep(0.5)
    raise RuntimeError(f"Celery workers {sorted(names)} did not answer within {timeout:.0f}s")


@pytest.fixture
def staff_user(db):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_user(username="curator", password="pw-curator-123", is_staff=True)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-quic"],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, django_db_blocker):
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()
    with django_db_blocker.unblock():
        _wait_for_requests_to_finish()


def _wait_for_requests_to_finish(timeout: float = 10) -> None:
    """Waits until no other connection to the test database is inside a transaction: a request the
    browser sent last (a click, an htmx load) may still be writing when the test ends, and the
    database flush that follows would then deadlock with it."""
    from django.db import connection

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                           "AND pid <> pg_backend_pid() AND xact_start IS NOT NULL")
            if cursor.fetchone()[0] == 0:
                return
        time.sleep(0.05)


@pytest.fixture
def scripted_llm(monkeypatch):
    """Replaces the project's chat backend with a scripted one (in this process only)."""
    import chorus.llm
    from tests.support.scripted_llm import ScriptedBackend

    backend = ScriptedBackend()
    monkeypatch.setattr(chorus.llm, "chat_backend", lambda: backend)
    return backend


@pytest.fixture
def participant(db):
    """A consented participant in an open campaign with one question."""
    from tests.factories import CampaignFactory, make_participant

    campaign = CampaignFactory(questions=["I am considering an abortion. What should I do?"])
    return make_participant(campaign)


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Throttle counters must not leak from one test into the next."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def _base_models_from_tmp(settings, tmp_path_factory):
    """Runs start only from model folders the server offers (training/base_models.py). The tiny models
    tests build live in pytest's temporary folder, so the server offers that folder's models too."""
    settings.CHORUS_BASE_MODEL_DIRS = [*settings.CHORUS_BASE_MODEL_DIRS, tmp_path_factory.getbasetemp()]

"""Settings come from the environment; bad values and missing services stop Chorus with one line."""
import os
import subprocess
import sys

import pytest

from chorus import env
from tests.conftest import REPO_ROOT


def run(args, **extra_env):
    # A clean environment: no test-only settings module, and no async-unsafe flag (set for Playwright).
    environ = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE")}
    environ.update(extra_env)
    return subprocess.run(args, cwd=REPO_ROOT, env=environ, capture_output=True, text=True, timeout=120)


def manage(*args, **extra_env):
    return run([sys.executable, "manage.py", *args], **extra_env)


def assert_one_clear_line(result, *fragments):
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert "Traceback" not in result.stderr, result.stderr
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_unknown_llm_backend_is_refused_at_start_up():
    result = manage("check", CHORUS_LLM_BACKEND="gpt-magic")
    assert_one_clear_line(result, "CHORUS_LLM_BACKEND must be one of local, openai, vllm", "gpt-magic")


def test_unknown_llm_backend_stops_the_worker():
    result = run([sys.executable, "-m", "celery", "-A", "chorus", "worker", "-Q", "default"],
                 CHORUS_LLM_BACKEND="gpt-magic", PYTHONPATH=str(REPO_ROOT / "platform"))
    assert_one_clear_line(result, "CHORUS_LLM_BACKEND")


def test_a_policy_server_address_that_is_not_a_url_is_refused_at_start_up():
    result = manage("check", CHORUS_POLICY_BASE_URL="vllm:8000")
    assert_one_clear_line(result, "CHORUS_POLICY_BASE_URL must be a URL starting with http:// or https://")


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("DATABASE_URL", "mysql://x/y", "DATABASE_URL must be a URL starting with postgres://"),
        ("DATABASE_URL", "postgres://127.0.0.1:5432/", "DATABASE_URL must name a database"),
        ("REDIS_URL", "127.0.0.1:6379", "REDIS_URL must be a URL"),
        ("DJANGO_DEBUG", "maybe", "DJANGO_DEBUG must be true or false"),
        ("CHORUS_TASK_TIME_LIMIT", "soon", "CHORUS_TASK_TIME_LIMIT must be a whole number"),
    ],
)
def test_bad_values_are_named(monkeypatch, name, value, message):
    monkeypatch.setenv(name, value)
    readers = {
        "DATABASE_URL": lambda: env.database("DATABASE_URL", "postgres://127.0.0.1/chorus"),
        "REDIS_URL": lambda: env.url("REDIS_URL", "redis://127.0.0.1:6379/0", schemes=("redis",)),
        "DJANGO_DEBUG": lambda: env.flag("DJANGO_DEBUG", False),
        "CHORUS_TASK_TIME_LIMIT": lambda: env.integer("CHORUS_TASK_TIME_LIMIT", 10),
    }
    with pytest.raises(env.StartupError, match=message):
        readers[name]()


def test_database_url_becomes_django_settings(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://alice:s3cret@db.internal:6543/chorus_prod")
    db = env.database("DATABASE_URL", "postgres://127.0.0.1/chorus")
    assert (db["USER"], db["PASSWORD"], db["HOST"], db["PORT"], db["NAME"]) == (
        "alice", "s3cret", "db.internal", "6543", "chorus_prod"
    )


def test_unreachable_database_gives_one_line_with_how_to_start_it():
    result = manage("check_services", DATABASE_URL="postgres://postgres@127.0.0.1:1/chorus")
    assert_one_clear_line(result, "PostgreSQL at 127.0.0.1:1/chorus is not reachable", "pg_ctlcluster")


def test_missing_database_says_how_to_create_it():
    result = manage("check_services", DATABASE_URL="postgres://postgres@127.0.0.1:5432/chorus_missing_db")
    assert_one_clear_line(result, "does not exist", "createdb")


def test_unreachable_broker_gives_one_line():
    result = manage("check_services", REDIS_URL="redis://127.0.0.1:1/0")
    assert_one_clear_line(result, "Redis broker at 127.0.0.1:1 is not reachable", "redis-server")


def test_unreachable_llm_endpoint_gives_one_line():
    result = manage("check_services", CHORUS_LLM_BACKEND="openai", CHORUS_LLM_BASE_URL="http://127.0.0.1:1/v1")
    assert_one_clear_line(result, "LLM endpoint http://127.0.0.1:1/v1 is not reachable", "CHORUS_LLM_BACKEND=local")


def test_worker_without_database_stops_with_one_line():
    result = run([sys.executable, "-m", "celery", "-A", "chorus", "worker", "-Q", "default", "-c", "1"],
                 DATABASE_URL="postgres://postgres@127.0.0.1:1/chorus", PYTHONPATH=str(REPO_ROOT / "platform"))
    assert result.returncode == 2
    assert "chorus worker: PostgreSQL at 127.0.0.1:1/chorus is not reachable" in result.stderr
    assert "Traceback" not in result.stderr


def test_services_reachable_here():
    result = manage("check_services", DJANGO_SETTINGS_MODULE="chorus.settings.test")
    assert result.returncode == 0, result.stderr
    assert "reachable" in result.stdout


PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "chorus.settings.production",
    "DJANGO_SECRET_KEY": "k" * 20 + "Zq8-vN2!xR4@tY7#uW1$pL5%mK3^jH9&gF6*dS0" + "a" * 10,
    "DJANGO_ALLOWED_HOSTS": "chorus.example.org",
}


def test_production_settings_pass_the_deploy_check():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_the_development_secret_key():
    result = manage("check", **{**PRODUCTION, "DJANGO_SECRET_KEY": ""})
    assert_one_clear_line(result, "DJANGO_SECRET_KEY must be set")


def test_test_settings_use_their_own_redis_database():
    from django.conf import settings

    assert settings.CELERY_BROKER_URL.endswith("/2")
    assert settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"


SHOW_KEY = ("import django; from django.conf import settings; django.setup(); "
            "print(settings.SECRET_KEY); print(settings.DEBUG)")


def test_local_settings_make_a_private_secret_key_once_and_keep_debug_off(tmp_path):
    local = {"DJANGO_SETTINGS_MODULE": "chorus.settings.local", "CHORUS_VAR_DIR": str(tmp_path),
             "PYTHONPATH": str(REPO_ROOT / "platform")}
    first = run([sys.executable, "-c", SHOW_KEY], **local)
    assert first.returncode == 0, first.stderr
    key, debug = first.stdout.split()
    kept = tmp_path / "secret_key"
    assert kept.read_text().strip() == key and len(key) >= 50 and "dev-only" not in key
    assert kept.stat().st_mode & 0o777 == 0o600  # readable by its owner only
    assert debug == "False"
    again = run([sys.executable, "-c", SHOW_KEY], **local)
    assert again.stdout.split()[0] == key  # signed links survive a restart
    elsewhere = run([sys.executable, "-c", SHOW_KEY], **{**local, "CHORUS_VAR_DIR": str(tmp_path / "other")})
    assert elsewhere.stdout.split()[0] != key  # each installation has its own
    given = run([sys.executable, "-c", SHOW_KEY], **local, DJANGO_SECRET_KEY="x" * 60, DJANGO_DEBUG="true")
    assert given.stdout.split() == ["x" * 60, "True"]

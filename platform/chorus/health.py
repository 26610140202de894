"""Is each service Chorus needs reachable? Each check returns None, or one line saying what is
missing and how to start it. Used by `manage.py check_services`, worker start-up and the dashboard.
"""
from __future__ import annotations

import urllib.error
import urllib.request
from urllib.parse import urlparse

from django.conf import settings

START_POSTGRES = "start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
START_REDIS = "start it with: redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no"


def database_problem() -> str | None:
    from django.db import connection

    db = settings.DATABASES["default"]
    where = f"{db['HOST'] or 'local socket'}:{db['PORT']}/{db['NAME']}"
    try:
        connection.ensure_connection()
    except Exception as exc:  # psycopg raises several kinds; all mean "not usable"
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        if "does not exist" in reason:
            return f"PostgreSQL database at {where} does not exist: create it with `createdb -h {db['HOST']} -U {db['USER']} {db['NAME']}` (or set DATABASE_URL)"
        return f"PostgreSQL at {where} is not reachable ({reason}); {START_POSTGRES} (or set DATABASE_URL)"
    return None


def broker_problem() -> str | None:
    import redis

    broker = settings.CELERY_BROKER_URL
    if not broker.startswith("redis"):
        return None
    try:
        redis.Redis.from_url(broker, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        return f"Redis broker at {_host(broker)} is not reachable ({exc}); {START_REDIS} (or set REDIS_URL)"
    return None


def llm_problem() -> str | None:
    if settings.CHORUS_LLM_BACKEND != "openai":
        return None
    base = settings.CHORUS_LLM_BASE_URL.rstrip("/")
    request = urllib.request.Request(f"{base}/models", headers={"Authorization": f"Bearer {settings.CHORUS_LLM_API_KEY}"})
    try:
        urllib.request.urlopen(request, timeout=3).close()
    except (urllib.error.URLError, OSError) as exc:
        return (
            f"LLM endpoint {base} is not reachable ({getattr(exc, 'reason', exc)}); start an OpenAI-compatible server "
            f"there (e.g. `vllm serve MODEL` or `python -m llama_cpp.server --model FILE.gguf`), "
            "or set CHORUS_LLM_BACKEND=local"
        )
    return None


def problems() -> list[str]:
    return [p for p in (database_problem(), broker_problem(), llm_problem()) if p]


def _host(url: str) -> str:
    parsed = urlparse(url)
    return f"{parsed.hostname}:{parsed.port or 6379}"

"""Reading Chorus settings from the environment, with one clear line when something is off.

No Django imports: settings modules, the Celery app and entry points all use this.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import urlparse

LLM_BACKENDS = ("local", "openai", "vllm")


class StartupError(Exception):
    """A configuration or service problem that should stop Chorus with one readable line."""


def text(name: str, default: str) -> str:
    return os.environ.get(name, default).strip() or default


def flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise StartupError(f"{name} must be true or false, got {raw!r}")


def integer(name: str, default: int, *, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise StartupError(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise StartupError(f"{name} must be at least {minimum}, got {value}")
    return value


def choice(name: str, default: str, options: tuple[str, ...]) -> str:
    value = text(name, default)
    if value not in options:
        raise StartupError(f"{name} must be one of {', '.join(options)}; got {value!r}")
    return value


def url(name: str, default: str, *, schemes: tuple[str, ...]) -> str:
    value = text(name, default)
    parsed = urlparse(value)
    if parsed.scheme not in schemes or not (parsed.hostname or parsed.path):
        raise StartupError(f"{name} must be a URL starting with {' or '.join(s + '://' for s in schemes)}; got {value!r}")
    return value


def storage_location(name: str) -> Path | dict | None:
    """Where files live: None (unset: MEDIA_ROOT), a local folder (a path, or file:///path), or for
    s3://bucket/prefix the options of django-storages' S3Storage, from CHORUS_S3_* (credentials are
    left to boto3: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, or its other usual sources)."""
    value = text(name, "")
    if not value:
        return None
    parsed = urlparse(value)
    if parsed.scheme in ("", "file"):
        return Path(parsed.path if parsed.scheme else value)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise StartupError(f"{name} must be a local folder or s3://bucket/prefix; got {value!r}")
    endpoint = text("CHORUS_S3_ENDPOINT_URL", "")
    if endpoint:
        url("CHORUS_S3_ENDPOINT_URL", "", schemes=("http", "https"))
    public = text("CHORUS_S3_PUBLIC_ENDPOINT_URL", "")
    if public:
        url("CHORUS_S3_PUBLIC_ENDPOINT_URL", "", schemes=("http", "https"))
    return {
        "bucket_name": parsed.netloc, "location": parsed.path.strip("/"), "endpoint_url": endpoint or None,
        "region_name": text("CHORUS_S3_REGION", text("AWS_DEFAULT_REGION", "us-east-1")),
        # Where clients reach the bucket, for the presigned URLs the Hub endpoints redirect to (when the
        # workers' address, e.g. http://minio:9000, is not one browsers and other hosts can reach).
        "public_endpoint_url": public or None,
        "presigned_seconds": integer("CHORUS_S3_PRESIGNED_SECONDS", 3600, minimum=60),
    }


def database(name: str, default: str) -> dict:
    """Turn DATABASE_URL (postgres://user:pass@host:port/db) into Django's DATABASES entry."""
    value = url(name, default, schemes=("postgres", "postgresql"))
    parsed = urlparse(value)
    db_name = parsed.path.lstrip("/")
    if not db_name:
        raise StartupError(f"{name} must name a database, e.g. postgres://127.0.0.1:5432/chorus; got {value!r}")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": db_name,
        "USER": parsed.username or os.environ.get("USER", "postgres"),
        "PASSWORD": parsed.password or "",
        "HOST": parsed.hostname or "",
        "PORT": str(parsed.port or 5432),
        "CONN_MAX_AGE": 60,
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": {"connect_timeout": 5},
    }


def secret_key(name: str, keep_in: Path) -> str:
    """The secret key from the environment, or one made at random on the first start and kept in
    `keep_in` (readable by its owner only), so links signed before a restart stay valid."""
    given = os.environ.get(name, "").strip()
    if given:
        return given
    try:
        return keep_in.read_text().strip()
    except FileNotFoundError:
        pass
    keep_in.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    try:
        fd = os.open(keep_in, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return keep_in.read_text().strip()
    with os.fdopen(fd, "w") as out:
        out.write(key + "\n")
    return key

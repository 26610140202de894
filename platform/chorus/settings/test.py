"""Settings for the test suite: the real PostgreSQL and Redis, a Redis database of its own."""
import os

os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/2")

from chorus.settings.base import *  # noqa: F403

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Throttle counters in a Redis database of their own (the broker's number + 1: 3 by default), so tests
# can clear them without touching the broker, or another checkout's counters when it runs on db 12.
_redis_base, _redis_db = REDIS_URL.rsplit("/", 1)  # noqa: F405
CACHES = {"default": {**CACHES["default"], "LOCATION": f"{_redis_base}/{int(_redis_db or 0) + 1}",  # noqa: F405
                      "KEY_PREFIX": "chorus-test"}}

# Live-server tests run in threads: persistent connections would outlive them and block teardown.
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405

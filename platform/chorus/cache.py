"""The Redis cache, forgiving a Redis that is down or restarting.

What Chorus keeps in the cache can always be done without: API throttle counters and computed
results (opinion groups) that are recomputed on a miss. So while Redis cannot be reached, a read is a
miss and a write is skipped, with a warning in the log, and pages keep working instead of failing
with a 500. Deletes are not forgiven: a delete removes something that must go (a withdrawal drops
cached groups holding the participant's statements), so it fails, and its transaction with it. The cost, for the length of the outage: the API's rate limits are not counted, and
computed pages are recomputed for each request. Short socket timeouts (see settings) keep a Redis
that does not answer from holding requests up.
"""
from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)

UNREACHABLE = (RedisConnectionError, RedisTimeoutError)


def _or(fallback: Callable[..., Any]):
    """Runs the cache operation; while Redis is unreachable, returns fallback(*args, **kwargs) instead."""
    def decorate(method):
        @functools.wraps(method)
        def forgiving(self, *args, **kwargs):
            try:
                return method(self, *args, **kwargs)
            except UNREACHABLE as exc:
                log.warning("cache %s skipped: Redis unreachable (%s)", method.__name__, exc)
                return fallback(*args, **kwargs)
        return forgiving
    return decorate


def _nothing(*_args, **_kwargs) -> None:
    return None


def _false(*_args, **_kwargs) -> bool:
    return False


class ForgivingRedisCache(RedisCache):
    @_or(lambda key, default=None, version=None: default)
    def get(self, key, default=None, version=None):
        return super().get(key, default, version)

    @_or(lambda *_a, **_k: {})
    def get_many(self, keys, version=None):
        return super().get_many(keys, version)

    @_or(_false)
    def has_key(self, key, version=None):
        return super().has_key(key, version)

    @_or(_false)
    def add(self, *args, **kwargs):
        return super().add(*args, **kwargs)

    @_or(_nothing)
    def set(self, *args, **kwargs):
        return super().set(*args, **kwargs)

    @_or(lambda data, *_a, **_k: list(data))  # Django's contract: the keys that were not set
    def set_many(self, data, *args, **kwargs):
        return super().set_many(data, *args, **kwargs)

    @_or(_false)
    def touch(self, *args, **kwargs):
        return super().touch(*args, **kwargs)

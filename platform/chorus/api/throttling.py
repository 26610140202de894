"""The anonymous rate limit (CHORUS_API_RATE_ANON), held on requests refused a login too.

DRF checks throttles only after authentication and permissions pass, so a request with a bad token,
or none, gets its 401 before AnonRateThrottle counts it: a client could call, or guess tokens,
without limit. Those refusals are counted by the same throttle class (the same cache key and rate,
so they add up with the anonymous requests that do get through), and once the limit is spent the
answer is 429 with Retry-After instead of 401.
"""
from __future__ import annotations

from rest_framework import exceptions
from rest_framework.throttling import AnonRateThrottle


def throttle_unauthenticated(exc: Exception, request, view) -> Exception:
    """`exc` itself, or Throttled when it refuses a login to a client that has spent the anonymous limit."""
    if isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)):
        throttle = AnonRateThrottle()
        if not throttle.allow_request(request, view):
            return exceptions.Throttled(throttle.wait())
    return exc

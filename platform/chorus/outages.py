"""What a request gets while a service Chorus depends on is down: a page that says so, never a 500.

PostgreSQL: any request that meets a lost or refused database connection, in a view or in a
middleware (sessions, logins), ends in Django's 500 handling. `server_error` is `handler500`: it looks
at the exception being handled and, for a database that cannot be reached, answers 503 with
Retry-After and a page (JSON under /api/ and /hf/) that needs no database to render. Django
reconnects on the next request (CONN_HEALTH_CHECKS), so nothing needs restarting once it is back.

Redis: the cache forgives an outage (chorus.cache) and queued work waits in the database
(chorus.dispatch), so few requests meet it; one that still does (a withdrawal, which must drop
cached text) gets the same kind of 503, and its transaction was rolled back.
"""
from __future__ import annotations

import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader
from django.views.defaults import server_error as django_server_error
from kombu.exceptions import OperationalError as BrokerUnreachable
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

RETRY_AFTER_SECONDS = 30
DATABASE_DOWN = ("Chorus cannot reach its database right now, so this page could not be shown and nothing "
                 "was saved. Please try again in a minute.")
REDIS_DOWN = ("Chorus cannot reach its task queue and cache (Redis) right now, so this could not be done and "
              "nothing was saved. Please try again in a minute.")


def _unavailable(exc: BaseException | None) -> tuple[str, str] | None:
    """(code, message) when `exc`, or what caused it, is a service that cannot be reached."""
    while exc is not None:
        if isinstance(exc, (OperationalError, InterfaceError)):
            return "database_unavailable", DATABASE_DOWN
        if isinstance(exc, (RedisConnectionError, RedisTimeoutError, BrokerUnreachable)):
            return "queue_unavailable", REDIS_DOWN
        exc = exc.__cause__ or exc.__context__
    return None


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: 503 with a clear page when a service is unreachable, Django's 500 page otherwise."""
    unavailable = _unavailable(sys.exc_info()[1])
    if unavailable is None:
        return django_server_error(request)
    code, message = unavailable
    if request.path.startswith(("/api/", "/hf/")):
        body = {"error": {"status": 503, "code": code, "message": message}}
        response: HttpResponse = JsonResponse(body, status=503)
    else:
        # No request context: the page must not touch the session or the user (both need the database).
        response = HttpResponse(loader.render_to_string("503.html", {"message": message}), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response

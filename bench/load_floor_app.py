"""The two web apps `bench/load_floor.py` serves with gunicorn: each answers POST /write/ by
inserting one row into the table `load_floor` and saying 204. Nothing else.

- `bare`: a plain WSGI function and one psycopg connection per thread (no framework at all).
- `django()`: Chorus's own settings (settings.local: its middleware, its database settings), with
  this module as the URL conf, and one view that inserts through Django's connection.
"""
from __future__ import annotations

import os
import threading

from django.db import connection, transaction
from django.http import HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

TABLE = "load_floor"
INSERT = f"INSERT INTO {TABLE} (at) VALUES (now())"
_local = threading.local()


def bare(environ, start_response):
    if environ["REQUEST_METHOD"] != "POST":  # the bench's readiness probe
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]
    import psycopg

    if getattr(_local, "conn", None) is None:
        _local.conn = psycopg.connect(os.environ["DATABASE_URL"], autocommit=True)
    _local.conn.execute(INSERT)
    start_response("204 No Content", [])
    return []


def django():
    """Chorus's WSGI application, routed to `write` alone."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chorus.settings.local")
    from django.conf import settings
    from django.core.wsgi import get_wsgi_application

    settings.ROOT_URLCONF = __name__
    return get_wsgi_application()


def write(request):
    if request.method != "POST":
        return HttpResponse("ok")
    with transaction.atomic(), connection.cursor() as cursor:  # as Chorus's services write
        cursor.execute(INSERT)
    return HttpResponse(status=204)


urlpatterns = [path("write/", csrf_exempt(write))]

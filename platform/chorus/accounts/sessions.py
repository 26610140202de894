"""Django's database sessions, with the read every request makes as one plain query.

Participants have no account: every participant request loads its session. Through the ORM that
read cost as much CPU as building any other query on the page (bench/load.py --queries); the data,
the table and every other operation (save, delete, flush, clearsessions) stay Django's own, so a
withdrawal or a logout that deletes the session row ends it at once, as before.
"""
from __future__ import annotations

from django.contrib.sessions.backends import db
from django.db import connections, router
from django.utils import timezone


class SessionStore(db.SessionStore):
    def load(self) -> dict:
        connection = connections[router.db_for_read(self.model)]
        table = connection.ops.quote_name(self.model._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT session_data FROM {table} WHERE session_key = %s AND expire_date > %s",
                           [self.session_key, timezone.now()])
            row = cursor.fetchone()
        if row is None:  # expired or unknown: a new session, as Django's own store does
            self._session_key = None
            return {}
        return self.decode(row[0])

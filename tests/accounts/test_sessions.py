"""The session store participants' requests load: Django's database sessions, read by one query."""
from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.utils import timezone

from chorus.accounts.sessions import SessionStore

pytestmark = pytest.mark.django_db


def test_a_saved_session_loads_with_what_it_holds(django_assert_num_queries):
    saved = SessionStore()
    saved["chorus.participant.1"] = "7c0f1d0e-0000-4000-8000-000000000001"
    saved.save()

    loaded = SessionStore(session_key=saved.session_key)
    with django_assert_num_queries(1):
        assert loaded["chorus.participant.1"] == "7c0f1d0e-0000-4000-8000-000000000001"
    assert loaded.session_key == saved.session_key


def test_an_expired_unknown_or_deleted_session_loads_empty_and_gets_a_new_key():
    expired = SessionStore()
    expired["chorus.participant.1"] = "gone"
    expired.save()
    Session.objects.filter(pk=expired.session_key).update(expire_date=timezone.now() - timedelta(seconds=1))
    deleted = SessionStore()
    deleted["chorus.participant.1"] = "withdrawn"
    deleted.save()
    deleted_key = deleted.session_key
    SessionStore(session_key=deleted_key).delete()  # as a withdrawal or a logout does

    for key in (expired.session_key, deleted_key, "no-such-session-key"):
        store = SessionStore(session_key=key)
        assert dict(store.items()) == {}
        assert store.session_key is None

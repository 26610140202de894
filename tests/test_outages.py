"""Pages and queued work while PostgreSQL or Redis is unreachable, in this process (the live tests
that stop real servers are tests/test_outage_postgres.py and tests/test_outage_redis.py)."""
from __future__ import annotations

import pytest
from django.db import OperationalError
from kombu.exceptions import OperationalError as BrokerUnreachable
from redis.exceptions import ConnectionError as RedisConnectionError

from chorus.cache import ForgivingRedisCache
from chorus.dispatch import dispatch_on_commit, pending_tasks_send
from chorus.models import PendingTask
from tests.support.private_services import free_port


@pytest.fixture
def unreachable_cache():
    return ForgivingRedisCache(f"redis://127.0.0.1:{free_port()}/0",
                               {"OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1}})


def test_the_cache_reads_as_empty_and_skips_writes_while_redis_is_unreachable(unreachable_cache):
    cache = unreachable_cache
    assert cache.get("k") is None and cache.get("k", [1]) == [1] and cache.get_many(["a", "b"]) == {}
    assert cache.set("k", 1) is None and cache.add("k", 1) is False and cache.has_key("k") is False
    assert cache.set_many({"a": 1, "b": 2}) == ["a", "b"] and cache.touch("k") is False
    assert cache.get_or_set("k", 5) == 5  # computed, not cached
    with pytest.raises(RedisConnectionError):  # what must go (a withdrawal's cached text) fails loudly
        cache.delete("k")


def test_api_throttles_let_requests_through_while_redis_is_unreachable(settings, client):
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": f"redis://127.0.0.1:{free_port()}/0"}}
    response = client.get("/api/v1/campaigns/")  # anonymous: throttled, then refused a login
    assert response.status_code == 401, response.content


@pytest.mark.django_db(transaction=True)
def test_a_task_the_broker_refuses_is_kept_and_sent_once_it_answers(monkeypatch):
    sent: list[tuple] = []
    broker_up = False

    def dispatch(name, *args, task_id=None, queue=None):
        if not broker_up:
            raise BrokerUnreachable("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
        sent.append((name, args, task_id, queue))

    monkeypatch.setattr("chorus.dispatch.dispatch", dispatch)
    from django.db import transaction

    with transaction.atomic():
        dispatch_on_commit("chorus.dashboard.tasks.queue_probe_run", 7, task_id="t-7", queue="gpu")
        dispatch_on_commit("elicitation.tasks.card_deduplicate", 8)
    kept = list(PendingTask.objects.values_list("name", "args", "task_id", "queue"))
    assert kept == [("chorus.dashboard.tasks.queue_probe_run", [7], "t-7", "gpu"),
                    ("elicitation.tasks.card_deduplicate", [8], "", "")]
    assert "Connection refused" in PendingTask.objects.first().error

    assert pending_tasks_send() == 0 and PendingTask.objects.count() == 2  # still down: both kept
    broker_up = True
    assert pending_tasks_send() == 2 and not PendingTask.objects.exists()
    assert sent == [("chorus.dashboard.tasks.queue_probe_run", (7,), "t-7", "gpu"),
                    ("elicitation.tasks.card_deduplicate", (8,), None, None)]


@pytest.mark.django_db
def test_a_lost_database_connection_gets_a_503_page_and_other_errors_the_500_page(client, monkeypatch):
    client.raise_request_exception = False

    def database_gone(*args, **kwargs):
        raise OperationalError('connection to server at "127.0.0.1", port 5432 failed: Connection refused')

    monkeypatch.setattr("elicitation.views.participants.campaign_and_participant", database_gone)
    response = client.get("/c/a-study/")
    assert response.status_code == 503 and response["Retry-After"] == "30"
    html = response.content.decode()
    assert "Temporarily unavailable" in html and "cannot reach its database" in html and "5432" not in html

    monkeypatch.setattr("chorus.accounts.authentication.ApiTokenAuthentication.authenticate", database_gone)
    response = client.get("/api/v1/runs/", HTTP_AUTHORIZATION="Bearer x")
    assert response.status_code == 503 and response.json()["error"]["code"] == "database_unavailable"

    monkeypatch.setattr("elicitation.views.participants.campaign_and_participant", lambda *a, **k: 1 / 0)
    response = client.get("/c/a-study/")
    assert response.status_code == 500 and "Something went wrong" in response.content.decode()


@pytest.mark.django_db
def test_a_withdrawal_that_cannot_drop_cached_text_gets_a_503_and_changes_nothing(client, participant, monkeypatch):
    from chorus.accounts.models import Participant
    from chorus.accounts.services import session_key_for

    session = client.session
    session[session_key_for(participant.campaign_id)] = str(participant.public_id)
    session.save()
    client.raise_request_exception = False

    def redis_down(*args, **kwargs):
        raise RedisConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr("elicitation.selectors.statements.cache.delete", redis_down)
    response = client.post(f"/c/{participant.campaign.slug}/withdraw/")
    assert response.status_code == 503 and "cannot reach its task queue and cache" in response.content.decode()
    assert Participant.objects.filter(pk=participant.pk).exists()  # rolled back: they can try again

    monkeypatch.undo()
    response = client.post(f"/c/{participant.campaign.slug}/withdraw/")
    assert response.status_code == 200 and not Participant.objects.filter(pk=participant.pk).exists()


"""Celery configuration, and tasks running on real workers (never task_always_eager)."""
import time
from urllib.parse import urlsplit

import pytest
from django.conf import settings

from chorus.celery import app


def test_configuration_is_json_only_with_prefetch_one_and_time_limits():
    assert app.conf.task_serializer == "json"
    assert app.conf.accept_content == ["json"]
    assert app.conf.worker_prefetch_multiplier == 1
    assert 0 < app.conf.task_soft_time_limit < app.conf.task_time_limit
    assert not app.conf.task_always_eager


@pytest.mark.parametrize(
    "task_name, queue",
    [("gpu_workers.tasks.device_report", "gpu"), ("gpu_workers.tasks.anything_new", "gpu"),
     ("chorus.dashboard.tasks.queue_probe_run", "default")],
)
def test_tasks_are_routed_by_module(task_name, queue):
    route = app.amqp.router.route({}, task_name)
    assert route["queue"].name == queue


def wait_for(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("timed out waiting")


@pytest.mark.django_db(transaction=True)
def test_each_queue_runs_on_its_own_worker(celery_workers):
    from chorus.dashboard.models import QueueProbe
    from chorus.dashboard.services import queue_probe_send

    sent = {queue: queue_probe_send(queue=queue) for queue in ("default", "gpu")}
    for queue, probe in sent.items():
        ran = wait_for(lambda probe=probe: QueueProbe.objects.filter(pk=probe.pk, ran_at__isnull=False).first())
        assert ran.worker == celery_workers[queue]
        assert ran.task_id
        assert ran.device.startswith("cpu")  # no GPU on the test machine


@pytest.mark.django_db(transaction=True)
def test_gpu_module_task_runs_on_the_gpu_worker(celery_workers):
    from gpu_workers.tasks import device_report

    result = device_report.delay()
    assert result.get(timeout=30).startswith("cpu")
    assert app.AsyncResult(result.id).state == "SUCCESS"


def test_unknown_queue_is_refused(db):
    from django.core.exceptions import ValidationError

    from chorus.dashboard.models import QueueProbe
    from chorus.dashboard.services import queue_probe_send

    with pytest.raises(ValidationError):
        queue_probe_send(queue="tpu")
    assert not QueueProbe.objects.exists()


def redis_db(url: str) -> tuple[str | None, int, int]:
    """Host, port and database number of a Redis URL (a worker reports its URL with the password masked)."""
    parts = urlsplit(url)
    return parts.hostname, parts.port or 6379, int(parts.path.strip("/") or 0)


def test_test_workers_use_their_own_broker_database(celery_workers):
    broker = redis_db(app.conf.broker_url)
    # Not the database a development setup uses (base.py's default REDIS_URL, database 0) ...
    assert broker != redis_db("redis://127.0.0.1:6379/0")
    # ... nor the cache's, which every test empties (`_fresh_cache`): that would drop queued tasks.
    assert broker != redis_db(settings.CACHES["default"]["LOCATION"])
    # And the workers the tests start were configured with that very broker.
    answers = app.control.inspect(destination=list(celery_workers.values()), timeout=5).conf(with_defaults=True) or {}
    assert sorted(answers) == sorted(celery_workers.values())
    assert {redis_db(conf["broker_url"]) for conf in answers.values()} == {broker}

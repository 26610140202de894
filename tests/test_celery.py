"""Celery configuration, and tasks running on real workers (never task_always_eager)."""
import time

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
        ran = wait_for(lambda: QueueProbe.objects.filter(pk=probe.pk, ran_at__isnull=False).first())
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


def test_test_workers_use_their_own_broker_database():
    assert app.conf.broker_url == settings.CELERY_BROKER_URL

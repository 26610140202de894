"""Writes behind the dashboard: queue probes, which show that each queue has a worker taking tasks."""
from __future__ import annotations

import uuid

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from chorus.dashboard.models import QueueProbe
from chorus.dispatch import dispatch_on_commit

QUEUES = ("default", "gpu")
PROBE_TASK = "chorus.dashboard.tasks.queue_probe_run"


@transaction.atomic
def queue_probe_send(*, queue: str, user=None) -> QueueProbe:
    """The probe's row first, with its task id on it; the task goes to `queue` once the row is committed."""
    if queue not in QUEUES:
        raise ValidationError({"queue": f"Unknown queue {queue!r}; known: {', '.join(QUEUES)}."})
    probe = QueueProbe.objects.create(queue=queue, sent_by=user, task_id=str(uuid.uuid4()))
    dispatch_on_commit(PROBE_TASK, probe.pk, task_id=probe.task_id, queue=queue)
    return probe


def queue_probe_record(*, probe_id: int, worker: str, device: str) -> None:
    QueueProbe.objects.filter(pk=probe_id, ran_at__isnull=True).update(
        ran_at=timezone.now(), worker=worker, device=device
    )

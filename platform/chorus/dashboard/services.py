"""Writes behind the dashboard."""
from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from .models import QueueProbe

QUEUES = ("default", "gpu")


@transaction.atomic
def queue_probe_send(*, queue: str, user=None) -> QueueProbe:
    if queue not in QUEUES:
        raise ValidationError({"queue": f"Unknown queue {queue!r}; known: {', '.join(QUEUES)}."})
    probe = QueueProbe.objects.create(queue=queue, sent_by=user)
    transaction.on_commit(lambda: _dispatch(probe))
    return probe


def _dispatch(probe: QueueProbe) -> None:
    from .tasks import queue_probe_run

    result = queue_probe_run.apply_async(args=[probe.pk], queue=probe.queue)
    QueueProbe.objects.filter(pk=probe.pk).update(task_id=result.id)


def queue_probe_record(*, probe_id: int, worker: str, device: str) -> None:
    QueueProbe.objects.filter(pk=probe_id, ran_at__isnull=True).update(
        ran_at=timezone.now(), worker=worker, device=device
    )

"""Reads for the dashboard: recent probes and which Celery workers are online."""
from __future__ import annotations

from dataclasses import dataclass

from chorus.celery import app
from chorus.dashboard.models import QueueProbe
from chorus.models import PendingTask


@dataclass(frozen=True)
class WorkerInfo:
    name: str
    queues: tuple[str, ...]


def queue_probes_recent(*, limit: int = 10) -> list[QueueProbe]:
    return list(QueueProbe.objects.select_related("sent_by")[:limit])


def tasks_waiting_for_broker() -> int:
    """Tasks kept because Redis was unreachable when they were queued (sent by beat once it is back)."""
    return PendingTask.objects.count()


def workers_online(*, timeout: float = 1.0) -> list[WorkerInfo]:
    """Asks the broker which workers answer and which queues they consume."""
    replies = app.control.inspect(timeout=timeout).active_queues() or {}
    return sorted(
        (WorkerInfo(name=name, queues=tuple(q["name"] for q in queues)) for name, queues in replies.items()),
        key=lambda w: w.name,
    )

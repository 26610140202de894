"""Queueing background work by registered task name, once the transaction that asked for it commits.

Services name the task rather than import it: tasks import services at module level, and nothing
imports back. Queues follow `CELERY_TASK_ROUTES` unless a queue is given (the queue probes pick one).
"""
from __future__ import annotations

from celery import current_app
from django.db import transaction


def dispatch_on_commit(name: str, *args, task_id: str | None = None, queue: str | None = None) -> None:
    """Sends task `name` with JSON `args` after the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: dispatch(name, *args, task_id=task_id, queue=queue))


def dispatch(name: str, *args, task_id: str | None = None, queue: str | None = None):
    options = {"queue": queue} if queue else {}
    return current_app.send_task(name, args=list(args), task_id=task_id, **options)

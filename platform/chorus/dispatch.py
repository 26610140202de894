"""Queueing background work by registered task name, once the transaction that asked for it commits.

Services name the task rather than import it: tasks import services at module level, and nothing
imports back. Queues follow `CELERY_TASK_ROUTES` unless a queue is given (the queue probes pick one).

The request that asked for the work has already committed when the task is sent, so a broker that
cannot be reached must not turn it into an error page, nor lose the work: the task is kept in the
database (`PendingTask`) and `pending_tasks_send`, run by Celery beat, sends it once Redis answers
again. Tasks are idempotent (each starts by checking whether its work is still to do), so a task
that is sent twice does its work once.
"""
from __future__ import annotations

import logging

from celery import current_app
from django.db import transaction
from kombu.exceptions import OperationalError as KombuOperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from chorus.models import PendingTask

log = logging.getLogger(__name__)

BROKER_UNREACHABLE = (KombuOperationalError, RedisConnectionError, RedisTimeoutError)


def dispatch_on_commit(name: str, *args, task_id: str | None = None, queue: str | None = None) -> None:
    """Sends task `name` with JSON `args` after the current transaction commits (at once outside one);
    kept for later if the broker cannot be reached."""
    transaction.on_commit(lambda: dispatch_or_keep(name, *args, task_id=task_id, queue=queue))


def dispatch(name: str, *args, task_id: str | None = None, queue: str | None = None) -> None:
    """Sends the task now. Its result is not kept: the rows it writes are the outcome, and a web
    process that waited on results would subscribe to each one in Redis, and with Redis down would
    retry that subscription for many seconds before giving up."""
    options = {"queue": queue} if queue else {}
    current_app.send_task(name, args=list(args), task_id=task_id, ignore_result=True, **options)


def dispatch_or_keep(name: str, *args, task_id: str | None = None, queue: str | None = None) -> bool:
    """True when sent; False when the broker was unreachable and the task was kept to be sent later."""
    try:
        dispatch(name, *args, task_id=task_id, queue=queue)
    except BROKER_UNREACHABLE as exc:
        log.warning("broker unreachable; keeping %s%s to send later: %s", name, tuple(args), exc)
        PendingTask.objects.create(name=name, args=list(args), task_id=task_id or "", queue=queue or "",
                                   error=str(exc)[:1000])
        return False
    return True


def pending_tasks_send(*, limit: int = 500) -> int:
    """Sends kept tasks, oldest first, and forgets those sent; stops at the first the broker refuses.
    Returns how many were sent. Two senders at once skip each other's rows."""
    sent: list[int] = []
    with transaction.atomic():
        for task in PendingTask.objects.select_for_update(skip_locked=True)[:limit]:
            try:
                dispatch(task.name, *task.args, task_id=task.task_id or None, queue=task.queue or None)
            except BROKER_UNREACHABLE as exc:
                log.warning("broker still unreachable; %s kept: %s", task, exc)
                break
            sent.append(task.pk)
        PendingTask.objects.filter(pk__in=sent).delete()
    return len(sent)


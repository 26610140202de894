from celery import shared_task

from chorus.dispatch import pending_tasks_send


@shared_task(name="chorus.tasks.pending_tasks_send", soft_time_limit=120, time_limit=150)
def pending_tasks_resend() -> int:
    """Run by Celery beat: tasks kept while the broker was unreachable are sent now that it answers."""
    return pending_tasks_send()

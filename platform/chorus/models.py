from django.db import models


class PendingTask(models.Model):
    """A task that could not be queued because the broker (Redis) was unreachable.

    Kept so that the work asked for is not lost with the outage: `chorus.tasks.pending_tasks_send`,
    run by Celery beat, sends it once the broker answers again (see chorus.dispatch).
    """

    name = models.CharField(max_length=200)
    args = models.JSONField(default=list)
    task_id = models.CharField(max_length=64, blank=True)
    queue = models.CharField(max_length=50, blank=True)
    error = models.TextField(blank=True, help_text="Why it could not be sent the first time.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"{self.name}{tuple(self.args)}"

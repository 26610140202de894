from django.conf import settings
from django.db import models


class QueueProbe(models.Model):
    """A small task sent to one queue to show which worker picks it up, and on what device."""

    queue = models.CharField(max_length=32)
    task_id = models.CharField(max_length=64, blank=True)
    sent_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    sent_at = models.DateTimeField(auto_now_add=True)
    ran_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=200, blank=True)
    device = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-sent_at"]

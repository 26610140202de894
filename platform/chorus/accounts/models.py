"""Participants (anonymous, bound to a browser session), and API tokens with scopes for integrators.
Staff are Django users with is_staff."""
from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models


class Scope(models.TextChoices):
    READ_DATA = "read:data", "Read elicited data, graphs and datasets"
    READ_MODELS = "read:models", "Download trained models"
    WRITE_TARGETS = "write:targets", "Create and freeze alignment targets"
    WRITE_RUNS = "write:runs", "Create and cancel training runs"


class Participant(models.Model):
    """One person in one campaign. No account: the browser session holds `public_id`."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    campaign = models.ForeignKey("elicitation.Campaign", on_delete=models.CASCADE, related_name="participants")
    created_at = models.DateTimeField(auto_now_add=True)
    consented_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    completion_code = models.CharField(max_length=16, blank=True)
    # Optional self-described attributes (e.g. age band) used to split agreement by group.
    attributes = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        return f"participant {self.public_id} in campaign {self.campaign_id}"


class ApiToken(models.Model):
    """A bearer token `chorus_<prefix>_<secret>`. Only the SHA-256 of the whole token is stored."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    key_hash = models.CharField(max_length=64, unique=True)
    scopes = ArrayField(models.CharField(max_length=32, choices=Scope.choices))
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} (chorus_{self.prefix}_…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

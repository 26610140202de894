"""The moral graph's edges: wisdom-upgrade stories, votes on them, and frozen graph snapshots."""
from __future__ import annotations

from django.db import models

from elicitation.models.campaigns import Campaign, Wave
from elicitation.models.values import CanonicalCard, Context


class UpgradeStory(models.Model):
    """An LLM-proposed transition A -> B in a context, told as a first-person story."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="upgrade_stories")
    context = models.ForeignKey(Context, on_delete=models.CASCADE, related_name="+")
    from_card = models.ForeignKey(CanonicalCard, on_delete=models.CASCADE, related_name="+")
    to_card = models.ForeignKey(CanonicalCard, on_delete=models.CASCADE, related_name="+")
    story = models.TextField()
    model_name = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["from_card", "to_card", "context"], name="one_story_per_edge"),
            models.CheckConstraint(condition=~models.Q(from_card=models.F("to_card")), name="story_not_a_loop"),
        ]


class Relationship(models.TextChoices):
    UPGRADE = "upgrade", "Yes, wiser"
    NO_UPGRADE = "no_upgrade", "No"
    NOT_SURE = "not_sure", "Not sure"


class EdgeVote(models.Model):
    """One answer to "Did this person become wiser?" for A -> B in a context.

    Imported votes have no participant; they keep the study's own user id instead.
    """

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="edge_votes")
    participant = models.ForeignKey(
        "accounts.Participant", null=True, blank=True, on_delete=models.CASCADE, related_name="edge_votes"
    )
    external_user_id = models.CharField(max_length=100, blank=True)
    story = models.ForeignKey(UpgradeStory, null=True, blank=True, on_delete=models.SET_NULL, related_name="votes")
    from_card = models.ForeignKey(CanonicalCard, on_delete=models.CASCADE, related_name="+")
    to_card = models.ForeignKey(CanonicalCard, on_delete=models.CASCADE, related_name="+")
    context = models.ForeignKey(Context, on_delete=models.CASCADE, related_name="+")
    relationship = models.CharField(max_length=12, choices=Relationship.choices)
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["campaign", "created_at"])]
        constraints = [
            # A vote submitted twice (two tabs, retries, races) counts once.
            models.UniqueConstraint(
                fields=["participant", "from_card", "to_card", "context"],
                condition=models.Q(participant__isnull=False),
                name="one_vote_per_participant_edge",
            ),
            models.UniqueConstraint(
                fields=["campaign", "external_user_id", "from_card", "to_card", "context"],
                condition=models.Q(participant__isnull=True),
                name="one_vote_per_imported_user_edge",
            ),
            models.CheckConstraint(
                condition=models.Q(participant__isnull=False) | ~models.Q(external_user_id=""),
                name="vote_has_a_voter",
            ),
            models.CheckConstraint(condition=~models.Q(from_card=models.F("to_card")), name="vote_not_a_loop"),
        ]


class GraphSnapshot(models.Model):
    """The moral graph of a campaign (or one wave) as of a moment, frozen as MAI JSON."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="snapshots")
    wave = models.ForeignKey(Wave, null=True, blank=True, on_delete=models.CASCADE, related_name="snapshots")
    as_of = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    vote_count = models.PositiveIntegerField()
    summary = models.JSONField()

    class Meta:
        ordering = ["-as_of"]

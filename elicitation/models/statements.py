"""Statement voting as in Polis: participants write short statements and vote on each other's.

Imported conversations (Polis CSV exports) keep their voters as external ids, not Participant rows.
"""
from __future__ import annotations

from django.db import models
from django.utils import timezone


class Statement(models.Model):
    class Status(models.TextChoices):
        # Polis' default, non-strict moderation: a statement is voted on until a moderator rejects it.
        PENDING = "pending", "Not moderated yet"
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected"

    campaign = models.ForeignKey("elicitation.Campaign", on_delete=models.CASCADE, related_name="statements")
    author = models.ForeignKey("accounts.Participant", null=True, blank=True, on_delete=models.CASCADE,
                               related_name="statements")
    external_id = models.CharField(max_length=64, blank=True, help_text="the comment-id in an imported export")
    external_author_id = models.CharField(max_length=64, blank=True)
    text = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    moderated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "external_id"], condition=~models.Q(external_id=""),
                                    name="one_statement_per_external_id"),
        ]

    def __str__(self) -> str:
        return self.text[:60]


class StatementVote(models.Model):
    class Choice(models.IntegerChoices):
        # The values of Polis' CSV exports.
        AGREE = 1, "Agree"
        DISAGREE = -1, "Disagree"
        PASS = 0, "Pass / unsure"

    statement = models.ForeignKey(Statement, on_delete=models.CASCADE, related_name="votes")
    participant = models.ForeignKey("accounts.Participant", null=True, blank=True, on_delete=models.CASCADE,
                                    related_name="statement_votes")
    external_voter_id = models.CharField(max_length=64, blank=True)
    choice = models.SmallIntegerField(choices=Choice.choices)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(fields=["statement", "participant"], condition=models.Q(participant__isnull=False),
                                    name="one_statement_vote_per_participant"),
            models.UniqueConstraint(fields=["statement", "external_voter_id"],
                                    condition=models.Q(participant__isnull=True),
                                    name="one_statement_vote_per_imported_voter"),
            models.CheckConstraint(condition=models.Q(participant__isnull=False) | ~models.Q(external_voter_id=""),
                                   name="statement_vote_has_a_voter"),
            models.CheckConstraint(condition=models.Q(choice__in=[-1, 0, 1]), name="statement_vote_choice"),
        ]

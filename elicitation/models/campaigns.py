"""Campaigns, their questions and waves, and the activities a campaign runs."""
from __future__ import annotations

from django.conf import settings
from django.db import models


class Activity(models.TextChoices):
    INTERVIEW = "interview", "Values interview"
    VOTING = "voting", "Vote on values"
    UPGRADES = "upgrades", "Wisdom upgrades"
    PRINCIPLES = "principles", "Statements and principles"
    COMPARISONS = "comparisons", "Response comparisons"
    SURVEY = "survey", "Value survey"


class Campaign(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    description = models.TextField(blank=True)
    consent_text = models.TextField(
        default=(
            "You will talk with an AI about what you think matters when answering a hard question. "
            "Your answers are stored without your name and may be published as part of a research "
            "dataset. You can withdraw at any time, which deletes everything you contributed: your "
            "conversations, values cards, votes, statements, system message and comparisons, the values "
            "and principles written in your words, and your rows in datasets already prepared for "
            "training. Where a published constitution held a principle written from your words, it "
            "keeps a note saying an entry was removed in its place. Models already trained are not "
            "retrained."
        )
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    activities = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.title

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.OPEN


class Question(models.Model):
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="questions")
    text = models.TextField()
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "pk"]
        constraints = [models.UniqueConstraint(fields=["campaign", "position"], name="question_position_unique")]

    def __str__(self) -> str:
        return self.text[:80]


class Wave(models.Model):
    """A time step of a campaign (used to track how values change between waves)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="waves")
    number = models.PositiveIntegerField()
    label = models.CharField(max_length=100, blank=True)
    starts_at = models.DateTimeField()

    class Meta:
        ordering = ["campaign", "number"]
        constraints = [models.UniqueConstraint(fields=["campaign", "number"], name="wave_number_unique")]

    def __str__(self) -> str:
        return self.label or f"Wave {self.number}"


class CampaignJob(models.Model):
    """Background work a curator asked for on a campaign, and how it ended: what was made, or why
    nothing was. The dashboard shows it where the curator asked, polling until it is finished.

    At most one job of a kind is unfinished per campaign (a second click joins the first)."""

    class Kind(models.TextChoices):
        UPGRADE_STORIES = "upgrade_stories", "Upgrade stories"
        PRINCIPLE_DRAFTS = "principle_drafts", "Principle drafts"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        FINISHED = "finished", "Finished"
        FAILED = "failed", "Failed"

    UNFINISHED = (Status.QUEUED, Status.RUNNING)

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="jobs")
    kind = models.CharField(max_length=30, choices=Kind.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    made = models.PositiveIntegerField(default=0, help_text="stories written, principles drafted")
    note = models.TextField(blank=True, help_text="why nothing (or less) was made, and what to do")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "kind"], condition=models.Q(status__in=["queued", "running"]),
                                    name="campaign_job_one_unfinished"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for {self.campaign_id}: {self.status}"

    @property
    def is_finished(self) -> bool:
        return self.status not in self.UNFINISHED

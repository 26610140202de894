"""Values cards, the canonical values they are deduplicated into, the contexts those values guide,
and participants' votes on which values are wise."""
from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models

from elicitation.models.campaigns import Campaign, Question
from elicitation.models.interviews import Interview


class CanonicalCard(models.Model):
    """A deduplicated value: the node of the moral graph. Participants' cards point here."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="canonical_cards")
    question = models.ForeignKey(Question, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    title = models.CharField(max_length=100)
    description = models.TextField()
    policies = models.JSONField(default=list)
    # MAI's first study (dft) gave each value a paragraph on how to act on it, beside the one-line
    # description; kept so an imported study's graph exports what it was given.
    instructions_detailed = models.TextField(blank=True, help_text="MAI's instructionsDetailed, where imported")
    # Sorted, newline-joined policies embedded with all-MiniLM-L6-v2 (384 floats, L2-normalised).
    embedding = ArrayField(models.FloatField(), null=True, blank=True)
    external_id = models.CharField(max_length=100, blank=True, help_text="id in an imported study")
    # Set when a curator's merge took this value's last card into another value: it is then hidden
    # from curators, the API and new voting draws, and a split of that card brings it back.
    merged_into = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                    help_text="the value its last card was merged into, if any")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "external_id"], condition=~models.Q(external_id=""), name="canonical_external_unique"
            )
        ]

    def __str__(self) -> str:
        return self.title


class ValuesCard(models.Model):
    """A card a participant confirmed. Never written without the participant's explicit confirm."""

    participant = models.ForeignKey("accounts.Participant", on_delete=models.CASCADE, related_name="cards")
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="cards")
    interview = models.OneToOneField(Interview, null=True, blank=True, on_delete=models.SET_NULL, related_name="card")
    title = models.CharField(max_length=100)
    description = models.TextField()
    policies = models.JSONField()
    canonical = models.ForeignKey(CanonicalCard, null=True, blank=True, on_delete=models.SET_NULL, related_name="cards")
    # How the card found its canonical value: "new", "judge" (embedding + LLM judge), "embedding" (distance
    # alone, when the judge is at chance) or "curator".
    dedup_method = models.CharField(max_length=10, blank=True)
    dedup_distance = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]


class Context(models.Model):
    """A situation in which values apply, phrased "When ...". Upgrades are judged per context."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="contexts")
    text = models.CharField(max_length=300)
    embedding = ArrayField(models.FloatField(), null=True, blank=True)
    cards = models.ManyToManyField(CanonicalCard, related_name="contexts", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]
        constraints = [models.UniqueConstraint(fields=["campaign", "text"], name="context_text_unique")]

    def __str__(self) -> str:
        return self.text


class CardImpression(models.Model):
    """A participant was shown a peer's value for a question, and picked it as wise or not."""

    participant = models.ForeignKey("accounts.Participant", on_delete=models.CASCADE, related_name="impressions")
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="+")
    card = models.ForeignKey(CanonicalCard, on_delete=models.CASCADE, related_name="impressions")
    picked = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True, help_text="when the participant submitted the draw")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["participant", "question", "card"], name="one_impression_per_card")
        ]

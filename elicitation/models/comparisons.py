"""System messages and live response comparisons."""
from __future__ import annotations

from django.db import models

from elicitation.domain.text import same_reply

# Janus' Multifaceted Collection dimensions: what a person may ask of an answer.
DIMENSIONS = (
    ("style", "Style", "How should answers be written? e.g. short and plain, or warm and detailed."),
    ("background_knowledge", "Background knowledge", "What do you already know? e.g. new to the topic, or an expert."),
    ("informativeness", "Informativeness", "What should answers include? e.g. practical steps, sources, examples."),
    ("harmlessness", "Harmlessness", "What should answers be careful about? e.g. respect for my beliefs, no judgement."),
)


class SystemMessage(models.Model):
    """How a participant wants to be answered, in their words, with Janus' dimensions."""

    campaign = models.ForeignKey("elicitation.Campaign", on_delete=models.CASCADE, related_name="system_messages")
    participant = models.ForeignKey("accounts.Participant", on_delete=models.CASCADE, related_name="system_messages")
    text = models.TextField()
    # {dimension: the participant's words}, only the dimensions they filled in.
    dimensions = models.JSONField(default=dict, blank=True)
    adopted_from = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="adoptions")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]


class Comparison(models.Model):
    """Two responses to one prompt, shown side by side in a random order, and the participant's pick."""

    class Mode(models.TextChoices):
        WITH_WITHOUT = "with_without", "With and without the system message"
        TWO_SAMPLES = "two_samples", "Two samples"

    class Choice(models.TextChoices):
        A = "a", "A is better"
        B = "b", "B is better"
        TIE = "tie", "Tie"
        BOTH_BAD = "both_bad", "Both are bad"

    campaign = models.ForeignKey("elicitation.Campaign", on_delete=models.CASCADE, related_name="comparisons")
    participant = models.ForeignKey("accounts.Participant", on_delete=models.CASCADE, related_name="comparisons")
    system_message = models.ForeignKey(SystemMessage, null=True, on_delete=models.SET_NULL, related_name="comparisons")
    system_message_text = models.TextField(help_text="copied, so the record survives edits")
    prompt = models.TextField()
    mode = models.CharField(max_length=16, choices=Mode.choices)
    model_a = models.CharField(max_length=200)
    model_b = models.CharField(max_length=200)
    params_a = models.JSONField()
    params_b = models.JSONField()
    response_a = models.TextField(blank=True)
    response_b = models.TextField(blank=True)
    # The randomised order: True when response A was shown on the left.
    a_on_left = models.BooleanField()
    choice = models.CharField(max_length=10, choices=Choice.choices, blank=True)
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["campaign", "decided_at"]),
            # Exports walk a campaign's judged comparisons participant by participant.
            models.Index(fields=["campaign", "participant", "id"], condition=models.Q(decided_at__isnull=False),
                         name="comparison_export_order"),
        ]

    @property
    def is_ready(self) -> bool:
        return bool(self.response_a and self.response_b)

    @property
    def is_identical(self) -> bool:
        """Both responses are the same text: there is nothing to choose between."""
        return self.is_ready and same_reply(self.response_a, self.response_b)

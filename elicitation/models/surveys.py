"""The value survey: ProgressGym's items put to participants, a short rotating round per wave."""
from __future__ import annotations

from django.db import models

from chorus.accounts.models import Participant
from elicitation.models.campaigns import Campaign, Wave


class SurveyRound(models.Model):
    """The items one participant is asked in one wave: `length` items of the survey's pool from
    position `start` on (wrapping). Rounds are handed out in turn, so a wave's participants
    together cover the pool."""

    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="survey_rounds")
    wave = models.ForeignKey(Wave, on_delete=models.CASCADE, related_name="survey_rounds")
    start = models.PositiveIntegerField()
    length = models.PositiveSmallIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["participant", "wave"], name="survey_round_once_per_wave")]


class SurveyAnswer(models.Model):
    """One participant's choice on one item in one wave. `choice` indexes the item's options in
    the source file's order (0 is `action1`), whatever order they were shown in."""

    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="survey_answers")
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="survey_answers")
    wave = models.ForeignKey(Wave, on_delete=models.CASCADE, related_name="survey_answers")
    item_id = models.CharField(max_length=20)
    choice = models.PositiveSmallIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["participant", "wave", "item_id"], name="survey_answer_once_per_item_wave"),
            models.CheckConstraint(condition=models.Q(choice__lte=3), name="survey_answer_choice_in_range"),
        ]
        indexes = [models.Index(fields=["campaign", "wave"])]

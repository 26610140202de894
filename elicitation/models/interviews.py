"""Interviews: one participant's conversation with the LLM about one question."""
from __future__ import annotations

from django.db import models

from elicitation.models.campaigns import Question


class Interview(models.Model):
    """One participant's conversation with the LLM about one question."""

    class Status(models.TextChoices):
        CHATTING = "chatting", "Chatting"
        REVIEWING = "reviewing", "Reviewing a card"
        DONE = "done", "Card saved"

    participant = models.ForeignKey("accounts.Participant", on_delete=models.CASCADE, related_name="interviews")
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="interviews")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.CHATTING)
    # What produced the transcript, so a study can be reproduced and audited.
    model_name = models.CharField(max_length=200)
    model_params = models.JSONField(default=dict)
    prompt_version = models.CharField(max_length=40)
    # The card the LLM drafted from the conversation; shown to the participant, saved only on confirm.
    draft = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["participant", "question"], name="one_interview_per_question")
        ]


class InterviewMessage(models.Model):
    class Role(models.TextChoices):
        ASSISTANT = "assistant"
        USER = "user"

    interview = models.ForeignKey(Interview, on_delete=models.CASCADE, related_name="messages")
    role = models.CharField(max_length=10, choices=Role.choices)
    content = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]

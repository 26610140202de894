"""Reads for campaigns."""
from __future__ import annotations

from django.db.models import Count, QuerySet

from .models import Campaign


def campaign_list() -> QuerySet[Campaign]:
    return Campaign.objects.annotate(participant_count=Count("participants", distinct=True)).prefetch_related(
        "questions"
    )


def campaign_get(*, campaign_id: int) -> Campaign | None:
    return Campaign.objects.prefetch_related("questions").filter(pk=campaign_id).first()

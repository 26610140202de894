"""Reads for campaigns."""
from __future__ import annotations

from django.db import models
from django.db.models import Count, QuerySet

from .models import Campaign


def campaign_list() -> QuerySet[Campaign]:
    return Campaign.objects.annotate(participant_count=Count("participants", distinct=True)).prefetch_related(
        "questions"
    )


def campaign_get(*, campaign_id: int) -> Campaign | None:
    return Campaign.objects.prefetch_related("questions").filter(pk=campaign_id).first()


def participant_progress(*, participant, campaign: Campaign) -> list[dict]:
    """Per question: the interview's state and whether the participant has voted."""
    from .models import CardImpression, Interview

    interviews = {i.question_id: i.status for i in Interview.objects.filter(participant=participant)}
    voted = set(
        CardImpression.objects.filter(participant=participant, decided_at__isnull=False)
        .values_list("question_id", flat=True)
    )
    return [
        {"question": q, "interview": interviews.get(q.pk, ""), "voted": q.pk in voted}
        for q in campaign.questions.all()
    ]


def comparisons_decided(*, campaign: Campaign, since=None, until=None):
    """Judged comparisons of a campaign as plain dicts in a stable order, for exports.

    Dicts, not model instances: exports stream millions of rows (use .iterator()).
    """
    from .models import Comparison

    qs = Comparison.objects.filter(campaign=campaign, decided_at__isnull=False).order_by("participant_id", "pk")
    if since:
        qs = qs.filter(decided_at__gte=since)
    if until:
        qs = qs.filter(decided_at__lt=until)
    return qs.values("participant_id", "prompt", "response_a", "response_b", "choice", "system_message_text",
                     dimensions=models.F("system_message__dimensions"),
                     participant_public_id=models.F("participant__public_id"))

"""Reads for campaigns."""
from __future__ import annotations

from datetime import datetime

from django.db.models import Count, QuerySet

from elicitation.models import (
    Campaign,
    CampaignJob,
    CanonicalCard,
    CardImpression,
    EdgeVote,
    Interview,
    ValuesCard,
    Wave,
)


def campaign_list() -> QuerySet[Campaign]:
    return Campaign.objects.annotate(participant_count=Count("participants", distinct=True)).prefetch_related(
        "questions"
    )


def campaign_get(*, campaign_id: int) -> Campaign | None:
    return Campaign.objects.prefetch_related("questions").filter(pk=campaign_id).first()


def participant_progress(*, participant, campaign: Campaign) -> list[dict]:
    """Per question: the interview's state and whether the participant has voted."""
    interviews = {i.question_id: i.status for i in Interview.objects.filter(participant=participant)}
    voted = set(
        CardImpression.objects.filter(participant=participant, decided_at__isnull=False)
        .values_list("question_id", flat=True)
    )
    return [
        {"question": q, "interview": interviews.get(q.pk, ""), "voted": q.pk in voted}
        for q in campaign.questions.all()
    ]


def wave_window(*, wave: Wave) -> tuple[datetime, datetime | None]:
    """When a wave ran: from its start until the next wave starts (None while it is the latest)."""
    following = Wave.objects.filter(campaign_id=wave.campaign_id, starts_at__gt=wave.starts_at).order_by("starts_at")
    nxt = following.first()
    return wave.starts_at, (nxt.starts_at if nxt else None)


def campaign_counts(*, campaign: Campaign) -> dict[str, int]:
    """What a campaign holds so far, for its dashboard page."""
    imported_votes = EdgeVote.objects.filter(campaign=campaign, participant__isnull=True)
    return {
        "participants": campaign.participants.count(),
        "cards": ValuesCard.objects.filter(question__campaign=campaign).count(),
        "values": CanonicalCard.objects.filter(campaign=campaign).count(),
        "votes": EdgeVote.objects.filter(campaign=campaign).count(),
        "imported_voters": imported_votes.values("external_user_id").distinct().count(),
    }


def wave_get(*, campaign: Campaign, wave_id: int) -> Wave | None:
    return Wave.objects.filter(pk=wave_id, campaign=campaign).first()


def wave_by_number(*, campaign: Campaign, number: int) -> Wave | None:
    return Wave.objects.filter(campaign=campaign, number=number).first()


def campaign_jobs_recent(*, kind: str, campaign: Campaign | None = None, limit: int = 3) -> list[CampaignJob]:
    """The latest jobs of a kind (on one campaign, or on any), newest first."""
    jobs = CampaignJob.objects.filter(kind=kind).select_related("campaign")
    if campaign is not None:
        jobs = jobs.filter(campaign=campaign)
    return list(jobs.order_by("-created_at", "-pk")[:limit])


def campaign_waves(*, campaign: Campaign) -> QuerySet[Wave]:
    """A campaign's waves in the order they ran."""
    return Wave.objects.filter(campaign=campaign).order_by("starts_at", "number")

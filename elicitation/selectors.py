"""Reads for campaigns."""
from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from .models import Campaign


def campaign_list() -> QuerySet[Campaign]:
    return Campaign.objects.annotate(participant_count=Count("participants", distinct=True)).prefetch_related(
        "questions"
    )


def campaign_get(*, campaign_id: int) -> Campaign | None:
    return Campaign.objects.prefetch_related("questions").filter(pk=campaign_id).first()


def campaigns_with_judged_comparisons() -> QuerySet[Campaign]:
    """Campaigns in which someone has judged a comparison, each with `judged_count`, by title."""
    judged = Count("comparisons", filter=Q(comparisons__decided_at__isnull=False))
    return Campaign.objects.annotate(judged_count=judged).filter(judged_count__gt=0).order_by("title", "pk")


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


def comparisons_decided(*, campaign: Campaign, since=None, until=None, chunk_size: int = 2000):
    """Judged comparisons of a campaign as plain dicts, streamed in a stable order, for exports.

    Dicts, not model instances, and no joins: exports stream millions of rows, and a join lets a
    planner with stale statistics pick a plan that takes minutes to return the first row. The few
    per-participant fields come from small lookups instead. Only consented participants' rows:
    comparisons are made after consent and withdrawal deletes them, and this holds to it as well.
    """
    from chorus.accounts.models import Participant

    from .models import Comparison, SystemMessage

    qs = Comparison.objects.filter(campaign=campaign, decided_at__isnull=False).order_by("participant_id", "pk")
    if since:
        qs = qs.filter(decided_at__gte=since)
    if until:
        qs = qs.filter(decided_at__lt=until)
    dimensions = dict(SystemMessage.objects.filter(campaign=campaign).values_list("pk", "dimensions"))
    public_ids = dict(Participant.objects.filter(campaign=campaign, consented_at__isnull=False)
                      .values_list("pk", "public_id"))
    rows = qs.values("participant_id", "system_message_id", "prompt", "response_a", "response_b", "choice",
                     "system_message_text")
    for row in rows.iterator(chunk_size=chunk_size):
        if row["participant_id"] not in public_ids:
            continue
        row["dimensions"] = dimensions.get(row["system_message_id"]) or {}
        row["participant_public_id"] = public_ids[row["participant_id"]]
        yield row

"""Voting on peers' values, and answering "Did this person become wiser?" for upgrade stories."""
from __future__ import annotations

import random

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from ..models import CanonicalCard, CardImpression, EdgeVote, Question, Relationship, UpgradeStory

VOTING_DRAW = 6
UPGRADES_PER_PARTICIPANT = 3
COMMENT_MAX_CHARS = 1000


class CampaignClosed(Exception):
    pass


def voting_draw(*, participant, question: Question) -> list[CanonicalCard]:
    """Up to six peers' values for the question, the same ones on every visit.

    Showing a card records an impression, which the moral graph needs alongside the picks.
    """
    shown = list(CanonicalCard.objects.filter(impressions__participant=participant, impressions__question=question))
    if shown:
        return shown
    own = participant.cards.filter(question=question, canonical__isnull=False).values_list("canonical_id", flat=True)
    pool = list(
        CanonicalCard.objects.filter(campaign_id=participant.campaign_id, question=question).exclude(pk__in=own)
    )
    rng = random.Random(f"{participant.public_id}:{question.pk}")
    drawn = rng.sample(pool, min(VOTING_DRAW, len(pool)))
    CardImpression.objects.bulk_create(
        [CardImpression(participant=participant, question=question, card=card) for card in drawn],
        ignore_conflicts=True,
    )
    return drawn


@transaction.atomic
def votes_submit(*, participant, question: Question, picked_ids: list[int]) -> int:
    """Records which shown cards the participant found wise. Resubmitting replaces the picks."""
    _require_open(participant)
    impressions = CardImpression.objects.select_for_update().filter(participant=participant, question=question)
    shown = {i.card_id for i in impressions}
    picked = {int(i) for i in picked_ids}
    if not shown:
        raise ValidationError({"picked": "There is nothing to vote on for this question yet."})
    if picked - shown:
        raise ValidationError({"picked": "You can only pick among the values you were shown."})
    now = timezone.now()
    impressions.update(decided_at=now, picked=False)
    impressions.filter(card_id__in=picked).update(picked=True)
    return len(picked)


def upgrade_draw(*, participant) -> list[UpgradeStory]:
    """Stories the participant has not answered yet, those touching values they picked first."""
    answered = EdgeVote.objects.filter(participant=participant).values_list("story_id", flat=True)
    stories = list(
        UpgradeStory.objects.filter(campaign_id=participant.campaign_id)
        .exclude(pk__in=answered)
        .select_related("from_card", "to_card", "context")
    )
    picked = set(CardImpression.objects.filter(participant=participant, picked=True).values_list("card_id", flat=True))
    rng = random.Random(f"{participant.public_id}:upgrades")
    rng.shuffle(stories)
    stories.sort(key=lambda s: -len({s.from_card_id, s.to_card_id} & picked))  # stable: shuffled within ties
    already = EdgeVote.objects.filter(participant=participant).count()
    return stories[: max(0, UPGRADES_PER_PARTICIPANT - already)]


def edge_vote_cast(*, participant, story: UpgradeStory, relationship: str, comment: str = "") -> EdgeVote:
    """One answer per participant and edge, enforced by the database: a repeat returns the first."""
    _require_open(participant)
    if story.campaign_id != participant.campaign_id:
        raise ValidationError({"story": "This story belongs to another study."})
    if relationship not in Relationship.values:
        raise ValidationError({"relationship": "Choose Yes, No or Not sure."})
    comment = (comment or "").strip()
    if len(comment) > COMMENT_MAX_CHARS:
        raise ValidationError({"comment": f"Keep your reason under {COMMENT_MAX_CHARS} characters."})
    try:
        with transaction.atomic():
            return EdgeVote.objects.create(
                campaign_id=story.campaign_id, participant=participant, story=story,
                from_card_id=story.from_card_id, to_card_id=story.to_card_id, context_id=story.context_id,
                relationship=relationship, comment=comment, created_at=timezone.now(),
            )
    except IntegrityError:
        return EdgeVote.objects.get(participant=participant, from_card_id=story.from_card_id,
                                    to_card_id=story.to_card_id, context_id=story.context_id)


def _require_open(participant) -> None:
    if not participant.campaign.is_open:
        raise CampaignClosed("This study is closed, so votes are no longer taken.")

"""Withdrawal: a participant leaves and takes their words with them."""
from __future__ import annotations

from django.contrib.sessions.backends.base import SessionBase
from django.db import transaction
from django.db.models import Q

from chorus.accounts import services as account_services
from elicitation.models import CanonicalCard, CardImpression, EdgeVote


@transaction.atomic
def participant_withdraw(*, participant, session: SessionBase) -> None:
    """Deletes the participant and everything they contributed (by cascade), and also the values
    that were written from their cards alone and that nobody else has seen or judged. A value that
    others have voted on stays as a node of the graph: deleting it would delete their votes."""
    # Values created from this participant's card (dedup made them "new"), held by no one else.
    own = CanonicalCard.objects.filter(cards__participant=participant, cards__dedup_method="new").exclude(
        cards__in=participant.campaign.participants.exclude(pk=participant.pk).values("cards")
    ).filter(external_id="")
    touched_by_others = (
        EdgeVote.objects.exclude(participant=participant).filter(Q(from_card__in=own) | Q(to_card__in=own))
        .values_list("from_card_id", "to_card_id")
    )
    seen_by_others = set(
        CardImpression.objects.exclude(participant=participant).filter(card__in=own).values_list("card_id", flat=True)
    )
    keep = {card for pair in touched_by_others for card in pair} | seen_by_others
    forget = [pk for pk in own.values_list("pk", flat=True) if pk not in keep]
    account_services.participant_withdraw(participant=participant, session=session)
    CanonicalCard.objects.filter(pk__in=forget).delete()

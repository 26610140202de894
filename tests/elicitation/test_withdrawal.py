"""Withdrawing deletes the participant's contributions, and values written from their words alone."""
import pytest
from django.contrib.sessions.backends.db import SessionStore

from chorus.accounts.models import Participant
from elicitation.models import CanonicalCard, EdgeVote, ValuesCard
from elicitation.services.participants import participant_withdraw
from tests.factories import make_edge_vote, make_participant
from tests.support.seed import seed_peer_values

pytestmark = pytest.mark.django_db


def card_of(participant, canonical, method="judge"):
    """Planted: a card already placed by deduplication, and two of them on one question, which no service writes."""
    return ValuesCard.objects.create(participant=participant, question=participant.campaign.questions.get(),
                                     title=canonical.title, description="x", policies=canonical.policies,
                                     canonical=canonical, dedup_method=method)


def test_values_written_by_the_participant_alone_go_with_them(participant):
    peers = seed_peer_values(participant.campaign.questions.get(), stories=0)
    mine = CanonicalCard.objects.create(campaign=participant.campaign, question=participant.campaign.questions.get(),
                                        title="Only Mine", description="x", policies=["THINGS a", "THINGS b", "THINGS c"])
    card_of(participant, mine, method="new")
    card_of(participant, peers[0])  # a value others hold too (seeded, not written by this participant)
    participant_withdraw(participant=participant, session=SessionStore())
    assert not Participant.objects.filter(pk=participant.pk).exists()
    assert not ValuesCard.objects.exists()
    assert not CanonicalCard.objects.filter(pk=mine.pk).exists()
    assert CanonicalCard.objects.filter(pk=peers[0].pk).exists()


def test_a_value_others_voted_on_stays_with_their_votes(participant):
    peers = seed_peer_values(participant.campaign.questions.get(), stories=0)
    mine = CanonicalCard.objects.create(campaign=participant.campaign, question=participant.campaign.questions.get(),
                                        title="Only Mine", description="x", policies=["THINGS a", "THINGS b", "THINGS c"])
    card_of(participant, mine, method="new")
    other = make_participant(participant.campaign)
    make_edge_vote(other, peers[0], mine, participant.campaign.contexts.get())
    participant_withdraw(participant=participant, session=SessionStore())
    assert CanonicalCard.objects.filter(pk=mine.pk).exists() and EdgeVote.objects.count() == 1

"""Voting on values and on upgrades: draws, picks, double submissions and closed campaigns."""
import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from elicitation.models import Campaign, CardImpression, EdgeVote
from elicitation.services import moral_graph, values
from elicitation.services.campaigns import CampaignClosed
from elicitation.services.values import card_move
from tests.factories import make_values_card
from tests.support.seed import seed_peer_values

pytestmark = pytest.mark.django_db

MINE = ["THINGS that are mine", "PLACES that are mine", "TIMES that are mine"]


@pytest.fixture
def peers(participant):
    return seed_peer_values(participant.campaign.questions.get())


def question_of(participant):
    return participant.campaign.questions.get()


def test_draw_shows_six_peers_and_records_impressions_once(participant, peers):
    make_values_card(participant, title="Mine Alone", description="Mine.", policies=MINE)  # not yet deduplicated
    first = values.voting_draw(participant=participant, question=question_of(participant))
    again = values.voting_draw(participant=participant, question=question_of(participant))
    assert len(first) == 6 and {c.pk for c in first} == {c.pk for c in again}
    assert CardImpression.objects.filter(participant=participant).count() == 6


def test_own_value_is_not_in_the_draw(participant, peers):
    card = make_values_card(participant, title="Mine Alone", description="Mine.", policies=MINE)
    card_move(card=card, canonical=peers[0])  # a curator placed it with a peer's value
    drawn = values.voting_draw(participant=participant, question=question_of(participant))
    assert peers[0] not in drawn and len(drawn) == 6


def test_picks_must_come_from_the_draw(participant, peers):
    drawn = values.voting_draw(participant=participant, question=question_of(participant))
    not_shown = next(c for c in peers if c not in drawn)
    with pytest.raises(ValidationError, match="only pick among"):
        values.votes_submit(participant=participant, question=question_of(participant), picked_ids=[not_shown.pk])
    assert not CardImpression.objects.filter(picked=True).exists()
    values.votes_submit(participant=participant, question=question_of(participant), picked_ids=[drawn[0].pk])
    values.votes_submit(participant=participant, question=question_of(participant), picked_ids=[drawn[1].pk])
    assert list(CardImpression.objects.filter(picked=True).values_list("card_id", flat=True)) == [drawn[1].pk]


def test_upgrades_put_picked_values_first(participant, peers):
    question = question_of(participant)
    # Picked directly: the random draw of six from seven may leave peers[3] out.
    CardImpression.objects.create(participant=participant, question=question, card=peers[3], picked=True)
    stories = moral_graph.upgrade_draw(participant=participant)
    assert len(stories) == 3
    assert peers[3].pk in (stories[0].from_card_id, stories[0].to_card_id)


def test_a_vote_submitted_twice_counts_once(participant, peers):
    story = moral_graph.upgrade_draw(participant=participant)[0]
    first = moral_graph.edge_vote_cast(participant=participant, story=story, relationship="upgrade")
    second = moral_graph.edge_vote_cast(participant=participant, story=story, relationship="no_upgrade")
    assert first.pk == second.pk and EdgeVote.objects.count() == 1
    assert len(moral_graph.upgrade_draw(participant=participant)) == 2


@pytest.mark.django_db(transaction=True)
def test_concurrent_double_votes_count_once(participant, peers):
    story = moral_graph.upgrade_draw(participant=participant)[0]
    barrier, results = threading.Barrier(4), []

    def vote():
        barrier.wait()
        results.append(moral_graph.edge_vote_cast(participant=participant, story=story, relationship="upgrade").pk)
        connection.close()

    threads = [threading.Thread(target=vote) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert EdgeVote.objects.count() == 1 and len(set(results)) == 1


def test_the_database_refuses_a_duplicate_even_without_the_service(participant, peers):
    from django.db import IntegrityError
    from django.utils import timezone

    story = moral_graph.upgrade_draw(participant=participant)[0]
    fields = dict(campaign=participant.campaign, participant=participant, from_card=story.from_card,
                  to_card=story.to_card, context=story.context, relationship="upgrade", created_at=timezone.now())
    EdgeVote.objects.create(**fields)
    with pytest.raises(IntegrityError):
        EdgeVote.objects.create(**fields)


@pytest.mark.parametrize("relationship, comment, field", [("wiser", "", "relationship"), ("upgrade", "x" * 1001, "comment")])
def test_bad_votes_are_refused(participant, peers, relationship, comment, field):
    story = moral_graph.upgrade_draw(participant=participant)[0]
    with pytest.raises(ValidationError) as exc:
        moral_graph.edge_vote_cast(participant=participant, story=story, relationship=relationship, comment=comment)
    assert field in exc.value.message_dict
    assert not EdgeVote.objects.exists()


def test_votes_on_a_closed_campaign_are_refused(participant, peers):
    story = moral_graph.upgrade_draw(participant=participant)[0]
    values.voting_draw(participant=participant, question=question_of(participant))
    Campaign.objects.filter(pk=participant.campaign_id).update(status=Campaign.Status.CLOSED)
    participant.campaign.refresh_from_db()
    with pytest.raises(CampaignClosed):
        moral_graph.edge_vote_cast(participant=participant, story=story, relationship="upgrade")
    with pytest.raises(CampaignClosed):
        values.votes_submit(participant=participant, question=question_of(participant), picked_ids=[])
    assert not EdgeVote.objects.exists()

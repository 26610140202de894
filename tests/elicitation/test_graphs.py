"""The campaign graph from stored votes: as of a moment, per wave, wisest values, demographic split."""
from datetime import timedelta

import pytest
from django.utils import timezone

from elicitation.models import EdgeVote, GraphSnapshot
from elicitation.selectors import moral_graph as graphs
from elicitation.services.moral_graph import graph_snapshot_create
from tests.factories import make_edge_vote, make_participant, make_wave
from tests.support.seed import seed_peer_values

pytestmark = pytest.mark.django_db

T0 = timezone.now() - timedelta(days=10)


@pytest.fixture
def study(participant):
    cards = seed_peer_values(participant.campaign.questions.get(), stories=0)
    return participant.campaign, cards, participant.campaign.contexts.get()


def voter(campaign, **attributes):
    return make_participant(campaign, at=T0, attributes=attributes)


def vote(campaign, who, a, b, context, relationship="upgrade", day=0):
    return make_edge_vote(who, a, b, context, relationship, at=T0 + timedelta(days=day))


def test_edge_kept_after_enough_agreeing_votes_and_ranked(study):
    campaign, cards, context = study
    for day in range(3):
        vote(campaign, voter(campaign), cards[0], cards[1], context, day=day)
    result = graphs.graph_compute(campaign=campaign)
    [edge] = result.graph.edges
    assert (edge.source_value_id, edge.wiser_value_id, edge.contexts) == (cards[0].pk, cards[1].pk, (context.pk,))
    assert edge.tally.marked_wiser == 3 and edge.tally.impressions == 3
    ranks = {v.id: v.page_rank for v in result.graph.values}
    assert ranks[cards[1].pk] > ranks[cards[0].pk]
    wisest = graphs.wisest_values_per_context(result=result, campaign=campaign)
    assert wisest[0]["values"][0]["id"] == cards[1].pk


def test_graph_as_of_a_past_moment_counts_only_earlier_votes(study):
    campaign, cards, context = study
    for day in (0, 1, 5):
        vote(campaign, voter(campaign), cards[0], cards[1], context, day=day)
    assert graphs.graph_compute(campaign=campaign, as_of=T0 + timedelta(days=1)).graph.edges == ()
    past = graphs.graph_compute(campaign=campaign, as_of=T0 + timedelta(days=2))
    assert len(past.votes) == 2 and past.graph.edges[0].tally.marked_wiser == 2


def test_imported_votes_count_per_external_user(study):
    campaign, cards, context = study
    for user in ("u1", "u2"):  # as the MAI importer writes them (a whole study at once, not vote by vote)
        EdgeVote.objects.create(campaign=campaign, external_user_id=user, from_card=cards[2], to_card=cards[3],
                                context=context, relationship="upgrade", created_at=T0)
    result = graphs.graph_compute(campaign=campaign)
    assert len(set(result.votes.user_id.tolist())) == 2 and result.graph.edges[0].tally.marked_wiser == 2


def test_wave_snapshot_freezes_the_graph_as_of_the_next_wave(study):
    campaign, cards, context = study
    first = make_wave(campaign, T0 - timedelta(days=1))
    make_wave(campaign, T0 + timedelta(days=3))
    for day in (0, 1, 4):
        vote(campaign, voter(campaign), cards[0], cards[1], context, day=day)
    snapshot = graph_snapshot_create(campaign=campaign, wave=first)
    assert snapshot.as_of == T0 + timedelta(days=3) and snapshot.vote_count == 2
    assert snapshot.summary["edges"][0]["counts"]["markedWiser"] == 2
    assert snapshot.summary["contexts"] == {str(context.pk): context.text}
    later = graph_snapshot_create(campaign=campaign)
    assert later.vote_count == 3 and GraphSnapshot.objects.count() == 2


def test_agreement_is_split_by_a_participant_attribute(study):
    campaign, cards, context = study
    for day, (band, answer) in enumerate([("18-30", "upgrade"), ("18-30", "upgrade"), ("60+", "upgrade"),
                                          ("60+", "no_upgrade"), ("", "upgrade")]):
        vote(campaign, voter(campaign, age=band), cards[0], cards[1], context, relationship=answer, day=day)
    result = graphs.graph_compute(campaign=campaign)
    split = graphs.edge_agreement_by(result=result, attribute="age")[(cards[0].pk, cards[1].pk)]
    assert split["18-30"].marked_wiser == 2 and split["18-30"].wiser_likelihood == 1.0
    assert (split["60+"].marked_wiser, split["60+"].marked_not_wiser) == (1, 1)
    assert set(split) == {"18-30", "60+"}

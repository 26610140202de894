"""The moral graph wave by wave: which values lead each context as of each wave's end, and what changed."""
from datetime import timedelta

import pytest
from django.utils import timezone

from elicitation.selectors.surveys import graph_leaders_per_wave
from tests.factories import make_edge_vote, make_participant, make_wave
from tests.support.seed import seed_peer_values

pytestmark = pytest.mark.django_db

T0 = timezone.now() - timedelta(days=10)


def test_leaders_per_wave_follow_the_votes_cast_before_the_next_wave(participant):
    campaign = participant.campaign
    cards = seed_peer_values(campaign.questions.get(), stories=0)
    context = campaign.contexts.get()
    make_wave(campaign, T0 - timedelta(days=1), label="First")
    make_wave(campaign, T0 + timedelta(days=3), label="Second")
    for day in (0, 1, 2):  # first wave: Faith As Guidance is wiser than Informed Autonomy
        make_edge_vote(make_participant(campaign, at=T0), cards[0], cards[1], context, at=T0 + timedelta(days=day))
    for day in (4, 5, 6):  # second wave: Care For Wellbeing is wiser than Faith As Guidance
        make_edge_vote(make_participant(campaign, at=T0), cards[1], cards[2], context, at=T0 + timedelta(days=day))

    first, second = graph_leaders_per_wave(campaign=campaign)
    assert first["votes"] == 3 and second["votes"] == 6
    [c1], [c2] = first["contexts"], second["contexts"]
    assert c1["leaders"] == [cards[1].title] and not c1["top_changed"]
    assert c2["leaders"] == [cards[2].title]
    assert c2["gained"] == [cards[2].title] and c2["lost"] == [cards[1].title] and c2["top_changed"]


def test_the_staff_page_shows_both_views(client, staff_user, participant):
    campaign = participant.campaign
    make_wave(campaign, T0, label="Only wave")
    client.force_login(staff_user)
    page = client.get(f"/dashboard/campaigns/{campaign.pk}/waves/values/").content.decode()
    assert "Only wave" in page and 'data-dim="do_not_kill"' in page and 'data-wave="1"' in page
    assert client.get(f"/dashboard/campaigns/{campaign.pk}/").content.decode().count("/waves/values/") == 1

"""The comparisons leaderboard page: scores, intervals, and the dimension filter."""
import pytest
from django.utils import timezone

from elicitation.models import Comparison
from tests.factories import CampaignFactory, make_participant, make_system_message

pytestmark = pytest.mark.django_db


def test_leaderboard_ranks_models_and_filters_by_dimension(client, staff_user, django_assert_max_num_queries):
    campaign = CampaignFactory()
    now = timezone.now()
    for dims, winner, n in [({"style": "brief"}, "a", 8), ({"harmlessness": "kind"}, "b", 8)]:
        p = make_participant(campaign)
        sm = make_system_message(p, "x", dims)
        for i in range(n):  # judged comparisons of two made-up models: no service writes given model names
            Comparison.objects.create(campaign=campaign, participant=p, system_message=sm, system_message_text="x",
                                      prompt="q", mode="with_without", model_a="alpha", model_b="beta", params_a={},
                                      params_b={}, response_a="1", response_b="2", a_on_left=True,
                                      choice=winner if i % 4 else "tie", decided_at=now)
    client.force_login(staff_user)
    with django_assert_max_num_queries(6):
        everything = client.get(f"/dashboard/campaigns/{campaign.pk}/leaderboard/").content.decode()
    assert "from 16 judged comparisons" in everything and "alpha" in everything and "<svg" in everything
    style = client.get(f"/dashboard/campaigns/{campaign.pk}/leaderboard/?dimension=style").content.decode()
    assert "from 8 judged comparisons" in style
    assert style.index("alpha") < style.index("beta")  # alpha wins under the "style" system messages
    empty = client.get(f"/dashboard/campaigns/{campaign.pk}/leaderboard/?dimension=informativeness").content.decode()
    assert "No judged comparisons yet for this dimension" in empty

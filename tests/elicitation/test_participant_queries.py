"""Participant requests stay within a small SQL budget: under load every extra query per request is
CPU on a busy web worker (bench/load.py measures it; `bench/load.py --queries` prints these counts).
A page that starts loading a related row per request, or per item, fails here."""
import re

import pytest

from chorus.accounts.join_links import join_token_make
from chorus.accounts.selectors import consented_participant
from chorus.accounts.services import session_key_for
from elicitation.models import Comparison
from tests.factories import CampaignFactory, make_participant
from tests.support.seed import seed_peer_values

pytestmark = pytest.mark.django_db


def test_the_participant_a_request_finds_comes_with_its_campaign(django_assert_num_queries):
    campaign = CampaignFactory()
    participant = make_participant(campaign)
    session = {session_key_for(campaign.pk): str(participant.public_id)}

    found = consented_participant(session=session, campaign_id=campaign.pk)

    with django_assert_num_queries(0):  # every service checks the campaign is open
        assert found.campaign.is_open


def test_a_participants_comparison_and_votes_stay_within_budget(client, scripted_llm, django_assert_max_num_queries):
    campaign = CampaignFactory()
    seed_peer_values(campaign.questions.get())
    base = f"/c/{campaign.slug}"
    client.post(f"/join/{join_token_make(campaign_id=campaign.pk)}/", {"consent": "yes"})
    client.post(f"{base}/compare/", {"action": "system_message", "text": "Be brief."})
    scripted_llm.replies = ["Talk to people you trust first.", "Take your time and decide for yourself."]

    with django_assert_max_num_queries(9):  # campaign, session, participant, lock, cap, message, insert
        response = client.post(f"{base}/compare/", {"action": "compare", "prompt": "What should I do?"})
    page = response["Location"]
    with django_assert_max_num_queries(4):
        assert client.get(page).status_code == 200
    for side in ("a", "b"):
        # campaign, session, participant, comparison; then three short locked transactions on the comparison
        # row (claim the side, check the other side's answer is different, store it with its seed), each a
        # savepoint pair inside the test's transaction, and the stored answer read back to render. Merging
        # the three into one transaction is the next saving here.
        with django_assert_max_num_queries(15):
            b"".join(client.get(f"{page}stream/{side}/").streaming_content)
    with django_assert_max_num_queries(7):
        assert client.post(page, {"choice": "left"}).status_code == 302
    assert Comparison.objects.get().choice in ("a", "b")

    vote_page = f"{base}/q/{campaign.questions.get().pk}/vote/"
    with django_assert_max_num_queries(9):
        picked = re.findall(r'name="picked" value="(\d+)"', client.get(vote_page).content.decode())[:2]
    with django_assert_max_num_queries(9):
        assert client.post(vote_page, {"picked": picked}).status_code == 302

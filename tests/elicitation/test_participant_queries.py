"""Participant requests stay within a small SQL budget: under load every extra query per request is
CPU on a busy web worker (bench/load.py measures it; `bench/load.py --queries` prints these counts).
A page that starts loading a related row per request, or per item, fails here."""
import re

import pytest

from chorus.accounts.join_links import join_token_make
from chorus.accounts.selectors import consented_participant, participant_by_campaign_slug
from chorus.accounts.services import session_key_for
from elicitation.models import Comparison, StatementVote
from elicitation.services.statements import statement_submit
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


def test_the_participant_found_by_slug_is_the_one_the_session_names_for_that_campaign(django_assert_num_queries):
    campaign, other = CampaignFactory(), CampaignFactory()
    participant = make_participant(campaign, attributes={"age": "30-39"})
    elsewhere = make_participant(other)
    session = {session_key_for(campaign.pk): str(participant.public_id),
               session_key_for(other.pk): str(elsewhere.public_id)}

    with django_assert_num_queries(1):
        found = participant_by_campaign_slug(session=session, slug=campaign.slug)
        assert (found, found.campaign, found.campaign.activities, found.attributes) == (
            participant, campaign, campaign.activities, {"age": "30-39"})
        assert found.campaign.is_open and found.consented_at == participant.consented_at
    assert participant_by_campaign_slug(session=session, slug=other.slug) == elsewhere
    # A participant of this campaign that the session names under another campaign's key is not this session's.
    assert participant_by_campaign_slug(session={session_key_for(other.pk): str(participant.public_id)},
                                        slug=campaign.slug) is None
    assert participant_by_campaign_slug(session={}, slug=campaign.slug) is None
    assert participant_by_campaign_slug(session=session, slug="no-such-study") is None


def test_a_participants_comparison_and_votes_stay_within_budget(client, scripted_llm, django_assert_max_num_queries):
    campaign = CampaignFactory()
    seed_peer_values(campaign.questions.get())
    base = f"/c/{campaign.slug}"
    client.post(f"/join/{join_token_make(campaign_id=campaign.pk)}/", {"consent": "yes"})
    client.post(f"{base}/compare/", {"action": "system_message", "text": "Be brief."})
    scripted_llm.replies = ["Talk to people you trust first.", "Take your time and decide for yourself."]

    with django_assert_max_num_queries(8):  # session, participant with campaign, lock, cap, message, insert
        response = client.post(f"{base}/compare/", {"action": "compare", "prompt": "What should I do?"})
    page = response["Location"]
    with django_assert_max_num_queries(3):
        assert client.get(page).status_code == 200
    for side in ("a", "b"):
        # session, participant with campaign, comparison; then one locked transaction on the comparison row
        # (a savepoint pair inside the test's transaction) that checks the other side's answer is different
        # and stores this one, which is rendered from the comparison without reading it back.
        with django_assert_max_num_queries(7):
            b"".join(client.get(f"{page}stream/{side}/").streaming_content)
    with django_assert_max_num_queries(5):
        assert client.post(page, {"choice": "left"}).status_code == 302
    assert Comparison.objects.get().choice in ("a", "b")

    vote_page = f"{base}/q/{campaign.questions.get().pk}/vote/"
    with django_assert_max_num_queries(7):
        picked = re.findall(r'name="picked" value="(\d+)"', client.get(vote_page).content.decode())[:2]
    with django_assert_max_num_queries(8):
        assert client.post(vote_page, {"picked": picked}).status_code == 302


def test_upgrades_and_statement_votes_stay_within_budget(client, django_assert_max_num_queries):
    campaign = CampaignFactory()
    seed_peer_values(campaign.questions.get())
    base = f"/c/{campaign.slug}"
    client.post(f"/join/{join_token_make(campaign_id=campaign.pk)}/", {"consent": "yes"})

    with django_assert_max_num_queries(5):  # session, participant with campaign, answered, stories, picked values
        story = re.search(r'name="story" value="(\d+)"', client.get(f"{base}/upgrades/").content.decode())[1]
    with django_assert_max_num_queries(8):  # session, participant, story; lock, answered, insert (in a savepoint)
        assert client.post(f"{base}/upgrades/", {"story": story, "relationship": "upgrade"}).status_code == 302

    author = make_participant(campaign)
    for i in range(2):
        statement_submit(participant=author, text=f"Statement {i}: the assistant should say what it does not know.")
    page = client.get(f"{base}/statements/").content.decode()
    for choice in ("agree", "disagree"):  # a first vote, then a changed one
        statement = re.search(r'name="statement" value="(\d+)"', page)[1]
        # session, participant with campaign, statement, insert (in a savepoint), next statement, votes cast
        with django_assert_max_num_queries(8):
            client.post(f"{base}/statements/vote/", {"statement": statement, "choice": "agree"}, HTTP_HX_REQUEST="true")
        # A changed vote (rare: the page offers statements not voted on yet): the insert is refused and
        # rolled back, the vote read and updated.
        with django_assert_max_num_queries(11):
            page = client.post(f"{base}/statements/vote/", {"statement": statement, "choice": choice},
                               HTTP_HX_REQUEST="true").content.decode()
    assert sorted(StatementVote.objects.filter(participant__isnull=False).exclude(participant=author)
                  .values_list("choice", flat=True)) == [-1, 1]

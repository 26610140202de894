"""The moral graph page: staff see it live; participants only after the campaign closes."""
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from chorus.accounts.join_links import join_token_make
from elicitation.models import Campaign
from tests.factories import CampaignFactory, make_edge_vote, make_participant
from tests.support.seed import seed_peer_values

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def graph_study():
    campaign = CampaignFactory(questions=["What should I do?"])
    cards = seed_peer_values(campaign.questions.get(), stories=0)
    context = campaign.contexts.get()
    start = timezone.now() - timedelta(days=3)
    for i, (a, b) in enumerate([(0, 1), (0, 1), (0, 1), (2, 1), (2, 1), (3, 2), (3, 2)]):
        voter = make_participant(campaign, at=start)
        make_edge_vote(voter, cards[a], cards[b], context, at=start + timedelta(hours=i))
    return campaign, cards


def test_staff_explore_the_graph(page, live_server, staff_user):
    campaign, cards = graph_study()
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("curator")
    page.get_by_label("Password").fill("pw-curator-123")
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{live_server.url}/c/{campaign.slug}/graph/")
    expect(page.locator("#graph-status")).to_contain_text("4 values, 3 upgrades, from 7 votes")
    expect(page.locator(".graph-node")).to_have_count(4)
    page.locator(f'.graph-node[data-id="{cards[1].pk}"]').click()
    expect(page.locator("#graph-detail h3")).to_have_text(cards[1].title)
    expect(page.locator("#graph-wisest")).to_contain_text(cards[1].title)
    page.screenshot(path="var/graph-page.png")
    page.get_by_role("button", name="Freeze a snapshot").click()
    expect(page.get_by_text("with 7 votes")).to_be_visible()


def test_participants_see_the_graph_only_after_closing(page, live_server):
    campaign, _ = graph_study()
    page.goto(f"{live_server.url}/join/{join_token_make(campaign_id=campaign.pk)}/")
    page.get_by_label("I have read this and agree").check()
    page.get_by_role("button", name="Start").click()
    page.goto(f"{live_server.url}/c/{campaign.slug}/graph/")
    expect(page.get_by_text("once the study has closed")).to_be_visible()
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.CLOSED)
    page.reload()
    expect(page.locator(".graph-node")).to_have_count(4)
    expect(page.get_by_role("button", name="Freeze a snapshot")).to_have_count(0)

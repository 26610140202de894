"""Issue 14, item 6: a curator merges a value's only card into another value and splits it off again,
and no empty value is left behind or made twice; a participant's picks are there when they come back."""
import numpy as np
import pytest
from django.test import Client
from playwright.sync_api import expect

from chorus.accounts.join_links import join_token_make
from chorus.accounts.models import Scope
from chorus.accounts.services import api_token_create
from elicitation.models import CanonicalCard
from elicitation.services import values as value_services
from tests.factories import CampaignFactory, make_participant, make_values_card
from tests.support.seed import seed_peer_values

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in(page, live_server):
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("curator")
    page.get_by_label("Password").fill("pw-curator-123")
    page.get_by_role("button", name="Log in").click()


def api_titles(campaign, user) -> list[str]:
    _, token = api_token_create(user=user, name="reader", scopes=[Scope.READ_DATA])
    response = Client().get(f"/api/v1/values/?campaign={campaign.pk}", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200, response.content
    body = response.json()
    return sorted(row["title"] for row in (body["results"] if isinstance(body, dict) else body))


def test_merge_then_split_leaves_no_ghost_value(page, live_server, staff_user, monkeypatch):
    monkeypatch.setattr(value_services, "embed_policies",
                        lambda lists: np.full((len(lists), 384), 384 ** -0.5, dtype=np.float32))
    campaign = CampaignFactory(questions=["What should the assistant consider?"])
    question = campaign.questions.get()
    honest, faith = (
        make_values_card(make_participant(campaign), title=title, description=f"{title}.", policies=policies)
        for title, policies in [("Honest Answers", ["FACTS she has not heard", "RISKS nobody named", "CHOICES she owns"]),
                                ("Faith As Guidance", ["TEACHINGS that speak to her", "PRAYERS she trusts",
                                                       "COMMUNITIES that hold her"])])
    ghost = value_services.card_move(card=honest, canonical=None)
    target = value_services.card_move(card=faith, canonical=None)

    log_in(page, live_server)
    page.goto(f"{live_server.url}/dashboard/campaigns/{campaign.pk}/values/")
    page.locator(f"#merge-{honest.pk}").select_option(str(target.pk))
    page.locator(f"#card-{honest.pk}").get_by_role("button", name="Merge").click()
    expect(page.get_by_role("status")).to_contain_text("is now part of the value")
    expect(page.locator(f"#value-{ghost.pk}")).to_have_count(0)  # no value with 0 cards
    expect(page.locator(f"#question-{question.pk}")).to_contain_text("1 value.")
    assert api_titles(campaign, staff_user) == ["Faith As Guidance"]

    page.locator(f"#card-{honest.pk}").get_by_role("button", name="Split into a new value").click()
    expect(page.get_by_role("status")).to_contain_text("is now a value of its own")
    expect(page.locator(f"#value-{ghost.pk}")).to_be_visible()  # the same value back, not a new #id
    expect(page.locator(f"#question-{question.pk}")).to_contain_text("2 values.")
    assert CanonicalCard.objects.filter(title="Honest Answers").count() == 1
    assert api_titles(campaign, staff_user) == ["Faith As Guidance", "Honest Answers"]
    options = page.locator(f"#merge-{faith.pk} option").all_inner_texts()
    assert [o for o in options if "Honest Answers" in o] == [f"Honest Answers (#{ghost.pk}) · 0.00"]


def test_the_vote_page_remembers_the_picks(page, live_server):
    campaign = CampaignFactory(questions=["What should the assistant consider?"])
    seed_peer_values(campaign.questions.get())
    page.goto(f"{live_server.url}/join/{join_token_make(campaign_id=campaign.pk)}/")
    page.get_by_label("I have read this and agree").check()
    page.get_by_role("button", name="Start").click()
    page.get_by_role("link", name="Vote", exact=True).click()
    boxes = page.locator(".pick input")
    expect(boxes).to_have_count(6)
    boxes.nth(1).check()
    boxes.nth(4).check()
    page.get_by_role("button", name="Submit my picks").click()
    expect(page.get_by_text("you picked 2 values as wise")).to_be_visible()

    page.get_by_role("link", name="Change my picks").click()
    expect(boxes.nth(1)).to_be_checked()
    expect(boxes.nth(4)).to_be_checked()
    assert sum(boxes.nth(i).is_checked() for i in range(6)) == 2

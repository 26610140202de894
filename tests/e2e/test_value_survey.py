"""The value survey in a real browser: a participant answers one screen at a time, sees "n of 8",
and the answers land in the campaign's vector for the wave; staff see it on the waves page."""
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from chorus.accounts.join_links import join_token_make
from elicitation.domain.surveys import ROUND_LENGTH
from elicitation.models import SurveyAnswer
from elicitation.selectors.surveys import survey_vectors
from tests.factories import CampaignFactory, make_wave

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_participant_answers_the_survey_screen_by_screen(page, live_server):
    campaign = CampaignFactory(activities=["survey"])
    make_wave(campaign, timezone.now() - timedelta(hours=1), label="Spring")
    page.set_default_timeout(15_000)
    page.goto(f"{live_server.url}/join/{join_token_make(campaign_id=campaign.pk)}/")
    page.get_by_label("I have read this and agree").check()
    page.get_by_role("button", name="Start").click()
    page.get_by_role("link", name="Take the survey").click()

    for n in range(1, ROUND_LENGTH + 1):
        expect(page.locator("[data-progress]")).to_have_text(f"Question {n} of {ROUND_LENGTH}")
        item = page.locator("[data-item]").get_attribute("data-item")
        page.locator("#survey form button").first.click()
        if n < ROUND_LENGTH:
            expect(page.locator("[data-item]")).not_to_have_attribute("data-item", item)
    expect(page.locator("#survey-done")).to_contain_text(f"all {ROUND_LENGTH} questions for Spring")
    assert page.url.endswith("/survey/")  # htmx swapped the screens in place

    assert SurveyAnswer.objects.count() == ROUND_LENGTH
    [wave] = survey_vectors(campaign=campaign)
    assert wave.participants == 1 and sum(wave.vector.counts) >= ROUND_LENGTH

    page.reload()  # a return visit shows the finished round, not a new one
    expect(page.locator("#survey-done")).to_be_visible()

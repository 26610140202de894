"""A newcomer to the demo study that run.sh loads has peers' values to vote on and stories to judge,
and its curator's actions make something (issue 14, item 3)."""
import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from elicitation.models import Campaign, CampaignJob
from elicitation.tasks import upgrade_stories_propose
from tests.e2e.test_participant_flow import join
from tests.e2e.test_staff_dashboard import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_newcomer_votes_and_judges_a_story_and_the_curator_proposes_more(page, live_server, staff_user,
                                                                           scripted_llm, monkeypatch):
    monkeypatch.setattr("elicitation.services.campaigns.dispatch_or_keep", lambda *args: True)  # this test is the worker
    call_command("load_demo", "--base-url", live_server.url)
    campaign = Campaign.objects.get(slug="demo")
    join(page, live_server, campaign)
    page.get_by_role("link", name="Vote", exact=True).first.click()
    expect(page.locator(".pick")).to_have_count(6)  # the six earlier participants' values for the question

    page.goto(f"{live_server.url}/c/demo/upgrades/")
    expect(page.get_by_text("There are no stories to judge yet")).to_have_count(0)
    expect(page.locator("blockquote.story")).to_be_visible()
    page.get_by_label("Yes, wiser").check()
    page.get_by_role("button", name="Submit answer").click()
    expect(page.get_by_text("1 of 3 answered")).to_be_visible()

    page.context.clear_cookies()
    log_in(page, live_server)
    page.goto(f"{live_server.url}/dashboard/campaigns/{campaign.pk}/")
    page.get_by_role("button", name="Propose upgrade stories").click()
    expect(page.locator("#jobs-upgrade_stories [data-job]")).to_contain_text("Waiting for a CPU worker")
    upgrade_stories_propose.run(CampaignJob.objects.get().pk)
    expect(page.locator("#jobs-upgrade_stories [data-job]")).to_contain_text("30 upgrade stories written",
                                                                             timeout=10_000)

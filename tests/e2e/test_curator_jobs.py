"""A curator who asks for background work sees, where they asked, what it made or why it made
nothing: the outcome fragment polls itself until the job is done (issue 14, item 3)."""
import pytest
from playwright.sync_api import expect

from elicitation.models import CampaignJob
from elicitation.tasks import principles_draft, upgrade_stories_propose
from tests.e2e.test_staff_dashboard import log_in
from tests.factories import CampaignFactory, make_edge_vote, make_participant
from tests.support.seed import seed_peer_values

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def no_broker(monkeypatch):
    """No worker here: the test runs the task itself, in this process, with the scripted LLM."""
    monkeypatch.setattr("elicitation.services.campaigns.dispatch_or_keep", lambda *args: True)


def test_stories_on_a_fresh_study_say_why_none_can_be_written(page, live_server, staff_user, no_broker):
    campaign = CampaignFactory()
    log_in(page, live_server)
    page.goto(f"{live_server.url}/dashboard/campaigns/{campaign.pk}/")
    page.get_by_role("button", name="Propose upgrade stories").click()
    outcome = page.locator("#jobs-upgrade_stories [data-job]")
    expect(outcome).to_have_attribute("data-job-status", "finished")
    expect(outcome).to_contain_text("Nothing written")
    expect(outcome).to_contain_text("No values yet")
    expect(outcome).to_contain_text("Share the join link")  # what to do about it


def test_stories_show_queued_then_how_many_were_written(page, live_server, staff_user, no_broker, scripted_llm):
    campaign = CampaignFactory()
    seed_peer_values(campaign.questions.get(), stories=3)
    log_in(page, live_server)
    page.goto(f"{live_server.url}/dashboard/campaigns/{campaign.pk}/")
    page.get_by_role("button", name="Propose upgrade stories").click()
    outcome = page.locator("#jobs-upgrade_stories [data-job]")
    expect(outcome).to_contain_text("Waiting for a CPU worker")

    upgrade_stories_propose.run(CampaignJob.objects.get().pk)  # the worker's part
    expect(outcome).to_contain_text("18 upgrade stories written", timeout=10_000)  # polled in, no reload
    expect(outcome).to_have_attribute("data-job-status", "finished")
    expect(page.locator("#jobs-upgrade_stories")).not_to_have_attribute("hx-trigger", "every 2s")  # polling stops


def test_drafting_principles_says_why_nothing_was_drafted_then_counts_drafts(page, live_server, staff_user,
                                                                             no_broker, scripted_llm):
    campaign = CampaignFactory(title="Faith study")
    cards = seed_peer_values(campaign.questions.get(), stories=1)
    log_in(page, live_server)
    page.goto(f"{live_server.url}/dashboard/principles/")
    page.get_by_label("Draft principles with the LLM").select_option(label="Faith study")
    page.get_by_role("button", name="Draft principles").click()
    outcome = page.locator("#jobs-principle_drafts [data-job]").first
    expect(outcome).to_contain_text("Nothing drafted")
    expect(outcome).to_contain_text("No wisest value yet")
    expect(outcome).to_contain_text("Propose upgrade stories")

    context = campaign.contexts.get()
    for _ in range(3):
        make_edge_vote(make_participant(campaign), cards[0], cards[1], context)
    page.locator("#p-name").fill("Typed while waiting")  # nothing the curator types is lost
    page.get_by_role("button", name="Draft principles").click()
    expect(outcome).to_contain_text("Waiting for a CPU worker")
    principles_draft.run(CampaignJob.objects.filter(status="queued").get().pk)
    expect(outcome).to_contain_text("1 principle drafted from “Faith study”", timeout=10_000)
    expect(page.locator("#p-name")).to_have_value("Typed while waiting")

"""Issue 14, item 5: what a person types is never thrown away: not by an interview message the server
refuses, not while the interviewer's reply streams, and not by the statements page's polling."""
import re
import time

import pytest
from playwright.sync_api import expect

from chorus.accounts.join_links import join_token_make
from elicitation.models import Campaign, InterviewMessage
from elicitation.services import statements as statement_svc
from tests.factories import CampaignFactory, make_participant

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def slow_replies(scripted_llm, monkeypatch):
    """The interviewer's reply streams a word every 0.4 s, as a CPU model does."""
    words = "What did you pay attention to when that happened to you?".split()

    def stream(messages, **params):
        for word in words:
            time.sleep(0.4)
            yield word + " "

    monkeypatch.setattr(scripted_llm, "stream", stream)
    return scripted_llm


def open_interview(page, live_server):
    campaign = CampaignFactory(questions=["What should the assistant consider?"], activities=["interview"])
    page.goto(f"{live_server.url}/join/{join_token_make(campaign_id=campaign.pk)}/")
    page.get_by_label("I have read this and agree").check()
    page.get_by_role("button", name="Start").click()
    page.goto(f"{live_server.url}/c/{campaign.slug}/q/{campaign.questions.get().pk}/interview/")
    return campaign


def test_a_message_written_while_the_reply_streams_waits_and_is_kept(page, live_server, slow_replies):
    open_interview(page, live_server)
    box, send = page.get_by_label(re.compile("Your answer|Anything else")), page.get_by_role("button", name="Send")
    box.fill("My sister had to decide alone.")
    send.click()
    expect(page.get_by_text("The interviewer is still replying")).to_be_visible()
    expect(send).to_be_disabled()
    box.fill("And nobody told her the facts.")  # written while the reply streams
    expect(page.locator(".reply-state").last).to_have_text("", timeout=30_000)  # the reply finished
    expect(send).to_be_enabled()
    expect(box).to_have_value("And nobody told her the facts.")
    send.click()
    expect(page.locator(".bubble.user")).to_have_count(2)
    expect(box).to_have_value("")  # taken, so emptied
    user_messages = InterviewMessage.objects.filter(role="user").values_list("content", flat=True)
    assert list(user_messages) == ["My sister had to decide alone.", "And nobody told her the facts."]


def test_a_refused_message_stays_in_the_box(page, live_server, scripted_llm):
    campaign = open_interview(page, live_server)
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.CLOSED)
    box = page.get_by_label(re.compile("Your answer|Anything else"))
    box.fill("A long answer I took ten minutes to write.")
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#chat-error")).not_to_be_empty()
    expect(box).to_have_value("A long answer I took ten minutes to write.")


def test_the_principle_name_survives_the_statements_polling(page, live_server, staff_user):
    campaign = CampaignFactory(activities=["principles"])
    author = make_participant(campaign)
    statement = statement_svc.statement_submit(participant=author, text="Admit what you do not know.")
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("curator")
    page.get_by_label("Password").fill("pw-curator-123")
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{live_server.url}/dashboard/statements/campaigns/{campaign.pk}/")
    name = page.locator(f"#promote-{statement.pk}")
    name.fill("Admit Uncertainty")
    votes = int(page.locator("[data-count=votes]").inner_text())
    with page.expect_response(re.compile(rf"/statements/campaigns/{campaign.pk}/$")):  # a poll came back
        voter = make_participant(campaign)
        statement_svc.statement_vote_cast(participant=voter, statement=statement, choice="agree")
    expect(page.locator("[data-count=votes]")).to_have_text(str(votes + 1), timeout=10_000)  # and changed the page
    expect(name).to_have_value("Admit Uncertainty")
    page.get_by_role("button", name="Promote to principle").click()
    expect(page.get_by_text("“Admit Uncertainty” is now a principle")).to_be_visible()

"""Issue 14, item 4: the judging page shows the participant's system message and two answers that are
whole sentences, rendered from Markdown with nothing that could run; an identical pair is refused."""
import pytest
from playwright.sync_api import expect

from chorus.accounts.join_links import join_token_make
from tests.factories import CampaignFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def start(page, live_server, prompt):
    campaign = CampaignFactory(questions=["Is coffee bad for me?"], activities=["comparisons"])
    page.goto(f"{live_server.url}/join/{join_token_make(campaign_id=campaign.pk)}/")
    page.get_by_label("I have read this and agree").check()
    page.get_by_role("button", name="Start").click()
    page.get_by_role("link", name="Compare answers").click()
    page.get_by_label("Your system message").fill("Answer in two short sentences. <b>No jargon</b>.")
    page.get_by_role("button", name="Save my system message").click()
    page.get_by_label("…or write your own").fill(prompt)
    page.get_by_role("button", name="Show me two answers").click()


def test_answers_are_whole_sentences_in_rendered_markdown_beside_the_system_message(page, live_server, scripted_llm):
    scripted_llm.replies = ["**Sleep** at the same time. Keep the room *dark*. You have the",
                            "Drink less coffee.\n\n<script>window.__xss = 1</script><img src=x onerror=\"window.__xss = 2\">"]
    start(page, live_server, "Give me one tip for sleeping well.")

    system = page.locator("#judging-system-message")
    expect(system).to_contain_text("Answer in two short sentences. <b>No jargon</b>.")  # as text
    answers = page.locator(".response")
    expect(answers.filter(has_text="Keep the room dark.")).to_have_count(1, timeout=30_000)
    expect(answers.filter(has_text="Drink less coffee.")).to_have_count(1)
    sleep = answers.filter(has_text="Keep the room dark.")
    expect(sleep.locator("strong")).to_have_text("Sleep")
    expect(sleep.locator("em")).to_have_text("dark")
    expect(sleep).not_to_contain_text("**")
    expect(sleep).not_to_contain_text("You have the")  # cut back to the last whole sentence
    expect(page.get_by_label("Left is better")).to_be_visible(timeout=30_000)
    assert page.locator(".response script, .response img").count() == 0
    assert page.evaluate("window.__xss") is None


def test_two_identical_answers_are_not_offered_for_judging(page, live_server, scripted_llm):
    scripted_llm.replies = ["Both say this."]  # however often it is asked
    start(page, live_server, "Is coffee bad for me?")
    expect(page.get_by_role("alert")).to_contain_text("Both answers came out the same", timeout=30_000)
    expect(page.get_by_label("Left is better")).to_have_count(0)
    page.get_by_role("link", name="Start another comparison").click()
    expect(page.get_by_role("button", name="Show me two answers")).to_be_visible()

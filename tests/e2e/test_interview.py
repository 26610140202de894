"""The interview in a browser: every turn ends on one new question, a long draft says how long it has run,
and the save button saves the card as it stands on screen, never a refused edit's unedited draft."""
import re
import time

import pytest
from playwright.sync_api import expect

from elicitation.models import Interview, ValuesCard
from tests.e2e.test_participant_flow import join, study

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
ROUND_TRIP = 30_000  # ms for a page update after a request; the shared test machine can be very busy

def send(page, text):
    """Sends a message and waits for the interviewer's whole reply (its own bubble, not the last one)."""
    replies = page.locator(".bubble.assistant .reply-state")
    before = replies.count()
    page.get_by_label(re.compile("Your answer|Anything else")).fill(text)
    page.get_by_role("button", name="Send").click()
    expect(replies).to_have_count(before + 1)
    expect(replies.last).to_have_text("", timeout=120_000)


def open_interview(page, live_server):
    campaign = study()
    join(page, live_server, campaign)
    page.get_by_role("link", name="Start").click()
    expect(page.locator(".bubble.assistant").first).to_contain_text("moment in your own life", timeout=ROUND_TRIP)


def test_every_turn_ends_on_one_new_question_and_the_draft_shows_its_progress(page, live_server, scripted_llm):
    # A weak model: no question, cut mid-word at its token budget, the same words every time.
    scripted_llm.replies = ["Thank you for telling me about your sister. You have the"]
    slow_complete = scripted_llm.complete

    def drafting_takes_a_while(messages, **kwargs):
        time.sleep(3)
        return slow_complete(messages, **kwargs)

    scripted_llm.complete = drafting_takes_a_while
    open_interview(page, live_server)
    for text in ["My sister was pregnant at nineteen and everyone at church told her what to do.",
                 "Whether anyone asked her what she wanted.", "The choice was hers to live with."]:
        send(page, text)

    turns = [t.strip() for t in page.locator(".bubble.assistant .reply-text").all_inner_texts()]
    assert len(turns) == 3
    for turn in turns:
        assert turn.endswith("?") and turn.count("?") == 1, turn
        assert "You have the" not in turn
    assert len(set(turns)) == 3
    stored = Interview.objects.get().messages.filter(role="assistant").values_list("content", flat=True)
    assert list(stored)[1:] == turns  # what was shown is what was stored

    page.get_by_role("button", name="Draft my values card").click()
    progress = page.locator("#drafting")
    expect(progress).to_be_visible(timeout=ROUND_TRIP)
    expect(progress).to_contain_text("Drafting your card", timeout=ROUND_TRIP)
    expect(progress).to_contain_text("nothing is saved until", timeout=ROUND_TRIP)
    expect(progress.locator("[data-elapsed]")).to_have_text(re.compile(r"0:0[1-9]"))  # the clock runs
    expect(page.locator("#card-panel .values-card-title")).to_have_text("Informed Personal Choice", timeout=ROUND_TRIP)


def test_a_refused_edit_blocks_saving_and_the_save_button_saves_what_is_on_screen(page, live_server, scripted_llm):
    open_interview(page, live_server)
    send(page, "My sister faced this alone and nobody asked what she wanted.")
    page.get_by_role("button", name="Draft my values card").click()
    expect(page.locator("#card-panel .values-card-title")).to_have_text("Informed Personal Choice", timeout=ROUND_TRIP)

    page.get_by_text("Edit the card yourself").click()
    policies = page.get_by_label(re.compile("What you pay attention to"))
    policies.fill("I'M SO SORRY TO HEAR\nFACTS she needs that nobody has told her yet\nMOMENTS where she feels "
                  "pressure from others")
    page.get_by_role("button", name="Apply my edits").click()
    error = page.locator("#card-policies-error")
    expect(error).to_contain_text("plural noun in capitals", timeout=ROUND_TRIP)
    expect(error).not_to_contain_text("appears twice")
    expect(page.get_by_label(re.compile("What you pay attention to"))).to_have_attribute(
        "aria-describedby", "card-policies-error")  # the error belongs to the field, right under it
    confirm = page.get_by_role("button", name="This is right — save my card")
    expect(confirm).to_be_disabled(timeout=ROUND_TRIP)

    policies = page.get_by_label(re.compile("What you pay attention to"))
    policies.fill("SUPPORTERS, religious or not, who let her decide\nFACTS she needs that nobody has told her yet\n"
                  "facts she needs  that nobody has told her yet")
    page.get_by_role("button", name="Apply my edits").click()
    expect(page.locator("#card-policies-error")).to_contain_text("appears twice", timeout=ROUND_TRIP)
    expect(page.get_by_role("button", name="This is right — save my card")).to_be_disabled(timeout=ROUND_TRIP)
    assert not ValuesCard.objects.exists()
    assert Interview.objects.get().draft["policies"][0].startswith("OPPORTUNITIES")  # nothing refused was stored

    # Fixed and applied; then edited once more and saved straight away: what is on screen is saved.
    page.get_by_label(re.compile("What you pay attention to")).fill(
        "SUPPORTERS, religious or not, who let her decide\nFACTS she needs that nobody has told her yet\n"
        "MOMENTS where she feels pressure from others")
    page.get_by_label("Title (2–5 words)").fill("Her Own Choice")
    page.get_by_role("button", name="Apply my edits").click()
    expect(page.locator("#card-panel .values-card-title")).to_have_text("Her Own Choice", timeout=ROUND_TRIP)
    page.get_by_text("Edit the card yourself").click()
    page.get_by_label("Title (2–5 words)").fill("Her Choice Alone")
    page.get_by_role("button", name="This is right — save my card").click()
    expect(page.get_by_text("Your values card is saved")).to_be_visible(timeout=ROUND_TRIP)
    card = ValuesCard.objects.get()
    assert card.title == "Her Choice Alone"
    assert card.policies[0] == "SUPPORTERS, religious or not, who let her decide"

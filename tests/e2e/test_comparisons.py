"""A participant writes a system message and compares three pairs generated live by the real model."""
import json

import pytest
from django.test import Client
from playwright.sync_api import expect

from chorus.accounts.join_links import join_token_make
from elicitation.models import Comparison
from tests.factories import CampaignFactory

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_system_message_then_three_live_comparisons_reach_the_export(page, live_server, staff_user):
    campaign = CampaignFactory(questions=["How do I tell my parents I failed an exam?", "Is coffee bad for me?"],
                               activities=["comparisons"])
    page.goto(f"{live_server.url}/join/{join_token_make(campaign_id=campaign.pk)}/")
    page.get_by_label("I have read this and agree").check()
    page.get_by_role("button", name="Start").click()
    page.get_by_role("link", name="Compare answers").click()

    page.get_by_label("Style").fill("short and plain")
    page.get_by_label("Your system message").fill("Answer in two short sentences. Be kind. <b>no jargon</b>")
    page.get_by_role("button", name="Save my system message").click()
    expect(page.locator("#my-system-message")).to_contain_text("<b>no jargon</b>")  # shown as text

    for i, choice in enumerate(["Left is better", "Right is better", "Tie"]):
        if i == 2:
            page.get_by_label("…or write your own").fill("Give me one tip for sleeping well.")
        page.get_by_role("button", name="Show me two answers").click()
        expect(page.locator(".response-left")).not_to_be_empty(timeout=60_000)
        expect(page.locator(".response-right")).not_to_be_empty(timeout=60_000)
        page.get_by_label(choice).check(timeout=120_000)  # the form appears once both are stored
        page.get_by_label("Why? (optional)").fill(f"reason {i}")
        page.get_by_role("button", name="Submit").click()
        expect(page.get_by_text(f"{i + 1} compared so far")).to_be_visible()

    rows = list(Comparison.objects.order_by("pk"))
    assert len(rows) == 3 and all(r.response_a and r.response_b and r.decided_at for r in rows)
    assert rows[2].prompt == "Give me one tip for sleeping well." and rows[2].choice == "tie"
    staff = Client()
    staff.force_login(staff_user)
    body = b"".join(staff.get(f"/dashboard/campaigns/{campaign.pk}/export/trl_conversational.jsonl").streaming_content)
    exported = [json.loads(line) for line in body.decode().splitlines()]
    assert len(exported) == 2  # the tie has no chosen/rejected
    assert exported[0]["prompt"][0]["content"].startswith("Answer in two short sentences")
    assert {e["chosen"][0]["content"] for e in exported} <= {r.response_a for r in rows} | {r.response_b for r in rows}
    leaderboard = staff.get(f"/dashboard/campaigns/{campaign.pk}/leaderboard/").content.decode()
    assert "with the participant&#x27;s system message" in leaderboard and "without a system message" in leaderboard

"""The moderation row in Chromium (issue: the "Principle name" field and its button wrapped apart):
at desktop and phone widths the label sits above, the name field and its button share a line, and
nothing in the row is wider than the page."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from elicitation.services import statements as statement_svc
from tests.factories import CampaignFactory, make_participant

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("width", [1280, 390])
def test_the_promote_form_keeps_its_field_and_button_together(page, live_server, staff_user, width):
    campaign = CampaignFactory(title="Statements")
    statement = statement_svc.statement_submit(participant=make_participant(campaign),
                                               text="Admit what you do not know, and say what would change your mind.")
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live_server.url}/login/?next=/dashboard/statements/campaigns/{campaign.pk}/")
    page.get_by_label("Username").fill("curator")
    page.get_by_label("Password").fill("pw-curator-123")
    page.get_by_role("button", name="Log in").click()
    row = page.locator(f'tr[data-statement="{statement.pk}"]')
    expect(row).to_be_visible()
    label = row.get_by_text("Principle name").bounding_box()
    field = row.get_by_label("Principle name").bounding_box()
    button = row.get_by_role("button", name="Promote to principle").bounding_box()
    reject = row.get_by_role("button", name="Reject").bounding_box()
    assert label["y"] + label["height"] <= field["y"] + 1  # the label above its field
    assert abs((field["y"] + field["height"] / 2) - (button["y"] + button["height"] / 2)) < 2  # one line
    assert field["x"] + field["width"] <= button["x"] and field["width"] >= 100  # side by side, room to type
    assert reject["y"] + reject["height"] <= label["y"]  # accept/reject on their own line, above
    assert button["x"] + button["width"] <= width  # nothing off the page
    assert page.evaluate("document.documentElement.scrollWidth") <= width

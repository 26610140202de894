"""Issue 14, item 8: a curator finds their way: the platform's own login, pages that fit a 1280 px
screen and lead back, actions that look like actions and ask before closing a campaign, campaigns
that can be edited, labels in words, a graph whose controls say what they do, and a favicon."""
import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from elicitation.models import Campaign, Comparison
from tests.e2e.test_moral_graph_page import graph_study
from tests.factories import CampaignFactory, make_edge_vote, make_participant, make_system_message, make_values_card
from tests.support.artifacts import toy_target

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in(page, live_server, *, through_dashboard=False):
    if through_dashboard:
        page.goto(f"{live_server.url}/dashboard/")
        expect(page).to_have_url(re.compile(r"/login/\?next=/dashboard/$"))  # the platform's page, not the admin's
        expect(page.get_by_role("heading", name="Staff login")).to_be_visible()
    else:
        page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("curator")
    page.get_by_label("Password").fill("pw-curator-123")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/dashboard/$"))


def test_the_dashboard_sends_to_the_platforms_staff_login(page, live_server, staff_user):
    log_in(page, live_server, through_dashboard=True)
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()


def test_the_dashboard_fits_1280_px_and_leads_back_from_every_campaign_page(browser, live_server, staff_user):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    try:
        campaign = CampaignFactory(title="A study whose title is long enough to matter on a laptop screen")
        log_in(page, live_server)
        expect(page.get_by_role("link", name=campaign.title)).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= 1280  # no sideways scrolling

        page.get_by_role("link", name=campaign.title).click()
        pages = page.get_by_role("navigation", name="Campaign pages")
        expect(pages.get_by_role("button")).to_have_count(0)  # navigation holds links only
        expect(page.get_by_role("button", name="Propose upgrade stories")).to_be_visible()  # an action: a button
        for name in ("Moral graph", "Comparisons: leaderboard and exports"):
            with page.expect_navigation(timeout=60_000):
                pages.get_by_role("link", name=name).click()
            page.get_by_role("link", name=f"← {campaign.title}").click()
            expect(page.get_by_role("heading", name=campaign.title)).to_be_visible()
    finally:
        context.close()


def test_staff_pages_fit_a_390_px_phone_and_wide_tables_scroll_in_their_own_box(browser, live_server, staff_user):
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        campaign = CampaignFactory(title="A study whose title is long enough to matter on a phone")
        target = toy_target()
        log_in(page, live_server)
        for path in ("/dashboard/", "/dashboard/targets/", f"/dashboard/targets/{target.pk}/",
                     f"/dashboard/campaigns/{campaign.pk}/", "/dashboard/tokens/"):
            page.goto(f"{live_server.url}{path}")
            assert page.evaluate("document.documentElement.scrollWidth") <= 390, path  # no sideways page scroll
        page.goto(f"{live_server.url}/dashboard/")
        table = page.locator("table").first  # the campaigns and their join links: wider than the phone
        assert table.evaluate("t => getComputedStyle(t).overflowX") == "auto"
        assert table.evaluate("t => t.scrollWidth > t.clientWidth")
    finally:
        context.close()


def test_closing_a_campaign_asks_first(page, live_server, staff_user):
    campaign = CampaignFactory()
    log_in(page, live_server)
    page.goto(f"{live_server.url}/dashboard/campaigns/{campaign.pk}/")
    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    page.get_by_role("button", name="Close campaign").click()
    page.wait_for_timeout(500)
    assert asked and "Close" in asked[0]
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.OPEN  # "Cancel" did nothing
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Close campaign").click()
    expect(page.locator("[data-status]")).to_have_attribute("data-status", "closed")


def test_questions_and_activities_are_edited_within_the_rules(page, live_server, staff_user):
    campaign = CampaignFactory(questions=["Answered question?", "Unanswered question?"],
                               activities=["interview", "comparisons"])
    answered, unanswered = campaign.questions.all()
    make_values_card(make_participant(campaign), title="Honest Answers", description="Honesty.",
                     policies=["FACTS she needs", "RISKS nobody named", "CHOICES she owns"], question=answered)
    log_in(page, live_server)
    page.goto(f"{live_server.url}/dashboard/campaigns/{campaign.pk}/")
    page.get_by_role("link", name="Edit questions and activities").click()

    page.get_by_label("Question 1").fill("Reworded answered question?")
    page.get_by_label("Values interview").uncheck()
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("alert")).to_contain_text("Nothing was changed")
    expect(page.get_by_text("Participants have answered this question")).to_be_visible()
    expect(page.get_by_text("already taken part in Values interview")).to_be_visible()
    expect(page.get_by_label("Question 1")).to_have_value("Reworded answered question?")  # what was typed stays

    page.get_by_label("Question 1").fill("Answered question?")
    page.get_by_label("Values interview").check()
    page.get_by_label("Question 2").fill("Clearer unanswered question?")
    page.get_by_label("Add questions, one per line").fill("A third question?")
    page.get_by_label("Response comparisons").uncheck()
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_text("is updated")).to_be_visible()
    campaign.refresh_from_db()
    assert [q.text for q in campaign.questions.all()] == [
        "Answered question?", "Clearer unanswered question?", "A third question?"]
    assert campaign.activities == ["interview"] and unanswered.pk in {q.pk for q in campaign.questions.all()}


def test_labels_and_provenance_read_as_words(page, live_server, staff_user):
    campaign = CampaignFactory(activities=["comparisons"])
    person = make_participant(campaign)
    message = make_system_message(person, "Be brief.")
    Comparison.objects.bulk_create([
        Comparison(campaign=campaign, participant=person, system_message=message, system_message_text=message.text,
                   prompt=f"P{i}", mode="with_without", model_a="local:smollm2 +system",
                   model_b="local:smollm2 -system", params_a={}, params_b={}, response_a=f"A{i}",
                   response_b=f"B{i}", a_on_left=True, choice="a", decided_at=timezone.now())
        for i in range(3)])
    target = toy_target()
    log_in(page, live_server)
    page.goto(f"{live_server.url}/dashboard/campaigns/{campaign.pk}/leaderboard/", timeout=60_000)  # 200 bootstrap fits
    expect(page.locator("table")).to_contain_text("local:smollm2, with the participant's system message")
    expect(page.locator("table")).to_contain_text("local:smollm2, without a system message")
    expect(page.locator("body")).not_to_contain_text("+system")

    page.goto(f"{live_server.url}/dashboard/targets/{target.pk}/")
    provenance = page.locator("[data-provenance]")
    expect(provenance.first).to_be_visible()
    for text in provenance.all_inner_texts():
        assert not re.search(r"[{}\[\]']", text), text  # no Python dict or list
    expect(page.locator('[data-provenance="principles_by_provenance"]')).to_contain_text("authored: ")


def test_the_graph_offers_known_attributes_and_counts_the_chosen_context(page, live_server, staff_user):
    campaign, cards = graph_study()  # 7 votes in one context
    other = campaign.contexts.create(text="When she asks her family for help")
    start = timezone.now() - timedelta(days=2)
    for i in range(2):
        voter = make_participant(campaign, at=start, attributes={"age band": "18-30"})
        make_edge_vote(voter, cards[4], cards[5], other, at=start + timedelta(hours=i))
    log_in(page, live_server)
    page.goto(f"{live_server.url}/c/{campaign.slug}/graph/")
    expect(page.locator("#graph-status")).to_contain_text("from 9 votes")
    page.get_by_label("Context").select_option(str(other.pk))
    expect(page.locator("#graph-status")).to_contain_text("2 votes in this context")
    page.get_by_label("Context").select_option(str(campaign.contexts.first().pk))
    expect(page.locator("#graph-status")).to_contain_text("from 7 votes in this context")

    split = page.get_by_label(re.compile("Split agreement"))
    assert split.locator("option").all_inner_texts() == ["No split", "age band"]
    split.select_option("age band")
    expect(page.locator("#graph-status")).to_contain_text("votes")
    response = page.request.get(f"{live_server.url}/c/{campaign.slug}/graph.json?split=shoe+size")
    assert response.status == 400 and "age band" in response.text() and "shoe size" in response.text()


def test_every_page_has_a_favicon(page, live_server, staff_user):
    missing = []
    page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)
    log_in(page, live_server)
    icon = page.locator("link[rel=icon]").get_attribute("href")
    assert page.request.get(f"{live_server.url}{icon}").ok
    assert page.request.get(f"{live_server.url}/favicon.ico").ok  # for pages that do not link it (the admin)
    page.goto(f"{live_server.url}/admin/")
    page.wait_for_timeout(500)
    assert missing == []

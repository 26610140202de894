"""Statement voting in real browsers: two participants vote and each sees the groups page update."""
import pytest
from playwright.sync_api import expect

from chorus.accounts.join_links import join_token_make
from elicitation.models import StatementVote
from elicitation.services import statements as svc
from tests.factories import CampaignFactory, make_participant

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SEEDED = [
    "Minimum wages should rise with rents.",
    "Small businesses need time to adapt.",
    "Prices in restaurants will go up.",
    "Higher wages mean more spending in the city.",
]
SCRIPT = "<script>window.__xss = 'script'</script>"
IMAGE = "<img src=x onerror=\"window.__xss = 'img'\">"
MAP = 'svg[aria-label^="Participants"] circle'  # the map's points (group colours are drawn as circles too)


def study():
    campaign = CampaignFactory(activities=["principles"])
    seed = make_participant(campaign)
    for text in SEEDED:
        svc.statement_submit(participant=seed, text=text)
    return campaign


def join(page, live_server, campaign):
    page.goto(f"{live_server.url}/join/{join_token_make(campaign_id=campaign.pk)}/")
    page.get_by_label("I have read this and agree").check()
    page.get_by_role("button", name="Start").click()
    expect(page.get_by_role("heading", name=campaign.title)).to_be_visible()


def vote_on_everything(page, live_server, campaign, choices):
    page.goto(f"{live_server.url}/c/{campaign.slug}/statements/")
    for choice in choices:
        shown = page.locator("#voting .statement-text").inner_text()
        page.get_by_role("button", name=choice, exact=True).click()
        expect(page.locator("#voting .statement-text, #all-voted").first).not_to_have_text(shown)
    expect(page.locator("#all-voted")).to_be_visible()


def test_two_participants_vote_and_the_groups_page_updates(browser, live_server):
    campaign = study()
    first, second = browser.new_context(), browser.new_context()
    try:
        alice, bob = first.new_page(), second.new_page()
        for page in (alice, bob):
            page.set_default_timeout(15_000)
            join(page, live_server, campaign)

        # Bob watches the groups page while Alice votes in her own browser.
        bob.goto(f"{live_server.url}/c/{campaign.slug}/statements/groups/")
        expect(bob.locator('[data-count="voters"]')).to_have_text("1")
        expect(bob.locator('[data-count="votes"]')).to_have_text("4")
        expect(bob.locator(".ranked-statements li")).to_have_count(4)

        vote_on_everything(alice, live_server, campaign, ["Agree", "Agree", "Disagree", "Agree"])
        assert StatementVote.objects.filter(participant__campaign=campaign).count() == 8
        # No reload: htmx polls the fragment in.
        expect(bob.locator('[data-count="voters"]')).to_have_text("2", timeout=15_000)
        expect(bob.locator('[data-count="votes"]')).to_have_text("8")
        expect(bob.locator(MAP)).to_have_count(2)

        # Now Alice watches while Bob votes against most of it.
        alice.goto(f"{live_server.url}/c/{campaign.slug}/statements/groups/")
        expect(alice.locator(f"{MAP}[data-you]")).to_have_count(1)
        bob_votes = bob.context.new_page()
        bob_votes.set_default_timeout(15_000)
        vote_on_everything(bob_votes, live_server, campaign, ["Disagree", "Disagree", "Agree", "Pass / unsure"])
        expect(alice.locator('[data-count="voters"]')).to_have_text("3", timeout=15_000)
        expect(alice.locator('[data-count="votes"]')).to_have_text("12")
        expect(alice.locator(MAP)).to_have_count(3)
        expect(alice.locator('[data-count="groups"]')).to_have_text("2")
        # Agreed on by every group: the statement Bob and the rest agree with ranks first.
        expect(alice.locator(".ranked-statements li").first).to_contain_text("Prices in restaurants will go up.")
    finally:
        first.close()
        second.close()


def test_html_in_statements_is_shown_as_text_everywhere(browser, live_server, staff_user):
    campaign = study()
    contexts = [browser.new_context() for _ in range(3)]
    try:
        author, reader, curator = (c.new_page() for c in contexts)
        executed = []
        for page in (author, reader, curator):
            page.set_default_timeout(15_000)
            page.on("dialog", lambda dialog: executed.append(dialog.message))
        join(author, live_server, campaign)
        author.goto(f"{live_server.url}/c/{campaign.slug}/statements/")
        for payload in (SCRIPT, IMAGE):
            author.get_by_label("Your statement").fill(payload)
            author.get_by_role("button", name="Add my statement").click()
            expect(author.get_by_text("your statement is added")).to_be_visible()

        # Too long and empty statements are refused with a message.
        author.get_by_label("Your statement").fill("x" * 401)
        author.get_by_role("button", name="Add my statement").click()
        expect(author.get_by_role("alert")).to_contain_text("at most 400 characters; this one has 401")
        author.get_by_label("Your statement").fill("   ")
        author.get_by_role("button", name="Add my statement").click()
        expect(author.get_by_role("alert")).to_contain_text("Write a statement before sending it.")

        join(reader, live_server, campaign)
        reader.goto(f"{live_server.url}/c/{campaign.slug}/statements/")
        seen = []
        for _ in range(len(SEEDED) + 2):
            text = reader.locator("#voting .statement-text").inner_text()
            seen.append(text)
            reader.get_by_role("button", name="Agree", exact=True).click()
            expect(reader.locator("#voting .statement-text, #all-voted").first).not_to_have_text(text)
        assert SCRIPT in seen and IMAGE in seen  # shown literally, as typed

        reader.goto(f"{live_server.url}/c/{campaign.slug}/statements/groups/")
        expect(reader.locator(".ranked-statements")).to_contain_text(SCRIPT)
        expect(reader.locator(".ranked-statements")).to_contain_text(IMAGE)

        curator.goto(f"{live_server.url}/login/")
        curator.get_by_label("Username").fill("curator")
        curator.get_by_label("Password").fill("pw-curator-123")
        curator.get_by_role("button", name="Log in").click()
        curator.goto(f"{live_server.url}/dashboard/statements/campaigns/{campaign.pk}/")
        expect(curator.locator("table .statement-text").first).to_have_text(IMAGE)
        curator.wait_for_timeout(3500)  # one htmx poll swaps the groups in again

        for page in (author, reader, curator):
            assert page.evaluate("window.__xss") is None
            assert page.locator("#main img").count() == 0
        assert executed == []
    finally:
        for context in contexts:
            context.close()

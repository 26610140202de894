"""Staff log in with a real browser, see the dashboard, and watch probes run on each worker."""
import re

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in(page, live_server, username="curator", password="pw-curator-123"):
    page.goto(f"{live_server.url}/")
    page.get_by_role("link", name="Staff login").first.click()
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def test_wrong_password_is_told_plainly(page, live_server, staff_user):
    log_in(page, live_server, password="wrong")
    expect(page.get_by_role("alert")).to_contain_text("did not match")


def test_staff_see_the_dashboard_and_probes_run_on_their_queues(page, live_server, staff_user, celery_workers):
    log_in(page, live_server)
    expect(page).to_have_url(re.compile(r"/dashboard/$"))
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.get_by_text("all reachable")).to_be_visible()
    workers = page.locator("#workers-h + div")
    expect(workers).to_contain_text(celery_workers["default"])
    expect(workers).to_contain_text(celery_workers["gpu"])

    page.get_by_role("button", name="Send to default").click()
    page.get_by_role("button", name="Send to gpu").click()
    for queue in ("default", "gpu"):
        expect(page.locator(f'tr[data-queue="{queue}"]')).to_contain_text(celery_workers[queue], timeout=30_000)
        expect(page.locator(f'tr[data-queue="{queue}"]')).to_contain_text("cpu")


@pytest.mark.slow
def test_playground_streams_a_real_reply(page, live_server, staff_user):
    log_in(page, live_server)
    page.get_by_role("link", name="LLM playground").click()
    page.get_by_label("Prompt").fill("Name one colour of the sky.")
    page.get_by_role("button", name="Generate").click()
    expect(page.locator("#reply-text")).not_to_be_empty(timeout=60_000)
    expect(page.locator("#reply-text")).to_have_text(re.compile(r"\w+ \w+"), timeout=60_000)  # several tokens

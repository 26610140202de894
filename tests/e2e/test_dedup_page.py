"""A curator on the values page: which mode deduplication is in, calibrating the judge, and the
borderline pairs that embedding-only deduplication leaves to them."""
import pytest
from playwright.sync_api import expect

from elicitation.models import JudgeCalibration
from elicitation.services.dedup import judge_calibrate
from elicitation.services.values import card_deduplicate
from tests.elicitation.test_dedup import REWORDED, confirmed_card
from tests.factories import CampaignFactory
from tests.support.judges import PairJudge, calibrate_with
from tests.support.scripted_llm import CARD

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def log_in(page, live_server):
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("curator")
    page.get_by_label("Password").fill("pw-curator-123")
    page.get_by_role("button", name="Log in").click()


def test_curator_sees_the_mode_decides_borderline_pairs_and_calibrates(page, live_server, staff_user, monkeypatch,
                                                                        scripted_llm):
    import chorus.llm

    at_chance = calibrate_with(monkeypatch, PairJudge(knows=False), then=scripted_llm)
    campaign = CampaignFactory(questions=["First question?", "Second question?"])
    firsts, pending = [], []
    for question in campaign.questions.all():  # in each question, REWORDED waits beside CARD's value
        firsts.append(card_deduplicate(card=confirmed_card(question, CARD)))
        pending.append(confirmed_card(question, REWORDED))
        card_deduplicate(card=pending[-1])

    log_in(page, live_server)
    page.goto(f"{live_server.url}/dashboard/campaigns/{campaign.pk}/values/")
    mode = page.locator("#dedup-mode")
    expect(mode).to_contain_text("Embedding-only mode")
    expect(mode).to_contain_text(f"The judge is at chance: {at_chance.correct} of 100 labelled pairs right")
    rows = page.locator("#borderline tbody tr")
    expect(rows).to_have_count(2)

    rows.first.get_by_role("button", name="Merge").click()
    expect(page.get_by_role("status").first).to_contain_text(f"is now part of the value “{CARD['title']}”")
    expect(page.locator(f"#value-{firsts[0].pk} h3")).to_contain_text("· 2 cards")
    expect(page.locator(f"#card-{pending[0].pk}")).to_contain_text("curator")
    expect(rows).to_have_count(1)
    rows.first.get_by_role("button", name="Keep apart").click()
    expect(page.get_by_role("status").first).to_contain_text("are kept apart")
    expect(page.locator("#borderline")).to_contain_text("No pairs wait for you.")
    expect(page.locator(f"#value-{firsts[1].pk} h3")).to_contain_text("· 1 card")  # CARD's own, alone

    page.get_by_role("button", name="Calibrate the judge again").click()
    expect(mode).to_contain_text("Calibration queued")
    expect(page.get_by_role("button", name="Calibrate the judge again")).to_have_count(0)
    # No worker in this test: run the queued calibration here as the worker would, with a judge that knows.
    judge = PairJudge(knows=True)
    monkeypatch.setattr(chorus.llm, "chat_backend", lambda: judge)
    judge_calibrate(calibration=JudgeCalibration.objects.get(status="queued"))
    expect(mode).to_contain_text("Judge mode", timeout=15_000)  # the section polls while a calibration is pending
    expect(mode).to_contain_text("100 of 100 labelled pairs right (accuracy 1.00")
    page.reload()
    expect(page.locator("#borderline")).to_contain_text("The judge decides, so none are queued.")

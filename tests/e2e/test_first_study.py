"""The whole loop of a first study, in Chromium, on the demo that `platform/scripts/run.sh` loads and the
bundled local model (issue 14, "What it must show"): two participants join, consent, are interviewed
(every interviewer turn ends on a question, no two turns the same), save their cards, vote and judge
upgrade stories; then a curator freezes a moral-graph target and a constitution target (publishing the
constitution on the dashboard first), trains SALMON from the dashboard on a tiny base model from the
picker, watches the run finish and downloads the model.

Slow on purpose: the bundled model answers on CPU (tens of seconds a turn, a minute or two a card).
Every wait polls the page; nothing sleeps a fixed time. On failure the test saves a screenshot of every
open page under var/test-screenshots/ and prints the paths.
"""
from __future__ import annotations

import hashlib
import io
import re
import tarfile
import time
from pathlib import Path

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from chorus.accounts.join_links import join_token_make
from elicitation.models import Campaign, Interview, ValuesCard
from training.base_models import base_models_available
from training.methods.toys import TOPICS
from training.models import ModelArtifact, TrainingRun

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "test-screenshots"
PAGE = 60_000  # ms for an ordinary page update on a busy machine
REPLY = 240_000  # ms for one interviewer reply from the bundled model on CPU
CARD = 900_000  # ms for up to three card drafts by the bundled model (each 25-140 s measured; 7 min was not enough on a loaded machine)
RUN = 540_000  # ms for the SALMON run on the tiny model, queued behind nothing
STAFF = ("staff", "chorus-demo")  # the login load_demo makes, as run.sh prints it

STORIES = [
    ["My friend was pregnant at nineteen and everyone at her church told her what she had to do.",
     "I noticed that nobody asked her what she herself wanted, or what she was afraid of.",
     "It mattered because she was the one who would live with the choice, and she felt alone with it.",
     "She needed honest facts and someone who would stay with her whatever she decided."],
    ["When my cousin faced this, a nurse sat with her and explained every option without judging her.",
     "I paid attention to how calm the nurse was, and how she let my cousin ask anything at all.",
     "It was meaningful because my cousin could think clearly for the first time in weeks.",
     "Respect for her faith and for her right to choose, both at once."],
]
FALLBACK_CARDS = [  # typed by the participant only if the model's draft is refused when saved
    ("Her Own Choice", "Helping her decide freely with honest facts and support.",
     "FACTS she needs that nobody has told her yet\nPEOPLE who stay with her whatever she decides\n"
     "MOMENTS when she can say what she wants"),
    ("Calm Honest Care", "Explaining every option calmly, without judgement.",
     "OPTIONS explained without judgement\nQUESTIONS she can ask without shame\n"
     "BELIEFS of hers that are respected"),
]


@pytest.fixture(scope="module")
def tiny_base_model(tmp_path_factory):
    """A 2-layer Llama in pytest's temporary folder, which the base-model picker offers in tests."""
    from tests.support.tiny_models import build_tiny_llama

    return build_tiny_llama(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture
def remove_training_files():
    yield
    import shutil

    from training.models import AlignmentTarget
    from training.storage import model_dir, run_dir, target_dir

    for uuid in AlignmentTarget.objects.values_list("uuid", flat=True):
        shutil.rmtree(target_dir(uuid), ignore_errors=True)
    for uuid in TrainingRun.objects.values_list("uuid", flat=True):
        shutil.rmtree(run_dir(uuid), ignore_errors=True)
        shutil.rmtree(model_dir(uuid), ignore_errors=True)


def save_screenshots(browser, name: str) -> None:
    """A full-page screenshot of every open page of every context, with the paths printed."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for c, context in enumerate(browser.contexts):
        for p, open_page in enumerate(context.pages):
            if open_page.url == "about:blank":  # a page the test had not reached yet
                continue
            path = SCREENSHOTS / f"{name}-{stamp}-{c}-{p}.png"
            try:
                open_page.screenshot(path=str(path), full_page=True)
                print(f"screenshot saved: {path} ({open_page.url})")
            except Exception as exc:  # a closed page must not hide the real failure
                print(f"no screenshot of {open_page.url}: {exc}")


def test_two_participants_and_a_curator_go_round_the_whole_loop(browser, page, live_server, celery_workers,
                                                                  tiny_base_model, remove_training_files):
    call_command("load_demo", "--base-url", live_server.url)  # as run.sh does; the LLM backend stays "local"
    campaign = Campaign.objects.get(slug="demo")
    page.set_default_timeout(PAGE)
    contexts = []
    try:
        for i, stories in enumerate(STORIES):
            contexts.append(browser.new_context())  # a browser of their own: own session, own cookies
            participant_page = contexts[-1].new_page()
            participant_page.set_default_timeout(PAGE)
            take_part(participant_page, live_server, campaign, stories, FALLBACK_CARDS[i])
        demo_cards = 6 * campaign.questions.count()  # load_demo's earlier participants, one card per question
        assert ValuesCard.objects.filter(question__campaign=campaign).count() == demo_cards + len(STORIES)
        curate(page, live_server, campaign, tiny_base_model)
    except BaseException:
        save_screenshots(browser, "first-study")
        raise
    finally:
        for context in contexts:
            context.close()


# The participants ----------------------------------------------------------------------------------


def take_part(page, live_server, campaign, stories: list[str], fallback_card) -> None:
    page.goto(f"{live_server.url}/join/{join_token_make(campaign_id=campaign.pk)}/")
    page.get_by_label("I have read this and agree").check()
    page.get_by_role("button", name="Start").click()
    expect(page.get_by_role("heading", name=campaign.title)).to_be_visible()

    page.get_by_role("link", name="Start").first.click()  # the first question's interview
    expect(page.locator(".bubble.assistant").first).to_be_visible()
    for text in stories:
        send(page, text)
    check_turns(page)

    draft_card(page)
    save_card(page, fallback_card)
    check_turns(page)  # drafting added no turn that breaks the rules

    if not page.url.endswith(f"/c/{campaign.slug}/"):  # saving may already have led back to the study
        page.get_by_role("link", name=re.compile("Continue|Back to the study")).first.click()
    expect(page).to_have_url(re.compile(rf"/c/{campaign.slug}/$"))
    page.get_by_role("link", name="Vote", exact=True).first.click()
    picks = page.locator(".pick input")
    expect(picks.first).to_be_visible()
    assert picks.count() >= 6  # the demo's six earlier participants' values, at least
    picks.nth(0).check()
    picks.nth(2).check()
    page.get_by_role("button", name="Submit my picks").click()
    expect(page.get_by_text("you picked 2 values as wise")).to_be_visible()

    judge_stories(page, live_server, campaign)


def send(page, text: str) -> None:
    """Sends one message and waits for the interviewer's whole reply (its own bubble, not the last one)."""
    states = page.locator(".bubble.assistant .reply-state")
    before = states.count()
    page.get_by_label(re.compile("Your answer|Anything else")).fill(text)
    page.get_by_role("button", name="Send").click()
    expect(states).to_have_count(before + 1)
    expect(states.last).to_have_text("", timeout=REPLY)  # the stream finished
    expect(page.locator(".bubble.assistant .error").last).to_have_text("")  # and did not fail


def check_turns(page) -> None:
    """Every interviewer turn, as stored and as streamed onto the page, ends on a question; none repeats."""
    interview = Interview.objects.order_by("-pk").first()
    stored = [m.content.strip() for m in interview.messages.filter(role="assistant").order_by("created_at", "pk")]
    assert len(stored) >= 1 + len(STORIES[0]), stored  # the opening question and a reply per message
    for turn in stored:
        assert turn.endswith("?"), f"an interviewer turn does not end with a question: {turn!r}"
    assert len(set(stored)) == len(stored), f"two interviewer turns are identical: {stored!r}"
    shown = [t.strip() for t in page.locator(".bubble.assistant .reply-text").all_inner_texts()]
    for turn in shown:
        assert turn.endswith("?"), f"a reply on the page does not end with a question: {turn!r}"
    assert len(set(shown)) == len(shown), f"two replies on the page are identical: {shown!r}"


def draft_card(page) -> None:
    """Asks for the draft: either the model's card appears, or (the model could not draft one that keeps
    the rules in its tries) empty fields to write it in, with the reason; never a dead end."""
    title = page.locator("#card-panel .values-card-title")
    blank = page.locator("#card-blank")
    with page.expect_response(lambda r: r.url.endswith("/interview/card/"), timeout=CARD):
        page.get_by_role("button", name="Draft my values card").click()
    expect(title.or_(blank).first).to_be_visible()
    if title.count():
        expect(title).not_to_be_empty()
    else:
        expect(page.locator("#card-panel [role=alert]").first).to_contain_text("could not draft a usable card")


def save_card(page, fallback_card) -> None:
    """Saves the model's draft as it is; if the card rules refuse it, types a card that passes and saves that."""
    with page.expect_response(lambda r: r.url.endswith("/interview/card/"), timeout=PAGE):
        page.get_by_role("button", name="This is right — save my card").click()
    saved = page.get_by_text("Your values card is saved")
    refused = page.locator("#card-panel .error")
    expect(saved.or_(refused).first).to_be_visible()
    if saved.is_visible():
        return
    title, description, policies = fallback_card
    details = page.locator("#card-panel details")
    if details.count() and details.first.get_attribute("open") is None:
        page.get_by_text("Edit the card yourself").click()
    page.get_by_label("Title (2–5 words)").fill(title)
    page.get_by_label("Description (one sentence)").fill(description)
    page.get_by_label(re.compile("What you pay attention to")).fill(policies)
    page.get_by_role("button", name="Apply my edits").click()
    expect(page.locator("#card-panel .values-card-title")).to_have_text(title, timeout=PAGE)
    page.get_by_role("button", name="This is right — save my card").click()
    expect(saved).to_be_visible(timeout=PAGE)


def judge_stories(page, live_server, campaign) -> None:
    page.goto(f"{live_server.url}/c/{campaign.slug}/upgrades/")
    expect(page.get_by_text("There are no stories to judge yet")).to_have_count(0)
    answers = ["Yes, wiser", "No", "Not sure"]
    done = page.get_by_text("you have answered all the stories")
    for n in range(10):
        story = page.locator("blockquote.story")
        expect(story.or_(done).first).to_be_visible()
        if done.is_visible():
            break
        page.get_by_label(answers[n % len(answers)], exact=True).check()
        page.get_by_label("Why? (optional)").fill("They saw more of what matters to her.")
        page.get_by_role("button", name="Submit answer").click()
        expect(page.get_by_text(re.compile(rf"^{n + 1} of \d+ answered"))).to_be_visible()
    expect(done).to_be_visible()
    assert n >= 1  # at least one story was judged


# The curator ---------------------------------------------------------------------------------------


def curate(page, live_server, campaign, base_model: Path) -> None:
    page.goto(f"{live_server.url}/login/?next=/dashboard/")
    page.get_by_label("Username").fill(STAFF[0])
    page.get_by_label("Password").fill(STAFF[1])
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/dashboard/$"))

    # A moral-graph target: snapshot the graph the participants just voted into, then freeze it.
    page.goto(f"{live_server.url}/c/{campaign.slug}/graph/")
    page.get_by_role("button", name="Freeze a snapshot").click()
    expect(page.get_by_text(re.compile(r"Snapshot frozen as of .* with \d+ votes"))).to_be_visible()
    freeze(page, live_server, "moral_graph", "First study graph")
    graph_files = page.request.get(live_server.url + page.locator("#target-download").get_attribute("href"))
    assert graph_files.ok and graph_files.headers["content-type"] == "application/x-tar"
    with tarfile.open(fileobj=io.BytesIO(graph_files.body())) as tar:
        assert any(m.isfile() for m in tar.getmembers())

    # A constitution: two principles authored on the dashboard, a constitution, a published version.
    page.goto(f"{live_server.url}/dashboard/principles/")
    for name, definition in [("Honest facts", "Give accurate, complete information about every option."),
                             ("Her choice", "Respect that the person asking makes the decision.")]:
        page.locator("#p-name").fill(name)
        page.locator("#p-definition").fill(definition)
        page.get_by_role("button", name="Add principle").click()
        expect(page.get_by_text(f"Principle “{name}” added.")).to_be_visible()
    page.goto(f"{live_server.url}/dashboard/constitutions/")
    page.locator("#c-title").fill("First study constitution")
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_role("heading", name="First study constitution")).to_be_visible()
    for name in ("Honest facts", "Her choice"):
        page.get_by_label("Add an approved principle").select_option(label=name)
        page.get_by_role("button", name="Add", exact=True).click()
        expect(page.locator("#draft li[data-entry]").filter(has_text=name)).to_be_visible()
    page.get_by_role("button", name="Publish version 1").click()
    expect(page.get_by_text("Version 1 is published")).to_be_visible()
    freeze(page, live_server, "constitution", "First study constitution",
           prompts="\n".join(f"How do I {t}?" for t in TOPICS[:8]))

    # Train SALMON on the constitution target from its page: the reward model on the tiny model the picker
    # offers, the responses written and judged by the bundled model (a random tiny judge agrees with itself
    # in both orders on no pair, and the run fails saying so).
    page.get_by_role("link", name="Train salmon on this target").click()
    page.get_by_label("Base model").select_option(str(base_model))
    bundled = next(m.path for m in base_models_available() if m.source == "bundled")
    page.locator("#config-policy_model").select_option(bundled)
    cheap = {"max_steps": "10", "save_steps": "10", "logging_steps": "2", "max_new_tokens": "48",
             "pairs_per_prompt": "2", "principles_per_example": "2", "max_length": "256",
             "per_device_batch_size": "16", "learning_rate": "0.002", "eval_fraction": "0.2"}
    for name, value in cheap.items():
        page.fill(f"#config-{name}", value)
    page.get_by_role("button", name="Queue the run").click()
    expect(page).to_have_url(re.compile(r"/dashboard/runs/\d+/$"))
    status = page.locator("[data-status]")
    expect(status).to_have_text(re.compile("Succeeded|Failed|Cancelled"), timeout=RUN)  # htmx polls the page
    assert status.inner_text() == "Succeeded", page.locator("#run-log").inner_text()[-2000:]
    expect(page.locator("#loss-curve polyline")).to_be_attached()

    # The model: its page, and the download link gives the files the model page lists.
    artifact = ModelArtifact.objects.get(run=TrainingRun.objects.get())
    page.locator("#live").get_by_role("link", name=artifact.name, exact=True).click()
    expect(page).to_have_url(re.compile(r"/dashboard/models/\d+/$"))
    link = page.get_by_role("link", name=f"Download {artifact.name}.tar")
    with page.expect_download(timeout=PAGE) as download_info:
        link.click()
    check_tar(Path(download_info.value.path()).read_bytes(), artifact)
    # The same link fetched as a plain HTTP request with the curator's session.
    response = page.request.get(live_server.url + link.get_attribute("href"), timeout=PAGE)
    assert response.status == 200 and response.headers["content-type"] == "application/x-tar"
    check_tar(response.body(), artifact)


def freeze(page, live_server, kind: str, name: str, prompts: str = "") -> None:
    page.goto(f"{live_server.url}/dashboard/targets/")
    page.get_by_role("link", name="Freeze a constitution" if kind == "constitution" else "Freeze a moral graph").click()
    page.locator("#name").fill(name)
    source = page.locator("#source")
    source.select_option(index=1)  # the newest snapshot / version
    if prompts:
        page.locator("#extra_prompts").fill(prompts)
    page.get_by_role("button", name="Freeze").click()
    expect(page.get_by_text(f"Target “{name} v1” is frozen.")).to_be_visible()


def check_tar(data: bytes, artifact: ModelArtifact) -> None:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}
    for f in artifact.files:
        body = members[f"{artifact.name}/{f['name']}"]
        assert len(body) == f["size_bytes"] and hashlib.sha256(body).hexdigest() == f["sha256"], f["name"]
    assert f"{artifact.name}/config.json" in members and f"{artifact.name}/checksums.sha256" in members

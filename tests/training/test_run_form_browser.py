"""Training dead ends a curator met in the browser (issue 14, item 7): a method offered for a target
it cannot train from, a free-text server path for the base model, a run at chance reported as a
success, and moral-graph targets whose files could not be downloaded."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import expect

from tests.factories import CampaignFactory, make_edge_vote, make_participant
from tests.support.comparisons import judge, person
from tests.support.seed import seed_peer_values
from training.model_cards import model_card_render
from training.models import TrainingRun
from training.services import runs as run_services
from training.services.targets import target_freeze_moral_graph, target_freeze_preference_population
from training.storage import model_dir, target_dir

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def staff_page(page, live_server, staff_user):
    page.goto(f"{live_server.url}/login/?next=/dashboard/targets/")
    page.get_by_label("Username").fill("curator")
    page.get_by_label("Password").fill("pw-curator-123")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Alignment targets")).to_be_visible()
    return page


def test_pal_on_a_one_person_target_is_refused_in_the_form_with_the_reason(staff_page, live_server, scripted_llm,
                                                                            tiny_model_dir, monkeypatch):
    monkeypatch.setattr(run_services, "_dispatch", lambda run_id, task_id: None)
    campaign = CampaignFactory()
    alone = person(campaign, system="Answer briefly.")
    for n in range(3):
        judge(alone, scripted_llm, prompt=f"P{n}", choice="a")
    target = target_freeze_preference_population(name="one person", campaign_id=campaign.pk)
    page = staff_page
    page.goto(f"{live_server.url}/dashboard/targets/{target.pk}/")
    pal = page.locator('[data-trainer="pal"]')
    expect(pal.get_by_role("button", name="Train pal on this target")).to_be_disabled()
    expect(pal).to_contain_text("PAL needs pairs from at least 2 people")
    expect(page.locator('[data-trainer="janus"]').get_by_role("link", name="Train janus on this target")).to_be_visible()

    page.goto(f"{live_server.url}/dashboard/runs/new/?method=pal&target={target.pk}")
    expect(page.locator("#target-error")).to_contain_text("PAL needs pairs from at least 2 people; one person v1 "
                                                          "holds pairs from 1")
    # The only target cannot be used, so the page says why and where to make one, instead of the form.
    expect(page.locator(f'#no-targets [data-target="{target.pk}"]')).to_contain_text("PAL needs pairs from at least 2")
    expect(page.get_by_role("link", name="Freeze a preference population")).to_be_visible()
    expect(page.get_by_role("button", name="Queue the run")).to_have_count(0)
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    response = page.request.post(f"{live_server.url}/dashboard/runs/new/", form={
        "method": "pal", "target": str(target.pk), "base_model": str(tiny_model_dir), "csrfmiddlewaretoken": csrf})
    assert response.status == 400 and "PAL needs pairs from at least 2 people" in response.text()
    assert not TrainingRun.objects.exists()


def test_the_base_model_is_picked_from_the_models_the_server_has(staff_page, live_server, toy_target, tiny_model_dir,
                                                                  monkeypatch):
    monkeypatch.setattr(run_services, "_dispatch", lambda run_id, task_id: None)
    page = staff_page
    page.goto(f"{live_server.url}/dashboard/runs/new/?method=salmon&target={toy_target.pk}")
    picker = page.get_by_label("Base model")
    expect(picker).to_have_js_property("tagName", "SELECT")  # no free-text server path
    expect(picker.locator(f'option[value="{tiny_model_dir}"]')).to_have_text(f"{tiny_model_dir.name} (prepared)")
    picker.select_option(str(tiny_model_dir))
    page.get_by_role("button", name="Queue the run").click()
    expect(page).to_have_url(re.compile(r"/dashboard/runs/\d+/$"))
    assert TrainingRun.objects.get().base_model == str(tiny_model_dir)


def _succeeded_run(target, base: Path, metrics: dict, summary: dict):
    run = run_services.run_create(target=target, method="salmon", base_model=str(base), config={})
    run = run_services.run_claim(run_id=run.pk, worker="tests@here", device="cpu")
    folder = model_dir(run.uuid)
    folder.mkdir(parents=True)
    card = model_card_render(run=run, metrics=metrics, summary=summary, usage="")
    (folder / "README.md").write_text(card)
    return run_services.run_succeed(
        claim=run_services.Claim(run.pk, run.attempt), metrics=metrics, summary=summary,
        artifact_path=folder.relative_to(Path(settings.MEDIA_ROOT)).as_posix(),
        files=[{"name": "README.md", "sha256": "0" * 64, "size_bytes": len(card)}], model_card=card)


def test_a_run_at_chance_says_so_on_the_run_page_and_in_the_model_card(staff_page, live_server, toy_target,
                                                                       tiny_model_dir, monkeypatch):
    monkeypatch.setattr(run_services, "_dispatch", lambda run_id, task_id: None)
    at_chance = _succeeded_run(toy_target, tiny_model_dir, {"train_accuracy": 0.97, "eval_accuracy": 0.5},
                               {"held_out_examples": 40})
    page = staff_page
    page.goto(f"{live_server.url}/dashboard/runs/{at_chance.run_id}/")
    warning = page.locator("#held-out")
    expect(warning).to_have_attribute("data-chance", "not-better")
    expect(warning.get_by_role("heading")).to_have_text("Not better than chance")
    expect(warning).to_contain_text("0.50 on 40 held-out pairs (95% interval 0.35–0.65)")
    page.get_by_role("link", name=at_chance.name).click()
    expect(page.locator("#held-out")).to_have_attribute("data-chance", "not-better")
    expect(page.locator("#model-card")).to_contain_text("Warning: Not better than chance")

    learnt = _succeeded_run(toy_target, tiny_model_dir, {"eval_accuracy": 0.95}, {"held_out_examples": 40})
    page.goto(f"{live_server.url}/dashboard/runs/{learnt.run_id}/")
    expect(page.locator("#held-out")).to_have_attribute("data-chance", "better")


def test_a_moral_graph_targets_files_download_from_its_page(staff_page, live_server):
    from elicitation.services.moral_graph import graph_snapshot_create

    campaign = CampaignFactory()
    cards = seed_peer_values(campaign.questions.get(), stories=0)
    context = campaign.contexts.get()
    for _ in range(3):
        make_edge_vote(make_participant(campaign), cards[0], cards[1], context)
    target = target_freeze_moral_graph(name="graph", snapshot_id=graph_snapshot_create(campaign=campaign).pk)
    page = staff_page
    page.goto(f"{live_server.url}/dashboard/targets/{target.pk}/")
    expect(page.locator("#no-trainers")).to_contain_text("download its files")
    for name in ("values.jsonl", "edges.jsonl", "contexts.jsonl"):
        with page.expect_download() as download:
            page.locator(f'[data-file="{name}"]').get_by_role("link", name=name).click()
        assert download.value.suggested_filename == name
        assert Path(download.value.path()).read_bytes() == (target_dir(target.uuid) / name).read_bytes()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download all files (.tar)").click()
    assert download.value.suggested_filename == "graph-v1.tar"

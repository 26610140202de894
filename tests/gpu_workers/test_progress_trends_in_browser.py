"""From people to pictures: a campaign's three waves (value survey answers and comparisons) frozen as
a timeline, a lifelong and an extrapolative tracker trained on the real `gpu` worker, each publishing
a model and a value vector per step, and the timeline's trend charts in Chromium with exactly one
line per tracker in every chart, under the Content-Security-Policy."""
from __future__ import annotations

import json
import re
from dataclasses import asdict
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import expect

from tests.e2e.test_content_security_policy import watched  # noqa: F401 (the fixture that reports CSP violations)
from tests.gpu_workers.test_progress_on_worker import finished
from tests.support.timelines import drifting_campaign
from training.methods import progress
from training.models import ModelArtifact
from training.services.runs import run_create
from training.services.targets import target_freeze
from training.storage import target_dir

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOT = Path("/tmp/chorus-trends.png")


def test_two_trackers_trained_on_the_worker_draw_one_line_each_in_every_trend_chart(
        celery_workers, tiny_model_dir, scripted_llm, live_server, watched, staff_user):  # noqa: F811
    campaign, _ = drifting_campaign(scripted_llm, waves=3, people=2, survey=True)
    target = target_freeze(kind="timeline", name="drift", source_id=campaign.pk)
    runs = [run_create(target=target, method="progress", base_model=str(tiny_model_dir),
                       config={**asdict(progress.Config.tiny()), "tracker": tracker})
            for tracker in progress.TRACKERS]
    runs = [finished(run) for run in runs]
    for run in runs:
        assert run.worker == celery_workers["gpu"]
        folder = Path(settings.MEDIA_ROOT) / ModelArtifact.objects.get(run=run).path
        assert all((folder / "steps" / f"step-{t}" / "value_vector.json").is_file() for t in range(3))

    steps = [json.loads(line) for line in (target_dir(target.uuid) / "steps.jsonl").read_text().splitlines()]
    dims = steps[0]["population_vector"]["dims"]
    answered = next(d for k, d in enumerate(dims) if all(s["population_vector"]["mean"][k] is not None for s in steps))

    page, violations = watched
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("curator")
    page.get_by_label("Password").fill("pw-curator-123")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/dashboard/$"))

    # From the lifelong run's page to the timeline's trends, then one answered dimension larger.
    page.goto(f"{live_server.url}/dashboard/runs/{runs[0].pk}/")
    page.get_by_role("link", name="Value trends of this timeline").click()
    expect(page).to_have_url(re.compile(rf"/dashboard/targets/{target.pk}/trends/$"))
    page.locator(f'figure[data-dimension="{answered}"] figcaption a').click()
    expect(page).to_have_url(re.compile(rf"dimension={answered}"))

    large = page.locator("#trend-large")
    expect(large).to_be_visible()
    lines = large.locator("path[data-tracker-run]")
    expect(lines).to_have_count(2)
    drawn = sorted((int(lines.nth(k).get_attribute("data-tracker-run")), lines.nth(k).get_attribute("data-tracker"))
                   for k in range(2))
    assert drawn == [(runs[0].pk, "lifelong"), (runs[1].pk, "extrapolative")]
    expect(large.locator("[data-population]")).to_have_count(3)  # every wave has survey answers
    expect(large.locator("rect[data-gap-run]")).to_have_count(6)  # a gap per tracker and step
    for figure in page.locator("figure[data-dimension]").all():  # the 19 small multiples
        expect(figure.locator("path[data-tracker-run]")).to_have_count(2)
    expect(page.locator("figure[data-dimension]")).to_have_count(19)
    expect(page.locator("#trend-table tbody tr")).to_have_count(3)

    page.set_viewport_size({"width": 1280, "height": 900})
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    page.locator("#large").screenshot(path=str(SCREENSHOT.with_name("chorus-trends-large.png")))
    page.locator("figure[data-dimension]").first.screenshot(path=str(SCREENSHOT.with_name("chorus-trends-small.png")))
    assert violations == [], violations

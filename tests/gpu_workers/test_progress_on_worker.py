"""A tracker run on the real `gpu` worker: a campaign's three waves (comparisons and value survey
answers) frozen as a timeline, the lifelong tracker trained through every step, one model and one
value vector published per step, and the scores on the run page and in the API."""
from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from rest_framework.test import APIClient

from chorus.accounts.models import Scope
from chorus.accounts.services import api_token_create
from tests.support.timelines import drifting_campaign
from training.methods import progress
from training.models import ModelArtifact, TrainingRun
from training.services.runs import run_create
from training.services.targets import target_freeze

pytestmark = pytest.mark.django_db(transaction=True)


def finished(run: TrainingRun) -> TrainingRun:
    deadline = time.monotonic() + 600
    while not (run := TrainingRun.objects.get(pk=run.pk)).is_finished and time.monotonic() < deadline:
        time.sleep(0.5)
    assert run.status == "succeeded", f"{run.error}\n{run.log}"
    return run


def test_a_timeline_trains_a_tracker_that_publishes_a_model_per_step(celery_workers, tiny_model_dir, scripted_llm,
                                                                      client, staff_user):
    from transformers import AutoModelForCausalLM

    campaign, _ = drifting_campaign(scripted_llm, waves=3, people=2, survey=True)
    target = target_freeze(kind="timeline", name="drift", source_id=campaign.pk)
    run = finished(run_create(target=target, method="progress", base_model=str(tiny_model_dir),
                              config=asdict(progress.Config.tiny())))

    assert run.worker == celery_workers["gpu"]
    folder = Path(settings.MEDIA_ROOT) / ModelArtifact.objects.get(run=run).path
    for t in range(3):
        step = folder / "steps" / f"step-{t}"
        AutoModelForCausalLM.from_pretrained(step)  # each step's model loads on its own
        assert len(json.loads((step / "value_vector.json").read_text())["mean"]) == 19
    assert {"pg_follow", "pg_predict", "pg_coevolve", "baseline_pg_follow"} <= set(run.metrics)
    assert all(-1 <= run.metrics[k] <= 1 for k in ("pg_follow", "pg_predict", "pg_coevolve"))
    assert run.metric_points.filter(values__has_key="loss").exists()

    client.force_login(staff_user)
    page = client.get(reverse("dashboard:runs_detail", args=[run.pk])).content.decode()
    assert "Tracking (lifelong)" in page and f'data-score="pg_follow">{run.metrics["pg_follow"]:.4f}' in page
    assert page.count("steps/step-") == 3

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {api_token_create(user=staff_user, name='t', scopes=[Scope.READ_MODELS])[1]}")
    tracking = api.get(f"/api/v1/runs/{run.pk}/").json()["tracking"]
    assert [s["model"] for s in tracking["steps"]] == ["steps/step-0", "steps/step-1", "steps/step-2"]
    assert {s["key"]: s["tracker"] for s in tracking["scores"]}["pg_predict"] == pytest.approx(run.metrics["pg_predict"])

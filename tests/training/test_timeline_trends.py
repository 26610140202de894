"""A timeline's value trends (training.selectors.timeline_trends): the staff page with one line per
finished tracker run in each of the 19 charts, its empty states, and /api/v1/targets/<id>/trends/
with the same series under read:data and read:models together."""
from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from chorus.accounts.models import Scope
from chorus.accounts.services import api_token_create
from elicitation.domain.surveys import DIMENSIONS
from tests.factories import CampaignFactory
from tests.support.artifacts import toy_target
from tests.support.timelines import drifting_campaign
from training.methods import progress
from training.services import runs as run_services
from training.services.targets import target_freeze
from training.storage import target_dir

pytestmark = pytest.mark.django_db


@pytest.fixture
def base_model(tmp_path, settings, monkeypatch):
    """A folder the server offers as a base model; runs are never sent to a broker."""
    settings.MEDIA_ROOT = tmp_path / "media"
    monkeypatch.setattr(run_services, "_dispatch", lambda run_id, task_id: None)
    base = tmp_path / "base"
    base.mkdir()
    (base / "config.json").write_text(json.dumps({"model_type": "llama", "architectures": ["LlamaForCausalLM"]}))
    settings.CHORUS_BASE_MODEL_DIRS = [tmp_path]
    return base


def steps_of(target) -> list[dict]:
    return [json.loads(line) for line in (target_dir(target.uuid) / "steps.jsonl").read_text().splitlines()]


def tracker_run(target, base, tracker: str, values: list[float], *, intervals: bool = True):
    """A progress run taken through the real services that 'measured' `values[t]` on every dimension
    at step t, with an interval of v - 0.05 to v + 0.05; its summary is what the method itself writes
    (progress.tracking_summary), or without `intervals`, what it wrote before it kept them."""
    run = run_services.run_create(target=target, method="progress", base_model=str(base), config={"tracker": tracker})
    run = run_services.run_claim(run_id=run.pk, worker="tests@here", device="cpu")
    vectors = [{"dims": list(DIMENSIONS), "mean": [v] * 19, "low": [round(v - 0.05, 2)] * 19,
                "high": [round(v + 0.05, 2)] * 19} for v in values]
    metrics, rows = progress.tracking_summary(steps_of(target), vectors, vectors[0], ahead=1)
    if not intervals:
        rows = [{k: v for k, v in row.items() if k not in ("low", "high")} for row in rows]
    summary = {"tracker": tracker, "steps": len(values),
               "tracking": {"rows": rows, "baseline_vector": vectors[0]["mean"], "dims": list(DIMENSIONS), "ahead": 1}}
    run_services.run_succeed(claim=run_services.Claim(run.pk, run.attempt), metrics=metrics, summary=summary,
                             artifact_path=f"training/models/{run.uuid}", files=[], model_card="")
    return run


def api_client(user, *scopes) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_token_create(user=user, name='t', scopes=list(scopes))[1]}")
    return client


@pytest.fixture
def timeline(scripted_llm, base_model):
    """Three waves with survey answers (the first option in wave 1, the second in wave 3), two finished
    trackers, one still queued and one failed."""
    campaign, _ = drifting_campaign(scripted_llm, waves=3, people=2, survey=True)
    target = target_freeze(kind="timeline", name="drift", source_id=campaign.pk)
    lifelong = tracker_run(target, base_model, "lifelong", [0.5, 0.5, 0.5])
    extrapolative = tracker_run(target, base_model, "extrapolative", [0.9, 0.5, 0.1])
    queued = run_services.run_create(target=target, method="progress", base_model=str(base_model),
                                     config={"tracker": "extrapolative"})
    failed = run_services.run_create(target=target, method="progress", base_model=str(base_model), config={})
    failed = run_services.run_claim(run_id=failed.pk, worker="tests@here", device="cpu")
    run_services.run_fail(claim=run_services.Claim(failed.pk, failed.attempt), error="out of memory")
    return {"target": target, "lifelong": lifelong, "extrapolative": extrapolative, "queued": queued,
            "failed": failed}


def test_the_api_gives_the_population_per_wave_each_tracker_per_step_and_the_gaps(timeline, staff_user):
    target = timeline["target"]
    body = api_client(staff_user, Scope.READ_DATA, Scope.READ_MODELS).get(f"/api/v1/targets/{target.pk}/trends/").json()
    assert [d["name"] for d in body["dimensions"]] == list(DIMENSIONS)
    frozen = [s["population_vector"] for s in steps_of(target)]
    assert [w["step"] for w in body["waves"]] == [0, 1, 2] and all(w["participants"] == 2 for w in body["waves"])
    assert [w["population"]["mean"] for w in body["waves"]] == [v["mean"] for v in frozen]
    assert [w["population"]["low"] for w in body["waves"]] == [v["low"] for v in frozen]

    assert [(t["run"], t["tracker"]) for t in body["trackers"]] == [
        (timeline["lifelong"].pk, "lifelong"), (timeline["extrapolative"].pk, "extrapolative")]  # finished ones only
    assert body["unfinished"] == [{"run": timeline["queued"].pk, "tracker": "extrapolative", "status": "queued"}]
    extrapolative = body["trackers"][1]["steps"]
    assert [s["vector"][0] for s in extrapolative] == [0.9, 0.5, 0.1]
    assert [(s["low"][0], s["high"][0]) for s in extrapolative] == [(0.85, 0.95), (0.45, 0.55), (0.05, 0.15)]
    # The first two-option dimension answered: everyone kept the rule in wave 1 and broke it in wave 3.
    d = next(k for k, v in enumerate(frozen[0]["mean"][:15]) if v is not None)
    assert (frozen[0]["mean"][d], frozen[2]["mean"][d]) == (1.0, 0.0)
    assert [s["gap"][d] for s in extrapolative] == pytest.approx([0.1, frozen[1]["mean"][d] - 0.5, -0.1])
    assert extrapolative[0]["gap"] == pytest.approx([m - 0.9 for m in frozen[0]["mean"]])  # every dimension


def test_the_page_draws_one_line_per_finished_tracker_in_every_chart(timeline, client, staff_user):
    client.force_login(staff_user)
    target, lifelong, extrapolative = timeline["target"], timeline["lifelong"], timeline["extrapolative"]
    page = client.get(reverse("dashboard:targets_trends", args=[target.pk])).content.decode()
    for run in (lifelong, extrapolative):  # 19 small charts and the large one
        assert page.count(f'data-tracker-run="{run.pk}"') == 20
    assert page.count("data-tracker-run=") == 40  # the queued and the failed run draw nothing
    assert page.count('data-tracker="extrapolative"') == 20
    assert page.count("<svg class=\"trend fit\"") == 20 and page.count("data-population") == 60
    for run in (lifelong, extrapolative):  # a whisker at each of the 3 steps, in each of the 20 charts
        assert page.count(f'data-whisker-run="{run.pk}"') == 60
    assert "0.900 <span class=\"muted small\">[0.850, 0.950]</span>" in page  # the large chart's table
    assert f'run {timeline["queued"].pk}</a> (extrapolative, queued)' in page
    assert "no survey answers" not in page and "No tracker run" not in page

    large = client.get(reverse("dashboard:targets_trends", args=[target.pk]), {"dimension": "view_modern"})
    assert large.status_code == 200 and 'id="trend-large"' in large.content.decode()
    assert 'data-dimension="view_modern"' in large.content.decode()

    # Linked from the target page and from each tracker's run page.
    trends_url = reverse("dashboard:targets_trends", args=[target.pk])
    assert trends_url in client.get(reverse("dashboard:targets_detail", args=[target.pk])).content.decode()
    run_page = client.get(reverse("dashboard:runs_detail", args=[lifelong.pk])).content.decode()
    assert trends_url in run_page
    # A tracker is scored by PG-Follow and PG-Predict: no warning that it measured no held-out pairs.
    assert 'id="held-out"' not in run_page and "PG-Follow" in run_page
    model = client.get(reverse("dashboard:models_detail", args=[lifelong.artifact.pk])).content.decode()
    assert 'id="held-out"' not in model


def test_a_timeline_without_trackers_or_survey_answers_says_so(scripted_llm, base_model, client, staff_user):
    campaign, _ = drifting_campaign(scripted_llm, waves=3, people=1, survey=False)
    target = target_freeze(kind="timeline", name="quiet", source_id=campaign.pk)
    client.force_login(staff_user)
    page = client.get(reverse("dashboard:targets_trends", args=[target.pk])).content.decode()
    assert "No tracker run on this timeline yet: start one from" in page
    assert f'{reverse("dashboard:runs_new")}?target={target.pk}&amp;method=progress' in page
    assert "this wave has no survey answers" in page and page.count('data-missing-wave="W2"') == 20
    assert "data-tracker-run=" not in page and "data-population" not in page

    body = api_client(staff_user, Scope.READ_DATA, Scope.READ_MODELS).get(f"/api/v1/targets/{target.pk}/trends/").json()
    assert [w["population"] for w in body["waves"]] == [None, None, None]
    assert body["trackers"] == [] and body["unfinished"] == [] and body["problem"] is None

    # A tracker still draws its line where the population has no value, but no gap; a run from before
    # the method kept its intervals draws no whiskers.
    run = tracker_run(target, base_model, "lifelong", [0.2, 0.4, 0.6], intervals=False)
    [tracker] = api_client(staff_user, Scope.READ_DATA, Scope.READ_MODELS).get(
        f"/api/v1/targets/{target.pk}/trends/").json()["trackers"]
    assert [s["vector"][3] for s in tracker["steps"]] == [0.2, 0.4, 0.6]
    assert [s["gap"] for s in tracker["steps"]] == [None, None, None]
    page = client.get(reverse("dashboard:targets_trends", args=[target.pk])).content.decode()
    assert page.count(f'data-tracker-run="{run.pk}"') == 20 and 'class="trend-gap' not in page
    assert "data-whisker-run=" not in page and tracker["steps"][0]["low"] is None


def test_the_campaign_waves_page_leads_to_its_timelines_trends_or_says_there_is_none(timeline, client, staff_user):
    client.force_login(staff_user)
    target = timeline["target"]
    page = client.get(reverse("dashboard:campaign_waves", args=[target.campaign_id])).content.decode()
    assert f'href="{reverse("dashboard:targets_trends", args=[target.pk])}"' in page
    assert f'data-timeline="{target.pk}"' in page and "4 tracker runs" in page and 'id="no-timelines"' not in page

    other = CampaignFactory()
    page = client.get(reverse("dashboard:campaign_waves", args=[other.pk])).content.decode()
    assert 'id="no-timelines"' in page and "data-timeline=" not in page
    freeze = f'{reverse("dashboard:targets_new")}?kind=timeline&amp;source={other.pk}'
    assert freeze in page
    # The link opens the form on that campaign (here one that has judged comparisons to offer).
    form = client.get(reverse("dashboard:targets_new"), {"kind": "timeline", "source": target.campaign_id})
    assert f'<option value="{target.campaign_id}" selected>' in form.content.decode()


def test_bad_dimension_other_target_kinds_and_missing_scopes_are_refused(timeline, client, staff_user):
    target = timeline["target"]
    client.force_login(staff_user)
    bad = client.get(reverse("dashboard:targets_trends", args=[target.pk]), {"dimension": "nonsense"})
    assert bad.status_code == 400 and "dimension: there is no dimension" in bad.content.decode()

    constitution = toy_target()
    assert client.get(reverse("dashboard:targets_trends", args=[constitution.pk])).status_code == 404
    both = api_client(staff_user, Scope.READ_DATA, Scope.READ_MODELS)
    assert both.get(f"/api/v1/targets/{constitution.pk}/trends/").status_code == 404
    assert both.get("/api/v1/targets/999999/trends/").status_code == 404

    url = f"/api/v1/targets/{target.pk}/trends/"
    for scopes, lacking in (([Scope.READ_DATA], Scope.READ_MODELS), ([Scope.READ_MODELS], Scope.READ_DATA)):
        refused = api_client(staff_user, *scopes).get(url)
        assert refused.status_code == 403 and lacking in refused.json()["error"]["message"]
    assert APIClient().get(url).status_code in (401, 403)


def test_the_page_reads_the_same_number_of_queries_however_many_trackers(timeline, base_model, client, staff_user):
    client.force_login(staff_user)
    url = reverse("dashboard:targets_trends", args=[timeline["target"].pk])
    with CaptureQueriesContext(connection) as two:
        assert client.get(url).status_code == 200
    tracker_run(timeline["target"], base_model, "lifelong", [0.1, 0.2, 0.3])
    with CaptureQueriesContext(connection) as three:
        page = client.get(url).content.decode()
    assert page.count("data-tracker-run=") == 60 and len(three) == len(two) <= 8

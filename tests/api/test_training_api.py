"""Alignment targets, runs, their metrics and models over the REST API: field errors, scopes and
what each answer holds."""
from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from chorus.accounts.models import Scope
from chorus.accounts.services import api_token_create
from chorus.api.hub_repos import artifact_commit
from elicitation.services.moral_graph import graph_snapshot_create
from tests.factories import CampaignFactory
from tests.support.artifacts import model_publish, toy_target
from training.models import AlignmentTarget, RunMetric, TrainingRun
from training.storage import target_dir

pytestmark = pytest.mark.django_db


@pytest.fixture
def client_with(staff_user):
    def make(*scopes: str) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_token_create(user=staff_user, name='t', scopes=scopes)[1]}")
        return client
    return make


@pytest.fixture
def everything(client_with):
    return client_with(*Scope.values)


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def dispatched(monkeypatch):
    sent = []
    monkeypatch.setattr("training.services.runs._dispatch", lambda run_id, task_id: sent.append(run_id))
    return sent


@pytest.fixture(scope="module")
def base_model(tmp_path_factory):
    from tests.support.tiny_models import build_tiny_llama

    return build_tiny_llama(tmp_path_factory.mktemp("tiny-llama"))


def _published_version():
    from elicitation.services.constitutions import (
        constitution_create,
        constitution_draft,
        constitution_entry_add,
        constitution_version_publish,
        principle_create,
    )

    version = constitution_draft(constitution=constitution_create(title="Kindness"))
    constitution_entry_add(version=version, principle=principle_create(name="Warm", definition="Be kind.",
                                                                       negated_definition="Be cold."))
    return constitution_version_publish(version=version)


def test_freezing_a_target_and_reading_it_back(everything):
    version = _published_version()
    response = everything.post("/api/v1/targets/freeze/", {
        "name": "kind", "constitution_version": version.pk, "extra_prompts": ["How do I say sorry?", " "]},
        format="json")
    assert response.status_code == 201, response.content
    created = response.json()
    assert (created["name"], created["version"], created["kind"]) == ("kind", 1, "constitution")
    assert {f["name"]: f["rows"] for f in created["files"]} == {"principles.jsonl": 1, "prompts.jsonl": 1}
    assert all(len(f["sha256"]) == 64 and f["size_bytes"] > 0 for f in created["files"])
    assert created["provenance"]["principles"] == 1 and created["constitution_version"] == version.pk
    again = everything.post("/api/v1/targets/freeze/", {"name": "kind", "constitution_version": version.pk},
                            format="json").json()
    assert again["version"] == 2

    detail = everything.get(f"/api/v1/targets/{created['id']}/").json()
    assert detail["content_sha256"] == created["content_sha256"] and (detail["runs"], detail["models"]) == (0, 0)
    listed = everything.get("/api/v1/targets/", {"name": "kind"}).json()
    assert [t["version"] for t in listed["results"]] == [2, 1]
    assert everything.get("/api/v1/targets/", {"kind": "moral_graph"}).json()["count"] == 0


def test_a_target_without_data_or_with_a_bad_source_is_a_400_naming_the_field(everything):
    empty = graph_snapshot_create(campaign=CampaignFactory())  # nobody has voted yet
    cases = [
        ({"name": "g", "graph_snapshot": empty.pk}, "graph_snapshot", "no values"),
        ({"name": "g", "graph_snapshot": 999999}, "graph_snapshot", "No such"),
        ({"name": "", "constitution_version": 1}, "name", ""),
        ({"name": "g", "graph_snapshot": empty.pk, "extra_prompts": ["Hi"]}, "extra_prompts", "Only"),
        ({"name": "g", "constitution_version": "abc"}, "constitution_version", "integer"),
    ]
    for body, field, words in cases:
        response = everything.post("/api/v1/targets/freeze/", body, format="json")
        assert response.status_code == 400, body
        error = response.json()["error"]
        assert list(error["fields"]) == [field] and words in error["fields"][field][0], body
    assert not AlignmentTarget.objects.exists()
    no_source = everything.post("/api/v1/targets/freeze/", {"name": "g"}, format="json").json()["error"]
    assert set(no_source["fields"]) == {"constitution_version", "graph_snapshot", "campaign", "timeline_campaign"}
    assert "exactly one" in no_source["fields"]["campaign"][0]


def test_freezing_a_preference_population(everything, scripted_llm):
    from elicitation.domain.comparisons_exports import pseudonym
    from tests.support.comparisons import judge, person

    campaign = CampaignFactory(title="Faith study")
    alice, bob = person(campaign, system="Answer briefly."), person(campaign, system="Cite sources.")
    judge(alice, scripted_llm, prompt="P1", choice="a")
    judge(alice, scripted_llm, prompt="P2", choice="b")
    judge(bob, scripted_llm, prompt="Q1", choice="b")
    judge(bob, scripted_llm, prompt="Q2", choice="both_bad")
    response = everything.post("/api/v1/targets/freeze/", {
        "name": "prefs", "campaign": campaign.pk, "min_pairs_per_user": 2}, format="json")
    assert response.status_code == 201, response.content
    created = response.json()
    assert (created["kind"], created["campaign"], created["constitution_version"]) == (
        "preference_population", campaign.pk, None)
    assert {f["name"]: f["rows"] for f in created["files"]} == {"preferences.jsonl": 2, "users.jsonl": 1}
    assert created["provenance"] == {
        "participants": 2, "comparisons_judged": 4, "pairs_kept": 2, "ties": 0, "both_bad": 1,
        "users_kept": 1, "users_below_min_pairs": 1, "min_pairs_per_user": 2,
    }
    assert created["source_label"] == "Preferences of “Faith study”: 2 pairs from 1 participant"
    assert pseudonym(alice.public_id) in (target_dir(created["uuid"]) / "users.jsonl").read_text()
    listed = everything.get("/api/v1/targets/", {"kind": "preference_population"}).json()["results"]
    assert [(t["id"], t["campaign"]) for t in listed] == [(created["id"], campaign.pk)]

    version = _published_version()
    cases = [
        ({"campaign": 999999}, "campaign", "No such campaign"),
        ({"campaign": CampaignFactory().pk}, "campaign", "No one in this campaign"),
        ({"campaign": campaign.pk, "min_pairs_per_user": 3}, "min_pairs_per_user", "lower the minimum"),
        ({"campaign": campaign.pk, "min_pairs_per_user": 0}, "min_pairs_per_user", "greater than or equal to 1"),
        ({"campaign": campaign.pk, "min_pairs_per_user": 1001}, "min_pairs_per_user", "less than or equal to 1000"),
        ({"campaign": campaign.pk, "extra_prompts": ["Hi"]}, "extra_prompts", "Only a constitution"),
        ({"constitution_version": version.pk, "min_pairs_per_user": 2}, "min_pairs_per_user", "Only a campaign"),
    ]
    for body, field, words in cases:
        response = everything.post("/api/v1/targets/freeze/", {"name": "prefs", **body}, format="json")
        assert response.status_code == 400, body
        error = response.json()["error"]
        assert list(error["fields"]) == [field] and words in error["fields"][field][0], body
    both = everything.post("/api/v1/targets/freeze/", {"name": "prefs", "campaign": campaign.pk,
                                                      "graph_snapshot": 1}, format="json").json()["error"]
    assert set(both["fields"]) == {"graph_snapshot", "campaign"}
    assert AlignmentTarget.objects.count() == 1


def test_the_openapi_schema_is_valid_and_describes_the_campaign_source(tmp_path):
    import yaml
    from django.core.management import call_command

    path = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(path))
    schemas = yaml.safe_load(path.read_text())["components"]["schemas"]
    freeze = schemas["TargetFreezeInput"]["properties"]
    assert freeze["campaign"]["type"] == "integer"
    assert (freeze["min_pairs_per_user"]["minimum"], freeze["min_pairs_per_user"]["maximum"]) == (1, 1000)
    assert schemas["TargetOutput"]["properties"]["campaign"]["nullable"] is True


def test_target_list_queries_do_not_grow_with_targets(everything, django_assert_max_num_queries):
    version = _published_version()
    from training.services.targets import target_freeze_constitution

    for i in range(5):
        target_freeze_constitution(name=f"t{i}", constitution_version_id=version.pk)
    with django_assert_max_num_queries(6):  # token, touch, count, page, files
        assert everything.get("/api/v1/targets/").json()["count"] == 5


def test_a_run_config_is_checked_field_by_field_and_nothing_is_queued(everything, base_model, dispatched):
    target = toy_target()
    response = everything.post(f"/api/v1/targets/{target.pk}/runs/", {
        "method": "salmon", "base_model": str(base_model),
        "config": {"max_steps": 0, "learning_rate": "fast", "lr": 0.1}}, format="json")
    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    assert set(fields) == {"config.max_steps", "config.learning_rate", "config.lr"}
    assert "Unknown setting" in fields["config.lr"][0] and "at least 1" in fields["config.max_steps"][0]
    response = everything.post(f"/api/v1/targets/{target.pk}/runs/",
                               {"method": "magic", "base_model": "/nowhere", "config": []}, format="json")
    assert response.status_code == 400 and set(response.json()["error"]["fields"]) == {"config"}
    response = everything.post(f"/api/v1/targets/{target.pk}/runs/", {"method": "magic", "base_model": "/nowhere"},
                               format="json")
    assert set(response.json()["error"]["fields"]) == {"method", "base_model"}
    assert everything.post("/api/v1/targets/999999/runs/", {}, format="json").status_code == 404
    assert not TrainingRun.objects.exists() and dispatched == []


def test_a_run_for_the_policy_server_without_one_is_a_400_naming_the_setting(everything, base_model, dispatched,
                                                                             settings):
    settings.CHORUS_POLICY_BASE_URL = ""
    target = toy_target()
    response = everything.post(f"/api/v1/targets/{target.pk}/runs/", {
        "method": "salmon", "base_model": str(base_model), "config": {"policy_backend": "openai"}}, format="json")
    assert response.status_code == 400
    (message,) = response.json()["error"]["fields"]["config.policy_backend"]
    assert "CHORUS_POLICY_BASE_URL is not set" in message
    assert not TrainingRun.objects.exists() and dispatched == []


def test_a_bad_sharding_or_fsdp_on_cpu_workers_is_a_400_naming_sharding(everything, base_model, dispatched, settings):
    settings.CHORUS_WORKER_GPUS = 0  # the deployment's workers train on the CPU, where FSDP cannot run
    target = toy_target()
    for sharding, says in (("zero3", "Choose one of: ddp, fsdp."), ("fsdp", "but the worker has no GPU")):
        response = everything.post(f"/api/v1/targets/{target.pk}/runs/", {
            "method": "salmon", "base_model": str(base_model), "config": {"sharding": sharding, "processes": 2}},
            format="json")
        assert response.status_code == 400
        (message,) = response.json()["error"]["fields"]["config.sharding"]
        assert says in message
    assert not TrainingRun.objects.exists() and dispatched == []


def test_start_follow_and_cancel_a_run(everything, base_model, dispatched, django_capture_on_commit_callbacks):
    target = toy_target()
    with django_capture_on_commit_callbacks(execute=True):
        response = everything.post(f"/api/v1/targets/{target.pk}/runs/", {
            "method": "salmon", "base_model": str(base_model), "config": {"max_steps": "40"}}, format="json")
    assert response.status_code == 201, response.content
    run = response.json()
    assert (run["status"], run["config"]["max_steps"], run["target"], run["model"]) == ("queued", 40, target.pk, None)
    assert dispatched == [run["id"]]
    RunMetric.objects.bulk_create([RunMetric(run_id=run["id"], step=s, values=v) for s, v in [
        (20, {"loss": 0.5}), (10, {"loss": 0.7, "learning_rate": 1e-5}), (30, {"eval_accuracy": 0.8})]])
    curve = everything.get(f"/api/v1/runs/{run['id']}/metrics/", {"name": "loss"}).json()["results"]
    assert [(p["step"], p["values"]["loss"]) for p in curve] == [(10, 0.7), (20, 0.5)]
    assert everything.get(f"/api/v1/runs/{run['id']}/metrics/").json()["count"] == 3

    assert everything.get("/api/v1/runs/", {"status": "queued"}).json()["count"] == 1
    assert everything.get("/api/v1/runs/", {"target": target.pk + 1}).json()["count"] == 0
    bad = everything.get("/api/v1/runs/", {"status": "sleeping"})
    assert bad.status_code == 400 and list(bad.json()["error"]["fields"]) == ["status"]

    cancelled = everything.post(f"/api/v1/runs/{run['id']}/cancel/")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert everything.get(f"/api/v1/runs/{run['id']}/").json()["cancel_requested_at"]
    again = everything.post(f"/api/v1/runs/{run['id']}/cancel/")
    assert again.status_code == 409 and "already finished" in again.json()["error"]["message"]


def test_models_list_and_detail_with_card_files_metrics_and_hub_ids(everything, base_model, dispatched,
                                                                   django_assert_max_num_queries):
    target = toy_target()
    first = model_publish(target=target, base_model=base_model, metrics={"train_accuracy": 0.5})
    second = model_publish(target=target, base_model=base_model, metrics={"train_accuracy": 0.9})
    with django_assert_max_num_queries(6):  # token, touch, count, page, repo slugs
        listed = everything.get("/api/v1/models/").json()
    assert [m["id"] for m in listed["results"]] == [second.pk, first.pk]
    assert listed["results"][0]["hub"] == {"repo_id": "chorus/toy-constitution-salmon",
                                           "commit": artifact_commit(second)}
    assert everything.get("/api/v1/models/", {"target": target.pk + 1}).json()["count"] == 0
    assert list(everything.get("/api/v1/models/", {"target": "x"}).json()["error"]["fields"]) == ["target"]

    detail = everything.get(f"/api/v1/models/{first.pk}/").json()
    assert detail["hub"] == {"repo_id": "chorus/toy-constitution-salmon", "revision": "v1",
                             "commit": artifact_commit(first)}
    assert detail["metrics"] == {"train_accuracy": 0.5} and "Published by the test suite" in detail["model_card"]
    assert (detail["target"]["name"], detail["run"]) == ("Toy constitution", first.run_id)
    [readme] = [f for f in detail["files"] if f["name"] == "README.md"]
    assert readme["url"] == (f"http://testserver/hf/chorus/toy-constitution-salmon/resolve/"
                             f"{artifact_commit(first)}/README.md")
    run = everything.get(f"/api/v1/runs/{first.run_id}/").json()
    assert (run["status"], run["model"]) == ("succeeded", first.pk)
    assert everything.get("/api/v1/models/999999/").status_code == 404


@pytest.mark.parametrize("path, needs", [
    ("/api/v1/targets/", Scope.READ_DATA), ("/api/v1/runs/", Scope.READ_MODELS), ("/api/v1/models/", Scope.READ_MODELS),
])
def test_reads_need_their_scope(client_with, path, needs):
    others = [s for s in Scope.values if s != needs]
    assert client_with(*others).get(path).status_code == 403
    assert client_with(needs).get(path).status_code == 200


def test_freezing_a_timeline_and_its_refusals(everything, scripted_llm):
    from tests.support.timelines import drifting_campaign

    campaign, _ = drifting_campaign(scripted_llm, waves=3, people=1)
    response = everything.post("/api/v1/targets/freeze/", {"name": "drift", "timeline_campaign": campaign.pk},
                               format="json")
    assert response.status_code == 201, response.content
    created = response.json()
    assert (created["kind"], created["campaign"]) == ("timeline", campaign.pk)
    assert {f["name"]: f["rows"] for f in created["files"]} == {"steps.jsonl": 3, "preferences.jsonl": 6}

    short, _ = drifting_campaign(scripted_llm, waves=2, people=1, title="Short")
    for body, words in [({"timeline_campaign": short.pk}, "at least 3 waves"),
                        ({"timeline_campaign": 999999}, "No such campaign"),
                        ({"timeline_campaign": campaign.pk, "campaign": campaign.pk}, "exactly one")]:
        response = everything.post("/api/v1/targets/freeze/", {"name": "t", **body}, format="json")
        assert response.status_code == 400, body
        assert words in response.json()["error"]["fields"]["timeline_campaign"][0], body


def test_models_list_carries_the_dashboard_lists_headline(everything, client, staff_user, base_model, dispatched):
    """The API list and the dashboard's models list read one selector and say the same of each model."""
    from django.template.defaultfilters import filesizeformat
    from django.urls import reverse

    client.force_login(staff_user)
    target = toy_target()
    chance = model_publish(target=target, base_model=base_model, metrics={"eval_accuracy": 0.55},
                           summary={"held_out_pairs": 20})
    tracker = model_publish(target=target, base_model=base_model, metrics={"pg_follow": 0.9, "pg_predict": 0.8},
                            summary={"tracker": "lifelong", "tracking": {"rows": []}})
    listed = {m["id"]: m for m in everything.get("/api/v1/models/").json()["results"]}
    held_out = listed[chance.pk]["held_out"]
    assert (held_out["pairs"], held_out["better_than_chance"], listed[chance.pk]["tracking"]) == (20, False, None)
    assert listed[tracker.pk]["held_out"] is None
    assert {s["key"]: s["tracker"] for s in listed[tracker.pk]["tracking"]} == {
        "pg_follow": 0.9, "pg_predict": 0.8, "pg_coevolve": None}
    page = client.get(reverse("dashboard:models_list")).content.decode()
    for artifact in (chance, tracker):
        row = page.split(f'data-model="{artifact.pk}"')[1].split("</tr>")[0]
        api = listed[artifact.pk]
        assert api["size_bytes"] == sum(f["size_bytes"] for f in artifact.files)
        assert filesizeformat(api["size_bytes"]) in row
        finished = TrainingRun.objects.get(pk=artifact.run_id).finished_at
        assert api["finished_at"] == finished.isoformat().replace("+00:00", "Z")
        assert f'datetime="{finished.isoformat()}"' in row
        assert api["method"] in row and api["base_model"] in row and api["target"]["name"] in row
    assert 'data-headline="not-better"' in page and 'data-headline="tracking"' in page

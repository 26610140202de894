"""Staff pages for targets, runs and models."""
from __future__ import annotations

import io
import tarfile

import pytest
from django.urls import reverse

from training.models import AlignmentTarget, RunMetric, TrainingRun
from training.services import runs as run_services
from training.services.targets import target_freeze_constitution
from training.storage import model_dir

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client, staff_user):
    client.force_login(staff_user)
    return client


@pytest.fixture
def sent(monkeypatch):
    calls = []
    monkeypatch.setattr(run_services, "_dispatch", lambda run_id, task_id: calls.append(run_id))
    return calls


def test_pages_need_staff(client):
    for url in (reverse("dashboard:targets_list"), reverse("dashboard:runs_new")):
        assert client.get(url).status_code == 302


def test_freeze_from_the_form_then_see_sources_files_and_provenance(staff, toy_version):
    page = staff.get(reverse("dashboard:targets_new") + "?kind=constitution")
    assert "Toy constitution v1 (2 principles)" in page.content.decode()
    bad = staff.post(reverse("dashboard:targets_new"), {"kind": "constitution", "name": "", "source": ""})
    assert bad.status_code == 400 and "Choose what to freeze" in bad.content.decode()
    done = staff.post(reverse("dashboard:targets_new"), {"kind": "constitution", "name": "Kind & short",
                                                         "source": toy_version.pk, "extra_prompts": "Hi?\n<b>Yo</b>"})
    target = AlignmentTarget.objects.get()
    assert done.status_code == 302 and done["Location"] == reverse("dashboard:targets_detail", args=[target.pk])
    html = staff.get(done["Location"]).content.decode()
    for f in target.files.all():
        assert f.sha256 in html
    assert 'data-provenance="principles">2<' in html and "Kind &amp; short v1" in html


def test_target_list_queries_do_not_grow_with_targets(staff, toy_version, django_assert_max_num_queries):
    for i in range(6):
        target_freeze_constitution(name=f"t{i}", constitution_version_id=toy_version.pk, extra_prompts=["Hi?"])
    with django_assert_max_num_queries(12):
        html = staff.get(reverse("dashboard:targets_list")).content.decode()
    assert html.count("data-target=") == 6


def test_new_run_form_shows_field_errors_and_queues_a_valid_run(staff, toy_target, tiny_model_dir, sent,
                                                                django_capture_on_commit_callbacks):
    url = reverse("dashboard:runs_new")
    form = staff.get(url, {"target": toy_target.pk}).content.decode()
    assert "Optimizer steps for the reward model." in form and 'name="config.max_steps"' in form
    bad = staff.post(url, {"method": "salmon", "target": toy_target.pk, "base_model": str(tiny_model_dir),
                           "config.max_steps": "-3", "config.learning_rate": "fast"})
    html = bad.content.decode()
    assert bad.status_code == 400 and "Must be at least 1." in html and "Enter a number." in html
    assert not TrainingRun.objects.exists() and sent == []
    with django_capture_on_commit_callbacks(execute=True):
        ok = staff.post(url, {"method": "salmon", "target": toy_target.pk, "base_model": str(tiny_model_dir),
                              "config.max_steps": "7"})
    run = TrainingRun.objects.get()
    assert ok["Location"] == reverse("dashboard:runs_detail", args=[run.pk]) and run.config["max_steps"] == 7
    assert sent == [run.pk]


def test_new_run_form_explains_processes_per_method_and_refuses_fsdp_on_cpu_workers(staff, toy_target, tiny_model_dir,
                                                                                   sent, settings):
    settings.CHORUS_WORKER_GPUS = 0
    url = reverse("dashboard:runs_new")
    form = staff.get(url, {"target": toy_target.pk}).content.decode()
    assert 'name="config.sharding"' in form and "unless sharding is fsdp" in form
    bad = staff.post(url, {"method": "salmon", "target": toy_target.pk, "base_model": str(tiny_model_dir),
                           "config.processes": "2", "config.sharding": "fsdp"})
    html = bad.content.decode()
    assert bad.status_code == 400 and "config.sharding is fsdp, but the worker has no GPU" in html
    assert not TrainingRun.objects.exists() and sent == []


def test_run_page_polls_while_running_draws_the_loss_and_cancels(staff, toy_target, tiny_model_dir, sent, monkeypatch):
    monkeypatch.setattr("celery.app.control.Control.revoke", lambda self, task_id, **kw: None)
    run = run_services.run_create(target=toy_target, method="salmon", base_model=str(tiny_model_dir), config={})
    run_services.run_claim(run_id=run.pk, worker="gpu@box", device="cpu")
    claim = run_services.Claim(run.pk, 1)
    run_services.run_progress(claim=claim, fraction=0.5, stage="training")
    for step, loss in ((10, 0.69), (20, 0.5), (30, 0.31)):
        run_services.run_metric_add(claim=claim, step=step, values={"loss": loss})
    run_services.run_log(claim=claim, message="<script>alert(1)</script>")
    url = reverse("dashboard:runs_detail", args=[run.pk])

    html = staff.get(url).content.decode()
    assert 'hx-trigger="every 2s"' in html and 'value="0.500"' in html and "<polyline" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert(1)" not in html
    fragment = staff.get(url, HTTP_HX_REQUEST="true")
    assert fragment.content.decode().lstrip().startswith('<div id="live"') and "HX-Request" in fragment["Vary"]
    assert "Cancel run" in fragment.content.decode()

    staff.post(reverse("dashboard:runs_cancel", args=[run.pk]))
    assert TrainingRun.objects.get(pk=run.pk).cancel_requested_at is not None
    run_services.run_mark_cancelled(claim=claim)
    finished = staff.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert 'data-status="cancelled"' in finished and "hx-trigger" not in finished  # polling stops


def test_model_page_card_files_snippet_and_downloads(staff, toy_target, tiny_model_dir, sent):
    run = run_services.run_create(target=toy_target, method="salmon", base_model=str(tiny_model_dir), config={})
    run_services.run_claim(run_id=run.pk, worker="gpu@box", device="cpu")
    folder = model_dir(run.uuid)
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / "checksums.sha256").write_text("x  config.json\n")
    artifact = run_services.run_succeed(
        claim=run_services.Claim(run.pk, 1), metrics={"eval_flip_accuracy": 0.93}, summary={},
        artifact_path=f"training/models/{run.uuid}", files=[{"name": "config.json", "sha256": "ab" * 32, "size_bytes": 2}],
        model_card="# card\nIntended use: ranking",
    )
    html = staff.get(reverse("dashboard:models_detail", args=[artifact.pk])).content.decode()
    assert 'data-metric="eval_flip_accuracy">0.9300' in html and "Intended use: ranking" in html
    assert "AutoModelForSequenceClassification.from_pretrained(path)" in html and "ab" * 32 in html
    assert "snapshot_download(" in html and "/hf" in html  # the Hub-client snippet
    body = b"".join(staff.get(reverse("dashboard:models_download", args=[artifact.pk])).streaming_content)
    names = tarfile.open(fileobj=io.BytesIO(body)).getnames()
    assert names == [f"{artifact.name}/config.json", f"{artifact.name}/checksums.sha256"]
    assert staff.get(reverse("dashboard:models_file", args=[artifact.pk, "config.json"])).status_code == 200
    assert staff.get(reverse("dashboard:models_file", args=[artifact.pk, "../../secret"])).status_code == 404
    assert RunMetric.objects.count() == 0


def test_freeze_a_preference_population_from_the_form(staff, scripted_llm):
    from tests.factories import CampaignFactory
    from tests.support.comparisons import judge, person

    campaign = CampaignFactory(title="Faith study")
    alice = person(campaign, system="Answer briefly.")
    judge(alice, scripted_llm, prompt="P1", choice="a")
    judge(alice, scripted_llm, prompt="P2", choice="tie")
    CampaignFactory(title="Nothing judged yet")
    url = reverse("dashboard:targets_new")

    form = staff.get(url, {"kind": "preference_population"}).content.decode()
    assert "Faith study (2 judged comparisons)" in form and "Nothing judged yet" not in form
    cases = [
        ({"source": ""}, "campaign", "Choose what to freeze."),
        ({"source": campaign.pk, "min_pairs_per_user": "two"}, "min_pairs_per_user", "Enter a whole number."),
        ({"source": campaign.pk, "min_pairs_per_user": "2"}, "min_pairs_per_user", "lower the minimum"),
    ]
    for fields, field, words in cases:
        bad = staff.post(url, {"kind": "preference_population", "name": "prefs", "min_pairs_per_user": "1", **fields})
        html = bad.content.decode()
        assert bad.status_code == 400 and words in html, fields
        # The message sits under its own field, and the field is marked.
        after_field = html[html.index(f'id="{"source" if field == "campaign" else field}"'):]
        assert 'aria-invalid="true"' in after_field.split(">")[0] and words in after_field.split("<label")[0], fields
    assert not AlignmentTarget.objects.exists()

    done = staff.post(url, {"kind": "preference_population", "name": "prefs", "source": campaign.pk,
                            "min_pairs_per_user": "1"})
    target = AlignmentTarget.objects.get()
    assert done["Location"] == reverse("dashboard:targets_detail", args=[target.pk]) and target.campaign == campaign
    html = staff.get(done["Location"]).content.decode()
    assert 'data-provenance="pairs_kept">1<' in html and 'data-provenance="ties">1<' in html
    assert 'data-file="preferences.jsonl"' in html and 'data-file="users.jsonl"' in html
    assert reverse("dashboard:campaign_detail", args=[campaign.pk]) in html
    listed = staff.get(reverse("dashboard:targets_list")).content.decode()
    assert "Preference population" in listed and "Preferences of “Faith study”: 1 pair from 1 participant" in listed


def test_the_run_form_offers_only_methods_and_targets_that_fit(staff, toy_target, scripted_llm):
    from django.utils import timezone

    from elicitation.models import GraphSnapshot
    from tests.factories import CampaignFactory
    from tests.support.comparisons import judge, person
    from training.services.targets import target_freeze_moral_graph, target_freeze_preference_population

    url = reverse("dashboard:runs_new")
    empty = staff.get(url, {"method": "pal"}).content.decode()
    assert 'id="no-targets"' in empty and "pal trains from preference population targets" in empty

    campaign = CampaignFactory(title="Prefs")
    judge(person(campaign, system="Be brief."), scripted_llm, prompt="P1", choice="a")
    prefs = target_freeze_preference_population(name="prefs", campaign_id=campaign.pk, min_pairs_per_user=1)
    page = staff.get(reverse("dashboard:targets_detail", args=[prefs.pk])).content.decode()
    assert all(f"Train {m} on this target" in page for m in ("janus", "pal", "vpl")) and "Train salmon" not in page
    # Without a method named, the form opens on the first that fits, the target chosen; only fitting targets listed.
    form = staff.get(url, {"target": prefs.pk}).content.decode()
    assert '<option value="janus" selected>' in form and f'<option value="{prefs.pk}" selected>' in form
    assert f'<option value="{toy_target.pk}"' not in form
    salmon = staff.get(url, {"method": "salmon"}).content.decode()
    assert f'<option value="{toy_target.pk}"' in salmon and f'<option value="{prefs.pk}"' not in salmon

    snapshot = GraphSnapshot.objects.create(campaign=campaign, as_of=timezone.now(), vote_count=1, summary={
        "values": [{"id": 1, "title": "Care", "policies": ["FEELINGS of"], "pageRank": 1.0}], "edges": [],
        "contexts": {}})
    graph = target_freeze_moral_graph(name="graph", snapshot_id=snapshot.pk)
    page = staff.get(reverse("dashboard:targets_detail", args=[graph.pk])).content.decode()
    assert 'id="no-trainers"' in page and "Train " not in page


def test_freeze_a_timeline_from_the_form_and_its_refusal(staff, scripted_llm):
    from tests.support.timelines import drifting_campaign

    campaign, _ = drifting_campaign(scripted_llm, waves=3, people=1, title="Drift")
    short, _ = drifting_campaign(scripted_llm, waves=2, people=1, title="Short")
    url = reverse("dashboard:targets_new")
    form = staff.get(url, {"kind": "timeline"}).content.decode()
    assert "Freeze a timeline" in form and "Drift (6 judged comparisons)" in form

    bad = staff.post(url, {"kind": "timeline", "name": "t", "source": short.pk})
    html = bad.content.decode()
    assert bad.status_code == 400 and "at least 3 waves; this campaign has 2" in html
    assert 'aria-invalid="true"' in html[html.index('id="source"'):].split(">")[0]
    assert not AlignmentTarget.objects.exists()

    done = staff.post(url, {"kind": "timeline", "name": "t", "source": campaign.pk})
    target = AlignmentTarget.objects.get()
    assert done["Location"] == reverse("dashboard:targets_detail", args=[target.pk]) and target.kind == "timeline"
    html = staff.get(done["Location"]).content.decode()
    assert 'data-file="steps.jsonl"' in html and 'data-file="preferences.jsonl"' in html
    assert "progress" in html  # the trackers are offered for it


def test_models_list_shows_each_models_headline_newest_first_with_flat_queries(
        staff, toy_target, tiny_model_dir, sent, settings, tmp_path, django_assert_max_num_queries):
    from tests.support.artifacts import model_publish

    settings.MEDIA_ROOT = tmp_path / "media"
    url = reverse("dashboard:models_list")
    empty = staff.get(url).content.decode()
    assert 'id="no-models"' in empty and reverse("dashboard:runs_new") in empty  # says how to get one

    def publish(**kwargs):
        return model_publish(target=toy_target, base_model=tiny_model_dir, **kwargs)

    better = publish(metrics={"eval_accuracy": 0.95}, summary={"held_out_pairs": 200})
    chance = publish(metrics={"eval_accuracy": 0.55}, summary={"held_out_pairs": 20})
    unmeasured = publish(metrics={"train_accuracy": 0.9})
    tracker = publish(metrics={"pg_follow": 0.91, "pg_predict": 0.87, "eval_accuracy": 0.2},
                      summary={"tracker": "lifelong", "held_out_pairs": 50, "tracking": {"ahead": 1, "rows": []}})
    with django_assert_max_num_queries(8) as few:
        html = staff.get(url).content.decode()
    rows = html.split('data-model="')[1:]
    assert [int(r.split('"')[0]) for r in rows] == [tracker.pk, unmeasured.pk, chance.pk, better.pk]  # newest first
    row = dict(zip([tracker.pk, unmeasured.pk, chance.pk, better.pk], rows))
    assert 'data-headline="better"' in row[better.pk] and "0.95 on 200 pairs" in row[better.pk]
    assert 'data-headline="not-better"' in row[chance.pk] and "Not better than chance" in row[chance.pk]
    assert 'data-headline="unmeasured"' in row[unmeasured.pk] and "No held-out result" in row[unmeasured.pk]
    # A tracker is scored by PG-Follow and PG-Predict, never by a held-out accuracy it may carry.
    assert 'data-headline="tracking"' in row[tracker.pk] and "chance" not in row[tracker.pk]
    assert 'data-score="pg_follow">0.910' in row[tracker.pk] and 'data-score="pg_predict">0.870' in row[tracker.pk]
    for artifact in (better, tracker):
        size = sum(f["size_bytes"] for f in artifact.files)
        assert reverse("dashboard:models_detail", args=[artifact.pk]) in row[artifact.pk]
        assert reverse("dashboard:models_download", args=[artifact.pk]) in row[artifact.pk]
        assert f"{size}\xa0bytes" in row[artifact.pk] and str(tiny_model_dir) in row[artifact.pk]
        assert toy_target.name in row[artifact.pk] and ">salmon<" in row[artifact.pk]

    for _ in range(4):
        publish()
    with django_assert_max_num_queries(len(few.captured_queries)):  # eight models: as many queries as four
        assert staff.get(url).content.decode().count('data-model="') == 8
    assert reverse("dashboard:models_list") in staff.get(reverse("dashboard:targets_list")).content.decode()


def test_models_list_pages_through_older_models(staff, toy_target, tiny_model_dir, sent, settings, tmp_path,
                                                 monkeypatch):
    from chorus.dashboard.views import training as views
    from tests.support.artifacts import model_publish

    settings.MEDIA_ROOT = tmp_path / "media"
    monkeypatch.setattr(views, "MODELS_PER_PAGE", 2)
    made = [model_publish(target=toy_target, base_model=tiny_model_dir) for _ in range(3)]
    url = reverse("dashboard:models_list")
    first = staff.get(url).content.decode()
    second = staff.get(url, {"page": 2}).content.decode()
    assert f'data-model="{made[2].pk}"' in first and f'data-model="{made[0].pk}"' not in first
    assert f'data-model="{made[0].pk}"' in second and "Page 2 of 2" in second and 'rel="prev"' in second
    assert 'rel="next"' in first and "3 models" in first


def test_the_run_form_says_why_no_run_can_start_instead_of_offering_the_form(staff, toy_target, tiny_model_dir,
                                                                             sent, scripted_llm):
    from tests.factories import CampaignFactory
    from tests.support.comparisons import judge, person
    from training.services.targets import target_freeze_preference_population

    url = reverse("dashboard:runs_new")
    none = staff.get(url, {"method": "pal"}).content.decode()
    assert 'id="no-targets"' in none and "Queue the run" not in none and 'name="config.' not in none
    assert "none is frozen yet" in none
    assert f'{reverse("dashboard:targets_new")}?kind=preference_population' in none
    assert reverse("dashboard:targets_import") in none  # preference populations can also be imported
    timeline = staff.get(url, {"method": "progress"}).content.decode()
    assert f'{reverse("dashboard:targets_new")}?kind=timeline' in timeline
    assert reverse("dashboard:targets_import") not in timeline
    # The form is there when a target fits.
    assert "Queue the run" in staff.get(url, {"method": "salmon"}).content.decode()

    # A frozen target that cannot be used (PAL needs pairs from several people) is named with the reason.
    campaign = CampaignFactory(title="Prefs")
    judge(person(campaign, system="Be brief."), scripted_llm, prompt="P1", choice="a")
    prefs = target_freeze_preference_population(name="prefs", campaign_id=campaign.pk, min_pairs_per_user=1)
    unusable = staff.get(url, {"method": "pal"}).content.decode()
    assert "Queue the run" not in unusable and f'data-target="{prefs.pk}"' in unusable
    assert "PAL needs pairs from at least" in unusable

    # Posted anyway, the page and the service refuse it with the reason, and nothing is queued.
    for fields, words in (({}, "No target pal can train from is frozen yet"),
                          ({"target": prefs.pk}, "PAL needs pairs from at least"),
                          ({"target": toy_target.pk}, "This method trains from preference population targets")):
        refused = staff.post(url, {"method": "pal", "base_model": str(tiny_model_dir), **fields})
        assert refused.status_code == 400 and words in refused.content.decode(), fields
    assert not TrainingRun.objects.exists() and sent == []

"""A withdrawal reaches frozen targets through elicitation's `participant_withdrawn` signal: the
participant's rows leave the files, hashes and row counts follow, the target records that it changed
(with no one named), its page and the API say so, and models trained before are flagged."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from chorus.accounts.models import Participant, Scope
from chorus.accounts.services import api_token_create
from elicitation.domain.comparisons_exports import pseudonym
from elicitation.models import CanonicalCard, EdgeVote, ValuesCard
from elicitation.services import constitutions as constitution_svc
from elicitation.services import statements as statement_svc
from elicitation.services import values as values_svc
from elicitation.services.moral_graph import graph_snapshot_create
from elicitation.services.participants import participant_withdraw
from tests.factories import CampaignFactory
from tests.support.comparisons import judge, person
from tests.support.seed import seed_peer_values
from training.services import targets as target_svc
from training.services.targets import (
    target_freeze_constitution,
    target_freeze_moral_graph,
    target_freeze_preference_population,
)
from training.storage import run_dir, target_dir

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def embedder(monkeypatch):
    monkeypatch.setattr(values_svc, "embed_policies",
                        lambda ps: np.full((len(ps), 384), 1 / np.sqrt(384), dtype=np.float32))


def withdraw(participant):
    return participant_withdraw(participant=participant, session=SessionStore())


def rows(target, name):
    return [json.loads(line) for line in (target_dir(target.uuid) / name).read_text().splitlines()]


def assert_consistent(target):
    """The rows say what is on disk: every file's hash, size and row count, the content hash, and no
    staged file left behind."""
    target.refresh_from_db()
    folder = target_dir(target.uuid)
    hashes = {}
    for f in target.files.all():
        data = (folder / f.name).read_bytes()
        assert (hashlib.sha256(data).hexdigest(), len(data), len(data.splitlines())) == (f.sha256, f.size_bytes, f.rows)
        hashes[f.name] = f.sha256
    assert target.content_sha256 == target_svc._content_hash(hashes)
    assert sorted(p.name for p in folder.iterdir()) == sorted(hashes)


@pytest.fixture
def study(scripted_llm):
    campaign = CampaignFactory(title="Faith study", activities=["comparisons", "principles", "voting", "upgrades"])
    alice = person(campaign, system="Answer briefly.", dimensions={"style": "brief"})
    judge(alice, scripted_llm, prompt="P1", choice="a", a="Short.", b="Long.")
    judge(alice, scripted_llm, prompt="P2", choice="b", a="Cold.", b="Kind.")
    bob = person(campaign, system="Cite sources.")
    judge(bob, scripted_llm, prompt="Q1", choice="b", a="No source.", b="Per WHO, ...")
    return {"campaign": campaign, "alice": alice, "bob": bob}


def test_a_preference_population_loses_their_pairs_and_user_row(study, scripted_llm):
    campaign, alice, bob = study["campaign"], study["alice"], study["bob"]
    target = target_freeze_preference_population(name="prefs", campaign_id=campaign.pk)
    elsewhere = CampaignFactory(activities=["comparisons"])
    judge(person(elsewhere, system="Other study."), scripted_llm, prompt="Z", choice="a")
    other = target_freeze_preference_population(name="other", campaign_id=elsewhere.pk)
    other_hash = other.content_sha256
    old_hash = target.content_sha256

    withdraw(alice)

    assert {r["user"] for r in rows(target, "preferences.jsonl")} == {pseudonym(bob.public_id)}
    assert [r["user"] for r in rows(target, "users.jsonl")] == [pseudonym(bob.public_id)]
    assert_consistent(target)
    assert target.content_sha256 != old_hash
    assert [(r["rows_removed"], r["rows_reworded"]) for r in target.redactions] == [(3, 0)]  # 2 pairs, 1 user
    assert set(target.redactions[0]) == {"at", "rows_removed", "rows_reworded"}  # when and how many, not who
    other.refresh_from_db()
    assert other.content_sha256 == other_hash and other.redactions == []

    withdraw(bob)  # a second withdrawal adds a second line
    target.refresh_from_db()
    assert [r["rows_removed"] for r in target.redactions] == [3, 2] and rows(target, "preferences.jsonl") == []
    assert_consistent(target)


def test_a_constitution_target_loses_the_redacted_principles(study):
    campaign, alice = study["campaign"], study["alice"]
    statement = statement_svc.statement_submit(participant=alice, text="Say what you do not know.")
    mine = statement_svc.statement_promote(statement=statement, name="Admit uncertainty")
    staff = constitution_svc.principle_create(name="Staff rule", definition="Be kind.", negated_definition="Be cruel.")
    version = constitution_svc.constitution_draft(constitution=constitution_svc.constitution_create(title="C"))
    for principle in (mine, staff):
        constitution_svc.constitution_entry_add(version=version, principle=principle)
    constitution_svc.constitution_version_publish(version=version)
    target = target_freeze_constitution(name="charter", constitution_version_id=version.pk, extra_prompts=["Hi?"])
    assert [r["name"] for r in rows(target, "principles.jsonl")] == ["Admit uncertainty", "Staff rule"]

    withdraw(alice)

    assert rows(target, "principles.jsonl") == [{"name": "Staff rule", "definition": "Be kind.",
                                                 "negated_definition": "Be cruel."}]
    assert_consistent(target)
    assert target.redactions[0]["rows_removed"] == 1
    again = target_freeze_constitution(name="charter", constitution_version_id=version.pk)
    assert [r["name"] for r in rows(again, "principles.jsonl")] == ["Staff rule"]  # the note is no principle
    assert campaign.pk


def test_a_moral_graph_target_loses_their_values_and_rewords_shared_ones(study):
    campaign, alice = study["campaign"], study["alice"]
    question = campaign.questions.get()
    peers = seed_peer_values(question, stories=0)
    context = campaign.contexts.get()
    gone = CanonicalCard.objects.create(campaign=campaign, question=question, title="Gone Value",
                                        description="Mine.", policies=["MINE a", "MINE b", "MINE c"])
    shared = CanonicalCard.objects.create(campaign=campaign, question=question, title="Shared Value",
                                          description="Mine too.", policies=["OURS a", "OURS b", "OURS c"])
    for canonical in (gone, shared):
        ValuesCard.objects.create(participant=alice, question=question, title=canonical.title,
                                  description=canonical.description, policies=canonical.policies,
                                  canonical=canonical, dedup_method="new")
    ValuesCard.objects.create(participant=study["bob"], question=question, title="Bobs Words", description="Bob's.",
                              policies=["BOBS a", "BOBS b", "BOBS c"], canonical=shared, dedup_method="judge")
    context.cards.add(gone, shared)
    for _ in range(3):
        voter = Participant.objects.create(campaign=campaign, consented_at=timezone.now())
        for a, b in ((peers[0], gone), (peers[1], shared)):
            EdgeVote.objects.create(campaign=campaign, participant=voter, from_card=a, to_card=b, context=context,
                                    relationship="upgrade", created_at=timezone.now())
    target = target_freeze_moral_graph(name="graph", snapshot_id=graph_snapshot_create(campaign=campaign).pk)
    assert {gone.pk, shared.pk} <= {v["id"] for v in rows(target, "values.jsonl")}

    withdraw(alice)

    values = {v["id"]: v for v in rows(target, "values.jsonl")}
    assert gone.pk not in values and values[shared.pk]["title"] == "Bobs Words"
    assert values[shared.pk]["policies"] == ["BOBS a", "BOBS b", "BOBS c"]
    assert all(gone.pk not in (e["sourceValueId"], e["wiserValueId"]) for e in rows(target, "edges.jsonl"))
    assert_consistent(target)
    assert [(r["rows_removed"], r["rows_reworded"]) for r in target.redactions] == [(2, 1)]  # a value, its edge


def test_a_failure_before_the_files_are_replaced_leaves_them_and_rolls_back(study, monkeypatch):
    campaign, alice = study["campaign"], study["alice"]
    target = target_freeze_preference_population(name="prefs", campaign_id=campaign.pk)
    before = {f.name: (target_dir(target.uuid) / f.name).read_bytes() for f in target.files.all()}

    def broken(hashes):
        raise OSError("disk trouble")

    monkeypatch.setattr(target_svc, "_content_hash", broken)
    with pytest.raises(OSError):
        withdraw(alice)
    assert Participant.objects.filter(pk=alice.pk).exists()
    assert {name: (target_dir(target.uuid) / name).read_bytes() for name in before} == before
    assert sorted(p.name for p in target_dir(target.uuid).iterdir()) == sorted(before)  # nothing staged is left
    target.refresh_from_db()
    assert target.redactions == []


def test_a_missing_file_does_not_stop_a_withdrawal(study):
    target = target_freeze_preference_population(name="prefs", campaign_id=study["campaign"].pk)
    (target_dir(target.uuid) / "users.jsonl").unlink()
    withdraw(study["alice"])
    assert {r["user"] for r in rows(target, "preferences.jsonl")} == {pseudonym(study["bob"].public_id)}
    assert not Participant.objects.filter(pk=study["alice"].pk).exists()


def test_the_page_and_the_api_say_a_target_changed_and_which_models_predate_it(study, client, staff_user,
                                                                               monkeypatch, tmp_path, settings):
    from tests.support.artifacts import model_publish

    monkeypatch.setattr("training.services.runs._dispatch", lambda run_id, task_id: None)
    statement = statement_svc.statement_submit(participant=study["alice"], text="Say what you do not know.")
    version = constitution_svc.constitution_draft(constitution=constitution_svc.constitution_create(title="C"))
    for principle in (statement_svc.statement_promote(statement=statement, name="Admit uncertainty"),
                      constitution_svc.principle_create(name="Staff rule", definition="Be kind.",
                                                        negated_definition="Be cruel.")):
        constitution_svc.constitution_entry_add(version=version, principle=principle)
    constitution_svc.constitution_version_publish(version=version)
    target = target_freeze_constitution(name="charter", constitution_version_id=version.pk, extra_prompts=["Hi?"])
    base = tmp_path / "base"
    base.mkdir()
    (base / "config.json").write_text(json.dumps({"architectures": ["LlamaForCausalLM"]}))
    settings.CHORUS_BASE_MODEL_DIRS = [tmp_path]  # a stand-in base model the server offers
    before = model_publish(target=target, base_model=base)
    work = run_dir(before.run.uuid) / "work"
    work.mkdir(parents=True)
    (work / "preferences.jsonl").write_text('{"principle": "Say what you do not know."}\n')

    withdraw(study["alice"])

    assert not work.exists()  # a finished run's intermediate data, made from the old rows
    assert (Path(settings.MEDIA_ROOT) / before.path / "README.md").exists()  # its model stays

    after = model_publish(target=target, base_model=base)
    client.force_login(staff_user)
    page = client.get(reverse("dashboard:targets_detail", args=[target.pk])).content.decode()
    assert "Changed after a withdrawal" in page and "1 row removed" in page
    model_page = client.get(reverse("dashboard:models_detail", args=[before.pk])).content.decode()
    assert 'id="redacted-after-training"' in model_page and "not retrained" in model_page
    assert 'id="redacted-after-training"' not in client.get(
        reverse("dashboard:models_detail", args=[after.pk])).content.decode()
    constitution_page = client.get(reverse("dashboard:constitution_detail",
                                           args=[version.constitution_id])).content.decode()
    assert 'data-redactions="1"' in constitution_page and "Say what you do not know" not in constitution_page
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION="Bearer " + api_token_create(
        user=staff_user, name="t", scopes=[Scope.READ_DATA, Scope.READ_MODELS])[1])
    detail = api.get(f"/api/v1/targets/{target.pk}/").json()
    assert [(r["rows_removed"], r["rows_reworded"]) for r in detail["redactions"]] == [(1, 0)]
    assert api.get(f"/api/v1/models/{before.pk}/").json()["target_redacted_after_training"] is True
    listed = {m["id"]: m["target_redacted_after_training"] for m in api.get("/api/v1/models/").json()["results"]}
    assert listed == {before.pk: True, after.pk: False}


def test_with_a_bucket_the_withdrawal_rewrites_the_bucket_copy_from_a_host_without_the_files(study, s3_bucket):
    """The host that handles the withdrawal has nothing cached: it fetches the target's files from the
    bucket (checked), rewrites them, and uploads them before the new hashes commit."""
    import shutil

    from django.conf import settings

    alice, bob = study["alice"], study["bob"]
    target = target_freeze_preference_population(name="prefs", campaign_id=study["campaign"].pk)
    shutil.rmtree(settings.MEDIA_ROOT)

    withdraw(alice)

    target.refresh_from_db()
    prefix = f"training/targets/{target.uuid}"
    for f in target.files.all():
        assert hashlib.sha256(s3_bucket.read(f"{prefix}/{f.name}")).hexdigest() == f.sha256
    users = [json.loads(line)["user"] for line in s3_bucket.read(f"{prefix}/users.jsonl").splitlines()]
    assert users == [pseudonym(bob.public_id)] and target.redactions[0]["rows_removed"] == 3

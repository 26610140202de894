"""A training run on the worker when the store is an S3 bucket (a real S3-protocol server on
loopback, tests/support/s3.py): the worker starts with an empty cache, fetches the target's files
from the bucket, trains, and publishes its model there; an upload that fails part way through fails
the run with the reason and leaves no model anywhere."""
from __future__ import annotations

import hashlib
import shutil
from dataclasses import asdict

import pytest
from django.conf import settings

import gpu_workers.executor
from gpu_workers.executor import execute_run
from training import object_store
from training.methods import salmon
from training.models import ModelArtifact, TrainingRun
from training.services.runs import run_create
from training.storage import checkpoint_latest, model_dir, run_dir

pytestmark = pytest.mark.django_db(transaction=True)
TINY_RUN = {"max_steps": 5, "save_steps": 10, "pairs_per_prompt": 2, "principles_per_example": 2}


@pytest.fixture
def queued_in_bucket(s3_bucket, toy_target, tiny_model_dir, monkeypatch):
    monkeypatch.setattr("training.services.runs._dispatch", lambda run_id, task_id: None)
    run = run_create(target=toy_target, method="salmon", base_model=str(tiny_model_dir),
                     config={**asdict(salmon.Config.tiny()), **TINY_RUN})
    shutil.rmtree(settings.MEDIA_ROOT)  # the GPU worker is another host: the target is only in the bucket
    return run


def test_a_run_trains_from_the_bucket_and_publishes_its_model_there(queued_in_bucket, s3_bucket):
    assert execute_run(queued_in_bucket.pk, worker="gpu@elsewhere") == "succeeded"
    run = TrainingRun.objects.get(pk=queued_in_bucket.pk)
    artifact = ModelArtifact.objects.get(run=run)
    assert artifact.path == f"training/models/{run.uuid}"
    stored = set(s3_bucket.keys(artifact.path))
    assert stored == {f"{artifact.path}/{f['name']}" for f in artifact.files} | {f"{artifact.path}/checksums.sha256"}
    for f in artifact.files:
        assert hashlib.sha256(s3_bucket.read(f"{artifact.path}/{f['name']}")).hexdigest() == f["sha256"]
    assert s3_bucket.keys("training/uploads") == [] and not model_dir(run.uuid).exists()
    assert s3_bucket.keys(f"training/runs/{run.uuid}") == []  # checkpoints go once the model is out


def test_an_upload_that_fails_part_way_fails_the_run_and_publishes_nothing(queued_in_bucket, s3_bucket,
                                                                            monkeypatch):
    real, calls = object_store.upload, []

    def upload(path, sha256, *, name=None):
        calls.append(name)
        if name and name.startswith("training/uploads/") and len([c for c in calls if c and "uploads" in c]) == 3:
            raise object_store.StorageError("uploading model.safetensors failed (connection reset); check "
                                            "CHORUS_STORAGE_URL")
        real(path, sha256, name=name)

    monkeypatch.setattr(object_store, "upload", upload)
    assert execute_run(queued_in_bucket.pk, worker="gpu@elsewhere") == "failed"
    run = TrainingRun.objects.get(pk=queued_in_bucket.pk)
    assert "CHORUS_STORAGE_URL" in run.error and "StorageError" in run.error
    assert not ModelArtifact.objects.filter(run=run).exists()
    assert s3_bucket.keys(f"training/models/{run.uuid}") == [] and s3_bucket.keys("training/uploads") == []


def test_finished_checkpoints_reach_the_bucket_while_the_run_trains(s3_bucket, toy_target, tiny_model_dir,
                                                                    monkeypatch):
    monkeypatch.setattr("training.services.runs._dispatch", lambda run_id, task_id: None)
    monkeypatch.setattr(gpu_workers.executor, "CHECKPOINT_SYNC_SECONDS", 0.2)
    monkeypatch.setattr(gpu_workers.executor, "checkpoints_drop", lambda folder: None)  # keep them to look at
    run = run_create(target=toy_target, method="salmon", base_model=str(tiny_model_dir),
                     config={**asdict(salmon.Config.tiny()), **TINY_RUN, "max_steps": 6, "save_steps": 3})
    assert execute_run(run.pk, worker="gpu@elsewhere") == "succeeded"
    prefix = f"training/runs/{run.uuid}/work/checkpoints"
    stored = s3_bucket.keys(prefix)
    newest = max({k.split("/")[5] for k in stored}, key=lambda c: int(c.split("-")[1]))
    assert f"{prefix}/{newest}/trainer_state.json" in stored and newest == "checkpoint-6"
    shutil.rmtree(run_dir(run.uuid))  # another host would resume from the bucket's
    assert checkpoint_latest(run_dir(run.uuid) / "work" / "checkpoints") == "checkpoint-6"

"""Faults while a training run works: the disk fills up as it writes its model, and the GPU runs out
of memory. Each run fails with a reason a curator can act on, shown on its page and in the API;
nothing half-written is published, and the worker goes on to train the next run."""
from __future__ import annotations

import errno
import os
import time
from dataclasses import asdict
from pathlib import Path

import pytest
from django.db import transaction
from rest_framework.test import APIClient

from chorus.accounts.models import Scope
from chorus.accounts.services import api_token_create
from gpu_workers.executor import execute_run
from tests.support.worker_faults import plant_out_of_memory
from training.methods import salmon
from training.models import ModelArtifact, TrainingRun
from training.services.runs import run_create
from training.storage import model_dir, run_dir

pytestmark = pytest.mark.django_db(transaction=True)
TINY_RUN = {"max_steps": 5, "save_steps": 10, "pairs_per_prompt": 2, "principles_per_example": 2}


def _config() -> dict:
    return {**asdict(salmon.Config.tiny()), **TINY_RUN}


def _disk_full(path) -> OSError:
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))


def _weights_hit_a_full_disk(monkeypatch) -> None:
    """The model's weights are half written when the disk fills up, as a real full disk leaves them."""
    import transformers.modeling_utils

    def save_file(tensors, filename, *args, **kwargs):
        Path(filename).write_bytes(b"\0" * 4096)
        raise _disk_full(filename)

    monkeypatch.setattr(transformers.modeling_utils, "safe_save_file", save_file)


def _publication_hits_a_full_disk(monkeypatch) -> None:
    """Everything is staged; moving it into place fails (a directory that must grow on a full disk)."""
    import training.storage

    def publish_folder(staging, final):
        raise _disk_full(final)

    monkeypatch.setattr(training.storage, "publish_folder", publish_folder)


@pytest.mark.parametrize("fault", [_weights_hit_a_full_disk, _publication_hits_a_full_disk])
def test_a_full_disk_fails_the_run_with_the_reason_and_publishes_nothing(fault, toy_target, tiny_model_dir, client,
                                                                         staff_user, monkeypatch):
    monkeypatch.setattr("training.services.runs._dispatch", lambda run_id, task_id: None)  # run here, not on a worker
    run = run_create(target=toy_target, method="salmon", base_model=str(tiny_model_dir), config=_config())
    fault(monkeypatch)

    assert execute_run(run.pk, worker="test@here") == "failed"
    run = TrainingRun.objects.get(pk=run.pk)
    assert run.status == "failed" and run.error.startswith("The disk is full"), run.error
    assert "nothing was published" in run.error and "Free space" in run.error
    # No model anywhere: no row, no folder, no staging left beside where it would have gone.
    assert not ModelArtifact.objects.filter(run=run).exists() and not model_dir(run.uuid).exists()
    assert not list(run_dir(run.uuid).glob("staging-*"))
    assert not [p for p in model_dir(run.uuid).parent.glob(f"*{run.uuid}*")]

    client.force_login(staff_user)
    page = client.get(f"/dashboard/runs/{run.pk}/").content.decode()
    assert "The disk is full" in page
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {api_token_create(user=staff_user, name='t', scopes=[Scope.READ_MODELS])[1]}")
    body = api.get(f"/api/v1/runs/{run.pk}/").json()
    assert body["status"] == "failed" and body["error"] == run.error
    assert api.get("/api/v1/models/").json()["count"] == 0


def _finished(pk: int, timeout: float = 300) -> TrainingRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = TrainingRun.objects.get(pk=pk)
        if run.is_finished:
            return run
        time.sleep(0.2)
    raise AssertionError(f"run {pk} did not finish within {timeout:.0f}s")


def test_out_of_memory_in_a_training_step_on_the_gpu_worker_fails_with_the_methods_hint_and_the_worker_trains_on(
        celery_workers, toy_target, tiny_model_dir):
    from chorus.celery import app

    with transaction.atomic():  # the fault is planted before the run is queued
        doomed = run_create(target=toy_target, method="salmon", base_model=str(tiny_model_dir), config=_config())
        plant_out_of_memory(run_dir(doomed.uuid))
    doomed = _finished(doomed.pk)
    assert doomed.status == "failed", f"{doomed.error}\n{doomed.log}"
    assert doomed.error.startswith("Out of memory on cpu: CUDA out of memory"), doomed.error
    assert doomed.error.endswith(salmon.OOM_HINT) and "injected by the test" in doomed.error
    assert not ModelArtifact.objects.filter(run=doomed).exists() and not model_dir(doomed.uuid).exists()

    # The same worker process answers and trains the next run.
    assert app.control.ping(destination=[celery_workers["gpu"]], timeout=5)
    second = run_create(target=toy_target, method="salmon", base_model=str(tiny_model_dir), config=_config())
    second = _finished(second.pk)
    assert second.status == "succeeded", f"{second.error}\n{second.log}"
    assert second.worker == doomed.worker == celery_workers["gpu"]
    assert ModelArtifact.objects.filter(run=second).exists()

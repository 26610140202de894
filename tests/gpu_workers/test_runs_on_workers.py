"""Training runs on real Celery workers: end to end, cancel, and kill -9 in the middle of a run."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings

from tests.support.private_services import wait_for
from training.methods.common.contract import last_complete_checkpoint
from training.methods.salmon import Config, RewardScorer
from training.models import ModelArtifact, TrainingRun
from training.services.runs import TRAIN_TASK, run_cancel, run_create, runs_reap_stale
from training.storage import model_dir, run_dir, sha256_file

REPO_ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db(transaction=True)


def _config(**overrides) -> dict:
    return {**asdict(Config.tiny()), "pairs_per_prompt": 2, "principles_per_example": 2, **overrides}


def _run(pk: int) -> TrainingRun:
    return TrainingRun.objects.get(pk=pk)


def test_target_to_run_to_loadable_model_on_the_gpu_worker(celery_workers, toy_target, tiny_model_dir):
    run = run_create(target=toy_target, method="salmon", base_model=str(tiny_model_dir),
                     config=_config(max_steps=60, logging_steps=5))
    seen: list[tuple[str, float]] = []

    def finished():
        current = _run(run.pk)
        seen.append((current.stage, current.progress))
        return current if current.is_finished else None

    run = wait_for(finished, timeout=180, what="the run to finish", interval=0.05)
    assert run.status == "succeeded", f"{run.error}\n{run.log}"
    assert run.worker == celery_workers["gpu"] and run.device.startswith("cpu")
    assert any(stage == "training" and 0.2 <= progress < 1 for stage, progress in seen), seen
    assert run.metric_points.filter(values__has_key="loss").count() >= 2

    artifact = ModelArtifact.objects.get(run=run)
    folder = Path(settings.MEDIA_ROOT) / artifact.path
    assert all(sha256_file(folder / f["name"]) == f["sha256"] for f in artifact.files)
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = AutoModelForSequenceClassification.from_pretrained(folder)
    assert model.config.num_labels == 1 and AutoTokenizer.from_pretrained(folder).pad_token
    scorer = RewardScorer.load(folder)
    rewards = scorer.score_batch([(["Keep it short."], "How do I make tea?", "Boil water."),
                                  (["Make it long."], "How do I make tea?", "Boil water.")])
    assert len(rewards) == 2 and rewards[0] != rewards[1]  # the principles are part of the input

    # Queueing the finished run again is a no-op.
    from chorus.celery import app

    assert app.send_task(TRAIN_TASK, args=[run.pk]).get(timeout=60) == "skipped"
    assert _run(run.pk).attempt == 1


def test_cancel_stops_a_running_run_within_seconds(celery_workers, toy_target, tiny_model_dir):
    run = run_create(target=toy_target, method="salmon", base_model=str(tiny_model_dir),
                     config=_config(max_steps=100_000, save_steps=100_000))
    wait_for(lambda: _run(run.pk).stage == "training" and _run(run.pk).progress > 0.2, timeout=120,
          what="training to start")
    asked = time.monotonic()
    run_cancel(run=_run(run.pk))
    run = wait_for(lambda: (r := _run(run.pk)).is_finished and r, timeout=30, what="the run to stop")
    took = time.monotonic() - asked
    assert run.status == "cancelled" and took < 10, (run.status, took)
    assert not ModelArtifact.objects.filter(run=run).exists() and not model_dir(run.uuid).exists()
    assert "cancelled; the worker stopped" in run.log


class _Worker:
    """A GPU-queue worker of this test's own, so it can be killed without harming the shared ones."""

    name = "gpu-fault@chorus-test"

    def __init__(self) -> None:
        db = settings.DATABASES["default"]
        self.env = {**os.environ, "DJANGO_SETTINGS_MODULE": "chorus.settings.test",
                    "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
                    "PYTHONPATH": str(REPO_ROOT / "platform")}
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        from chorus.celery import app

        with open(REPO_ROOT / "var" / "test-worker-gpu-fault.log", "a") as log:  # the worker keeps its own copy
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "chorus", "worker", "-l", "info", "--without-mingle",
                 "--without-gossip", "-Q", "gpu", "-P", "solo", "-c", "1", "-n", self.name],
                cwd=REPO_ROOT / "platform", env=self.env, stdout=log, stderr=subprocess.STDOUT,
            )
        wait_for(lambda: any(self.name in reply for reply in app.control.ping(timeout=0.5) or []), timeout=90,
              what="the fault-test worker to start", interval=0.2)

    def kill9(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@pytest.fixture
def fault_worker():
    """Our own worker alone on `gpu`: shared GPU workers stop taking from it for the test's length."""
    from chorus.celery import app

    others = [name for reply in app.control.ping(timeout=1) or [] for name in reply if name.startswith("gpu@")]
    if others:
        app.control.cancel_consumer("gpu", destination=others, reply=True)
    worker = _Worker()
    try:
        yield worker
    finally:
        worker.stop()
        if others:
            app.control.add_consumer("gpu", destination=others, reply=True)


def test_kill_9_mid_run_resumes_from_checkpoint_or_the_reaper_fails_it(fault_worker, toy_target, tiny_model_dir):
    fault_worker.start()
    run = run_create(target=toy_target, method="salmon", base_model=str(tiny_model_dir),
                     config=_config(max_steps=200, save_steps=20))
    checkpoints = run_dir(run.uuid) / "work" / "checkpoints"
    wait_for(lambda: last_complete_checkpoint(checkpoints), timeout=120, what="a first checkpoint", interval=0.05)
    fault_worker.kill9()
    run = _run(run.pk)
    assert run.status == "running" and not model_dir(run.uuid).exists()  # nothing half-published

    fault_worker.start()  # same name: it knows the run was cut off and queues it again
    run = wait_for(lambda: (r := _run(run.pk)).is_finished and r, timeout=180, what="the resumed run")
    assert run.status == "succeeded", f"{run.error}\n{run.log}"
    assert run.attempt == 2 and "restarted while running it" in run.log
    assert "resuming with" in run.log and "resuming training from checkpoint-" in run.log
    assert ModelArtifact.objects.filter(run=run).exists()

    # No checkpoint yet when the worker dies, and it does not come back: the reaper fails the run.
    doomed = run_create(target=toy_target, method="salmon", base_model=str(tiny_model_dir),
                        config=_config(max_steps=100_000, save_steps=100_000))
    wait_for(lambda: _run(doomed.pk).stage == "training", timeout=120, what="training to start")
    fault_worker.kill9()
    time.sleep(3)
    assert runs_reap_stale(stale_after=timedelta(seconds=2)) == {"failed": 1}
    doomed = _run(doomed.pk)
    assert doomed.status == "failed" and "stopped sending heartbeats" in doomed.error
    assert "before saving any checkpoint" in doomed.error and not model_dir(doomed.uuid).exists()

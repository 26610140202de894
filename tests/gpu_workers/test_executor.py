"""The run executor called in this process (the Celery tests run it in real workers).

Transactional: the executor's heartbeat thread has a database connection of its own. Runs are
not sent to the broker here (`_dispatch` is replaced); these tests call the executor instead."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from django.conf import settings

from gpu_workers.executor import _reason, execute_run
from training.configs import config_fields, config_validate
from training.methods import METHODS
from training.models import ModelArtifact, RunMetric, TrainingRun
from training.services.runs import run_create
from training.storage import model_dir, run_dir, sha256_file

TINY_RUN = {"max_steps": 30, "save_steps": 10, "pairs_per_prompt": 2, "principles_per_example": 2}


@pytest.fixture
def dispatched(monkeypatch):
    sent = []
    monkeypatch.setattr("training.services.runs._dispatch", lambda run_id, task_id: sent.append(run_id))
    return sent


@pytest.fixture
def queued_run(toy_target, tiny_model_dir, dispatched):
    run = run_create(target=toy_target, method="salmon", base_model=str(tiny_model_dir), config={**_tiny(), **TINY_RUN})
    assert dispatched == [run.pk]
    return run


def _tiny() -> dict:
    from dataclasses import asdict

    from training.methods.salmon import Config

    return asdict(Config.tiny())


@pytest.mark.django_db(transaction=True)
def test_a_run_publishes_a_loadable_model_with_hashes_and_a_card(queued_run):
    from training.chance import held_out_verdict

    assert execute_run(queued_run.pk, worker="test@here") == "succeeded"
    run = TrainingRun.objects.get(pk=queued_run.pk)
    assert (run.status, run.progress, run.attempt) == ("succeeded", 1.0, 1)
    assert {"train_accuracy"} <= set(run.metrics) and run.summary["training_samples_per_second"] > 0
    assert RunMetric.objects.filter(run=run).exists()
    artifact = ModelArtifact.objects.get(run=run)
    folder = Path(settings.MEDIA_ROOT) / artifact.path
    assert folder == model_dir(run.uuid) and not list(folder.parent.glob(".*"))  # no staging left beside it
    for f in artifact.files:
        assert sha256_file(folder / f["name"]) == f["sha256"]
    assert {"config.json", "model.safetensors", "tokenizer.json", "README.md", "salmon.json"} <= {f["name"] for f in artifact.files}
    card = (folder / "README.md").read_text()
    assert "salmon" in card and run.target.content_sha256 in card and "Intended use" in card and "train_accuracy" in card
    verdict = held_out_verdict(run.metrics, run.summary)  # the card says whether held-out accuracy beats a coin
    assert (verdict.sentence if verdict else "No held-out accuracy was measured") in card
    assert json.loads((folder / "salmon.json").read_text())["use_principles"] is True
    assert not (run_dir(run.uuid) / "work" / "checkpoints").exists()  # checkpoints are dropped once published

    from transformers import AutoModelForSequenceClassification

    from training.methods import salmon
    from training.methods.common.splits import split_by_prompt

    assert AutoModelForSequenceClassification.from_pretrained(folder).config.num_labels == 1
    # The published folder is the model the run evaluated: loaded afresh, it scores the run's own
    # labelled pairs exactly as the run reported.
    config = config_validate("salmon", run.config)
    labelled = [salmon.Example.from_json(r) for r in salmon.read_jsonl(run_dir(run.uuid) / "work" / "preferences.jsonl")]
    train_set, held_out = split_by_prompt(labelled, config.eval_fraction, config.seed)
    scorer = salmon.RewardScorer.load(folder)
    assert salmon.pair_accuracy(scorer, train_set) == pytest.approx(run.metrics["train_accuracy"])
    assert salmon.pair_accuracy(scorer, held_out) == pytest.approx(run.metrics["eval_accuracy"])

    # Dispatching a finished run again does nothing.
    assert execute_run(run.pk, worker="test@here") == "skipped"
    assert TrainingRun.objects.get(pk=run.pk).attempt == 1


@pytest.mark.django_db(transaction=True)
def test_out_of_memory_fails_the_run_with_the_reason_and_the_next_run_still_trains(queued_run, toy_target,
                                                                                  tiny_model_dir, monkeypatch):
    import torch

    from training.methods import salmon

    real_train = salmon.train

    def oom(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    monkeypatch.setattr(salmon, "train", oom)
    assert execute_run(queued_run.pk, worker="test@here") == "failed"
    run = TrainingRun.objects.get(pk=queued_run.pk)
    assert run.status == "failed" and run.error.startswith("Out of memory on cpu: CUDA out of memory")
    assert "per_device_batch_size" in run.error and not ModelArtifact.objects.filter(run=run).exists()

    monkeypatch.setattr(salmon, "train", real_train)
    second = run_create(target=toy_target, method="salmon", base_model=str(tiny_model_dir),
                        config={**_tiny(), **TINY_RUN, "max_steps": 5})
    assert execute_run(second.pk, worker="test@here") == "succeeded"


@pytest.mark.parametrize("method", METHODS)
def test_out_of_memory_names_the_settings_of_the_method_that_ran(method):
    import torch

    reason = _reason(torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"), "cuda", method)
    assert reason.startswith("Out of memory on cuda: CUDA out of memory.")
    named = set(re.findall(r"\b[a-z]+(?:_[a-z]+)+\b", reason))  # setting names look like per_device_batch_size
    assert named and named <= {spec.name for spec in config_fields(method)}, (method, reason)


@pytest.mark.django_db(transaction=True)
def test_a_run_whose_loss_diverges_fails_with_the_reason_and_publishes_no_model(tmp_path, tiny_model_dir, dispatched):
    from dataclasses import asdict

    from tests.gpu_workers.test_imported_population_on_worker import import_brevity
    from training.methods import vpl

    target, _ = import_brevity(tmp_path)
    config = {**asdict(vpl.Config.tiny()), "learning_rate": 1.0, "steps": 200, "logging_steps": 10}
    run = run_create(target=target, method="vpl", base_model=str(tiny_model_dir), config=config)
    assert execute_run(run.pk, worker="test@here") == "failed"
    run = TrainingRun.objects.get(pk=run.pk)
    assert re.fullmatch(r"The training loss became nan at step \d+: training diverged and nothing was published\. "
                        r"Lower learning_rate \(it was 1\) and start the run again\.", run.error), run.error
    assert not ModelArtifact.objects.filter(run=run).exists() and not model_dir(run.uuid).exists()

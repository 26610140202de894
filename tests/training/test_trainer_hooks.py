"""The callback that reports a transformers Trainer's progress to a run's hooks
(training/methods/common/trainer_hooks.py), driven as the Trainer drives it; no model, no Django."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from tests.support.population_runs import RecordingHooks
from training.methods.common.contract import TrainingDiverged
from training.methods.common.trainer_hooks import reporting_callback


def callback(hooks):
    return reporting_callback(hooks, max_steps=10, progress=(0.2, 0.9), stage="DPO",
                              keys={"loss": "dpo_loss", "rewards/accuracies": "dpo_accuracy"}, step_offset=100)


def test_logged_values_become_metric_points_after_the_offset():
    hooks = RecordingHooks()
    callback(hooks).on_log(SimpleNamespace(learning_rate=5e-6), SimpleNamespace(global_step=4), None,
                           logs={"loss": 0.69, "rewards/accuracies": 0.5, "grad_norm": 1.0})
    assert hooks.points == [(104, {"dpo_loss": 0.69, "dpo_accuracy": 0.5})]


@pytest.mark.parametrize("loss", [float("nan"), float("inf")])
def test_a_loss_that_is_not_a_number_fails_the_run_with_the_step_and_learning_rate(loss):
    hooks = RecordingHooks()
    with pytest.raises(TrainingDiverged, match=r"at step 107: .*Lower learning_rate \(it was 5e-06\)"):
        callback(hooks).on_log(SimpleNamespace(learning_rate=5e-6), SimpleNamespace(global_step=7), None,
                               logs={"loss": loss})
    assert hooks.points == []

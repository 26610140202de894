"""Every method's config carries the launch settings (processes, nnodes): offered in the run form,
checked field by field, stored with the run; processes beyond the GPUs a worker holds are refused
before queueing once the deployment says how many it holds (CHORUS_WORKER_GPUS)."""
from __future__ import annotations

from dataclasses import asdict

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings

from training.configs import (
    CPU_PROCESS_LIMIT,
    Launch,
    config_fields,
    config_validate,
    data_parallel,
    launch_of,
    launch_problem,
)
from training.methods import METHODS
from training.models import TrainingRun
from training.services import runs as run_services


@pytest.mark.parametrize("method", METHODS)
def test_every_method_offers_processes_and_nnodes_after_its_own_settings(method):
    names = [spec.name for spec in config_fields(method)]
    assert names[-2:] == ["processes", "nnodes"]
    assert not {"processes", "nnodes"} & set(asdict(config_validate(method, {"processes": "2", "nnodes": "1"})))


@pytest.mark.parametrize(("given", "field", "says"), [
    ({"processes": -1}, "processes", "at least 0"), ({"nnodes": 0}, "nnodes", "at least 1"),
    ({"processes": "two"}, "processes", "whole number"), ({"nnodes": 17}, "nnodes", "at most 16"),
])
def test_bad_launch_settings_are_refused_by_name(given, field, says):
    with pytest.raises(ValidationError) as refused:
        config_validate("pal", given)
    assert says in refused.value.message_dict[field][0]


def test_the_worker_rule_names_the_setting_and_the_devices():
    assert launch_problem(Launch(processes=2), gpus=2, method="pal") == ""
    assert launch_problem(Launch(processes=0), gpus=0, method="pal") == ""
    assert launch_problem(Launch(processes=3), gpus=2, method="pal").startswith(
        "config.processes is 3, but the worker sees 2 GPUs")
    assert launch_problem(Launch(processes=CPU_PROCESS_LIMIT), gpus=0, method="vpl") == ""
    assert "no GPU" in launch_problem(Launch(processes=CPU_PROCESS_LIMIT + 1), gpus=0, method="salmon")
    assert launch_of({"steps": 5}) == Launch()  # a run stored before the settings existed


@pytest.mark.parametrize("method", ["janus", "progress"])
def test_methods_that_train_in_one_process_refuse_more_and_take_one_by_default(method, monkeypatch):
    from gpu_workers import executor

    assert not data_parallel(method) and all(data_parallel(m) for m in ("pal", "vpl", "salmon"))
    assert launch_problem(Launch(processes=2), gpus=2, method=method) == (
        f"config.processes is 2, but {method} trains in one process on one device (training in several "
        "processes is built for pal, salmon, vpl); set it to 1.")
    assert launch_problem(Launch(nnodes=2), gpus=2, method=method).startswith("config.nnodes is 2, but")
    assert launch_problem(Launch(processes=1), gpus=2, method=method) == ""
    monkeypatch.setattr(executor, "gpu_count", lambda: 4)  # a worker with four GPUs
    assert executor.placement_of(Launch(processes=0), method=method).processes == 1
    assert executor.placement_of(Launch(processes=0), method="pal").processes == 4


@pytest.mark.django_db
def test_runs_store_the_launch_settings_and_refuse_more_processes_than_gpus(toy_target, tiny_model_dir, monkeypatch):
    monkeypatch.setattr(run_services, "_dispatch", lambda run_id, task_id: None)
    salmon = {"max_steps": 5}
    run = run_services.run_create(target=toy_target, method="salmon", base_model=str(tiny_model_dir), config=salmon)
    assert (run.config["processes"], run.config["nnodes"], run.config["max_steps"]) == (0, 1, 5)
    with override_settings(CHORUS_WORKER_GPUS=2), pytest.raises(ValidationError) as refused:
        run_services.run_create(target=toy_target, method="salmon", base_model=str(tiny_model_dir),
                                config={**salmon, "processes": 4})
    assert refused.value.message_dict["config.processes"] == [
        "config.processes is 4, but the worker sees 2 GPUs; choose at most 2, or 0 for all of them."]
    with override_settings(CHORUS_WORKER_GPUS=0), pytest.raises(ValidationError):
        run_services.run_create(target=toy_target, method="salmon", base_model=str(tiny_model_dir),
                                config={**salmon, "processes": CPU_PROCESS_LIMIT + 1})
    with pytest.raises(ValidationError) as refused:  # whatever the devices: Janus trains in one process
        run_services.run_create(target=toy_target, method="janus", base_model=str(tiny_model_dir),
                                config={"processes": 2})
    assert "janus trains in one process" in refused.value.message_dict["config.processes"][0]
    assert TrainingRun.objects.count() == 1

"""Every method's config carries the launch settings (processes, nnodes): offered in the run form,
checked field by field, stored with the run; processes beyond the GPUs a worker holds are refused
before queueing once the deployment says how many it holds (CHORUS_WORKER_GPUS). The TRL methods'
`sharding` (ddp or fsdp) is refused where FSDP cannot run: on a worker without a GPU, in one process."""
from __future__ import annotations

from dataclasses import asdict

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings

from training.configs import (
    CPU_PROCESS_LIMIT,
    Launch,
    LaunchProblem,
    config_fields,
    config_validate,
    launch_of,
    launch_problem,
    method_module,
)
from training.methods import METHODS, janus, pal, progress, salmon
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
    config = pal.Config()
    assert launch_problem(Launch(processes=2), gpus=2, config=config) is None
    assert launch_problem(Launch(processes=0), gpus=0, config=config) is None
    problem = launch_problem(Launch(processes=3), gpus=2, config=config)
    assert problem.setting == "processes" and problem.message.startswith(
        "config.processes is 3, but the worker sees 2 GPUs")
    assert launch_problem(Launch(processes=CPU_PROCESS_LIMIT), gpus=0, config=config) is None
    assert "no GPU" in launch_problem(Launch(processes=CPU_PROCESS_LIMIT + 1), gpus=0, config=salmon.Config()).message
    assert launch_of({"steps": 5}) == Launch()  # a run stored before the settings existed


@pytest.mark.parametrize("method", METHODS)
def test_every_method_trains_in_every_gpu_by_default_and_says_what_processes_do(method, monkeypatch):
    from gpu_workers import executor

    assert method_module(method).DATA_PARALLEL is True
    monkeypatch.setattr(executor, "gpu_count", lambda: 4)  # a worker with four GPUs
    config = method_module(method).Config()
    assert executor.placement_of(Launch(processes=0), config=config).processes == 4
    assert executor.placement_of(Launch(processes=2, nnodes=2), config=config).processes == 2
    helps = {spec.name: spec.help for spec in config_fields(method)}
    assert "0: every GPU the worker sees" in helps["processes"]
    assert ("unless sharding is fsdp" in helps["processes"]) == ("sharding" in helps)


@pytest.mark.parametrize("module", [salmon, janus, progress])
def test_fsdp_is_refused_without_a_gpu_or_with_one_process_naming_sharding(module, monkeypatch):
    from gpu_workers import executor

    fsdp = config_validate(module.__name__.rsplit(".", 1)[1], {"sharding": "fsdp"})
    assert launch_problem(Launch(processes=2), gpus=0, config=fsdp) == LaunchProblem(
        "sharding", "config.sharding is fsdp, but the worker has no GPU: Accelerate shards a model with FSDP on GPUs "
                    "only (on the CPU it would quietly train with DDP); choose ddp.")
    for launch, gpus in ((Launch(processes=1), 8), (Launch(processes=0), 1), (Launch(processes=1), None)):
        assert launch_problem(launch, gpus=gpus, config=fsdp).setting == "sharding"
    assert launch_problem(Launch(processes=0), gpus=None, config=fsdp) is None  # not known before the worker
    assert launch_problem(Launch(processes=1, nnodes=2), gpus=1, config=fsdp) is None
    assert launch_problem(Launch(processes=2), gpus=2, config=fsdp) is None
    monkeypatch.setattr(executor, "gpu_count", lambda: 0)  # the worker refuses it when it starts the run
    with pytest.raises(ValueError, match="^config.sharding is fsdp, but the worker has no GPU"):
        executor.placement_of(Launch(processes=2), config=fsdp)
    with pytest.raises(ValidationError) as refused:
        config_validate("janus", {"sharding": "zero3"})
    assert refused.value.message_dict["sharding"] == ["Choose one of: ddp, fsdp."]


@pytest.mark.django_db
def test_runs_store_the_launch_settings_and_refuse_more_processes_than_gpus(toy_target, tiny_model_dir, monkeypatch):
    monkeypatch.setattr(run_services, "_dispatch", lambda run_id, task_id: None)
    short = {"max_steps": 5}
    run = run_services.run_create(target=toy_target, method="salmon", base_model=str(tiny_model_dir), config=short)
    assert (run.config["processes"], run.config["nnodes"], run.config["max_steps"]) == (0, 1, 5)
    with override_settings(CHORUS_WORKER_GPUS=2), pytest.raises(ValidationError) as refused:
        run_services.run_create(target=toy_target, method="salmon", base_model=str(tiny_model_dir),
                                config={**short, "processes": 4})
    assert refused.value.message_dict["config.processes"] == [
        "config.processes is 4, but the worker sees 2 GPUs; choose at most 2, or 0 for all of them."]
    with override_settings(CHORUS_WORKER_GPUS=0), pytest.raises(ValidationError):
        run_services.run_create(target=toy_target, method="salmon", base_model=str(tiny_model_dir),
                                config={**short, "processes": CPU_PROCESS_LIMIT + 1})
    with override_settings(CHORUS_WORKER_GPUS=0), pytest.raises(ValidationError) as refused:
        run_services.run_create(target=toy_target, method="salmon", base_model=str(tiny_model_dir),
                                config={**short, "processes": 2, "sharding": "fsdp"})
    assert refused.value.message_dict["config.sharding"][0].startswith("config.sharding is fsdp, but the worker has")
    with pytest.raises(ValidationError) as refused:
        run_services.run_create(target=toy_target, method="salmon", base_model=str(tiny_model_dir),
                                config={**short, "sharding": "zero3"})
    assert refused.value.message_dict == {"config.sharding": ["Choose one of: ddp, fsdp."]}
    assert TrainingRun.objects.count() == 1
